"""A bounded, append-only log of events that late subscribers can replay from a sequence number."""
from __future__ import annotations

import bisect
import json
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

from conductor.events.models import Event, topic_matches


class EventLog:
    """Keeps the last `capacity` events in publish order; optionally mirrors them to a JSON-lines file."""

    def __init__(self, capacity: int = 10_000, path: Path | None = None):
        self._events: deque[Event] = deque(maxlen=capacity)
        self._path = path

    async def record(self, event: Event) -> None:
        """Use as a bus handler: ``bus.subscribe("#", log.record)``."""
        self.append(event)

    def append(self, event: Event) -> None:
        self._events.append(event)
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(event.to_dict(), sort_keys=True) + "\n")

    def __len__(self) -> int:
        return len(self._events)

    def since(self, sequence: int, pattern: str = "#") -> list[Event]:
        """Events with a sequence number greater than `sequence`, optionally filtered by topic pattern."""
        keys = [e.sequence for e in self._events]
        start = bisect.bisect_right(keys, sequence)
        return [e for e in list(self._events)[start:] if topic_matches(pattern, e.topic)]

    def trace(self, correlation_id: str) -> list[Event]:
        """Every event of one causal chain: the root and each reply to it."""
        return [e for e in self._events if e.id == correlation_id or e.correlation_id == correlation_id]

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    @classmethod
    def load(cls, path: Path, capacity: int = 10_000) -> "EventLog":
        """Rebuild a log from its JSON-lines mirror, skipping lines that do not parse."""
        log = cls(capacity=capacity, path=None)
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    log.append(Event.from_dict(json.loads(line)))
                except (ValueError, KeyError):
                    continue
        log._path = path
        return log


def topics(events: Iterable[Event]) -> dict[str, int]:
    """How many events per topic, most frequent first."""
    counts: dict[str, int] = {}
    for event in events:
        counts[event.topic] = counts.get(event.topic, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
