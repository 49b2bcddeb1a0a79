"""Topic routing tables: rules that map an incoming topic (and optionally a payload field) to the topics it is
forwarded to, loaded from a plain list so operators can rewire agents without code changes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from conductor.events.bus import EventBus, Subscription
from conductor.events.models import Event, topic_matches


class RoutingError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    pattern: str
    targets: tuple[str, ...]
    when_field: str | None = None
    when_value: Any = None
    stop: bool = True

    def applies(self, event: Event) -> bool:
        if not topic_matches(self.pattern, event.topic):
            return False
        if self.when_field is not None and event.payload.get(self.when_field) != self.when_value:
            return False
        return True


def parse_rules(rows: Iterable[dict[str, Any]]) -> list[Rule]:
    rules = []
    for i, row in enumerate(rows):
        pattern = row.get("match")
        targets = row.get("to")
        if not isinstance(pattern, str) or not pattern:
            raise RoutingError(f"rule {i}: 'match' must be a topic pattern")
        if isinstance(targets, str):
            targets = [targets]
        if not targets or not all(isinstance(t, str) and "*" not in t and "#" not in t for t in targets):
            raise RoutingError(f"rule {i}: 'to' must name one or more concrete topics")
        when = row.get("when") or {}
        if len(when) > 1:
            raise RoutingError(f"rule {i}: 'when' takes a single field")
        field_name, value = next(iter(when.items())) if when else (None, None)
        rules.append(Rule(pattern, tuple(targets), field_name, value, bool(row.get("stop", True))))
    return rules


class Router:
    """Forwards each event to the targets of the rules it matches, in order, until a rule says stop."""

    def __init__(self, bus: EventBus, rules: list[Rule]):
        self.bus = bus
        self.rules = rules
        self.forwarded = 0
        self.unrouted = 0
        self._sub: Subscription | None = None

    def targets(self, event: Event) -> list[str]:
        out: list[str] = []
        for rule in self.rules:
            if rule.applies(event):
                out.extend(t for t in rule.targets if t not in out and t != event.topic)
                if rule.stop:
                    break
        return out

    async def route(self, event: Event) -> int:
        targets = self.targets(event)
        if not targets:
            self.unrouted += 1
            return 0
        for topic in targets:
            await self.bus.publish(event.reply(topic, dict(event.payload), source="router"))
        self.forwarded += len(targets)
        return len(targets)

    def attach(self, pattern: str = "#") -> Subscription:
        self._sub = self.bus.subscribe(pattern, self.route, name="router")
        return self._sub
