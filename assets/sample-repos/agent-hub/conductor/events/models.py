"""Events are immutable facts with a dotted topic, a payload and enough metadata to trace them."""
from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

_sequence = itertools.count(1)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. `topic` is dotted (``agent.started``, ``pack.installed.web-search``)."""

    topic: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    source: str = "system"
    id: str = field(default_factory=_new_id)
    correlation_id: str | None = None
    timestamp: float = field(default_factory=time.time)
    sequence: int = field(default_factory=lambda: next(_sequence))

    def __post_init__(self) -> None:
        validate_topic(self.topic)

    def reply(self, topic: str, payload: Mapping[str, Any] | None = None, source: str | None = None) -> "Event":
        """An event caused by this one: it carries the same correlation id so a trace can follow the chain."""
        return Event(topic=topic, payload=payload or {}, source=source or self.source,
                     correlation_id=self.correlation_id or self.id)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "payload": dict(self.payload), "source": self.source,
                "correlation_id": self.correlation_id, "timestamp": self.timestamp, "sequence": self.sequence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Event":
        return cls(topic=data["topic"], payload=data.get("payload", {}), source=data.get("source", "system"),
                   id=data.get("id") or _new_id(), correlation_id=data.get("correlation_id"),
                   timestamp=float(data.get("timestamp", time.time())),
                   sequence=int(data.get("sequence", next(_sequence))))


def validate_topic(topic: str) -> None:
    """Topics are non-empty dotted words; wildcards belong to subscriptions, never to published events."""
    if not topic or topic.startswith(".") or topic.endswith(".") or ".." in topic:
        raise ValueError(f"invalid topic {topic!r}")
    if "*" in topic or "#" in topic:
        raise ValueError(f"wildcards are for subscriptions, not events: {topic!r}")


def topic_matches(pattern: str, topic: str) -> bool:
    """AMQP-style matching: ``*`` matches one segment, ``#`` matches zero or more segments.

    >>> topic_matches("agent.*", "agent.started")
    True
    >>> topic_matches("agent.#", "agent.pack.installed")
    True
    >>> topic_matches("agent.*", "agent.pack.installed")
    False
    """
    return _match(pattern.split("."), topic.split("."))


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # '#' may swallow any number of segments, including none
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    if not parts:
        return False
    if head == "*" or head == parts[0]:
        return _match(rest, parts[1:])
    return False
