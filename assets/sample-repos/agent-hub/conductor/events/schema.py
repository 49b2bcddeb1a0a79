"""Payload schemas per topic: the bus can check that what an agent publishes has the fields its consumers read,
so a renamed field fails at the publisher, in a test, instead of silently at every subscriber."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from conductor.events.models import Event, topic_matches

_TYPE_NAMES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict,
               "any": object}


class SchemaViolation(ValueError):
    def __init__(self, topic: str, problems: list[str]):
        super().__init__(f"{topic}: " + "; ".join(problems))
        self.topic = topic
        self.problems = problems


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "any"
    required: bool = True

    def problems(self, payload: Mapping[str, Any]) -> list[str]:
        if self.name not in payload:
            return [f"missing field {self.name!r}"] if self.required else []
        value = payload[self.name]
        expected = _TYPE_NAMES[self.type]
        if self.type == "int" and isinstance(value, bool):
            return [f"{self.name} must be int, got bool"]
        if value is not None and not isinstance(value, expected):
            return [f"{self.name} must be {self.type}, got {type(value).__name__}"]
        return []


@dataclass(frozen=True)
class TopicSchema:
    pattern: str
    fields: tuple[Field, ...] = ()
    allow_extra: bool = True

    def validate(self, event: Event) -> list[str]:
        problems = [p for f in self.fields for p in f.problems(event.payload)]
        if not self.allow_extra:
            extra = sorted(set(event.payload) - {f.name for f in self.fields})
            if extra:
                problems.append(f"unexpected fields {extra}")
        return problems


def parse_fields(spec: str) -> tuple[Field, ...]:
    """``"agent:str, restarts:int, error?:str"`` -> fields (a trailing ? marks an optional one)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, kind = part.partition(":")
        optional = name.endswith("?")
        name = name.rstrip("?")
        kind = kind.strip() or "any"
        if kind not in _TYPE_NAMES:
            raise ValueError(f"unknown field type {kind!r} in {spec!r}")
        out.append(Field(name.strip(), kind, not optional))
    return tuple(out)


@dataclass
class SchemaRegistry:
    schemas: list[TopicSchema] = field(default_factory=list)

    def register(self, pattern: str, spec: str = "", *, allow_extra: bool = True) -> TopicSchema:
        schema = TopicSchema(pattern, parse_fields(spec), allow_extra)
        self.schemas.append(schema)
        return schema

    def matching(self, topic: str) -> list[TopicSchema]:
        return [s for s in self.schemas if topic_matches(s.pattern, topic)]

    def check(self, event: Event) -> None:
        problems = [p for s in self.matching(event.topic) for p in s.validate(event)]
        if problems:
            raise SchemaViolation(event.topic, problems)

    def describe(self) -> list[dict[str, Any]]:
        return [{"pattern": s.pattern, "fields": [{"name": f.name, "type": f.type, "required": f.required}
                                                  for f in s.fields]} for s in self.schemas]


def default_schemas() -> SchemaRegistry:
    """The topics the worker and the console depend on."""
    registry = SchemaRegistry()
    registry.register("agent.*", "agent?:str")
    registry.register("agent.unresponsive", "agent:str, silent_for:float")
    registry.register("tool.called", "tool:str, arguments:dict, duration_ms?:float")
    registry.register("tool.failed", "tool:str, error:str")
    registry.register("plan.step", "id:str, action:str, status:str, attempts:int")
    registry.register("chat.reply", "conversation:str, text:str")
    registry.register("schedule.due", "job:str, scheduled_for:str")
    return registry
