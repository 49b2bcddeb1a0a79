"""Composable event filters for subscriptions: by source, by payload field, deduplication within a window and
per-topic throttling. A filter is a predicate on an Event; `filtered` wraps a bus handler with one."""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any, Awaitable, Callable

from conductor.events.models import Event, topic_matches

Predicate = Callable[[Event], bool]
Handler = Callable[[Event], Awaitable[None]]


def from_source(*sources: str) -> Predicate:
    wanted = frozenset(sources)
    return lambda event: event.source in wanted


def not_from(*sources: str) -> Predicate:
    """Drop an agent's own events, so it never reacts to what it published itself."""
    unwanted = frozenset(sources)
    return lambda event: event.source not in unwanted


def topic(pattern: str) -> Predicate:
    return lambda event: topic_matches(pattern, event.topic)


def payload_equals(key: str, value: Any) -> Predicate:
    return lambda event: event.payload.get(key) == value


def payload_has(*keys: str) -> Predicate:
    return lambda event: all(k in event.payload for k in keys)


def all_of(*predicates: Predicate) -> Predicate:
    return lambda event: all(p(event) for p in predicates)


def any_of(*predicates: Predicate) -> Predicate:
    return lambda event: any(p(event) for p in predicates)


def negate(predicate: Predicate) -> Predicate:
    return lambda event: not predicate(event)


class Deduplicator:
    """Passes an event only if no event with the same key was seen in the last `window` seconds."""

    def __init__(self, window: float = 60.0, key: Callable[[Event], Any] | None = None, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.key = key or (lambda event: event.id)
        self.max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[Any, float] = OrderedDict()

    def __call__(self, event: Event) -> bool:
        now = self._clock()
        self._expire(now)
        k = self.key(event)
        if k in self._seen:
            return False
        self._seen[k] = now
        if len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return True

    def _expire(self, now: float) -> None:
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.window:
                break
            del self._seen[oldest]


class Throttle:
    """At most `limit` events per topic in any `period` seconds; the rest are dropped and counted."""

    def __init__(self, limit: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._times: dict[str, deque[float]] = {}
        self.dropped: dict[str, int] = {}

    def __call__(self, event: Event) -> bool:
        now = self._clock()
        times = self._times.setdefault(event.topic, deque())
        while times and now - times[0] >= self.period:
            times.popleft()
        if len(times) >= self.limit:
            self.dropped[event.topic] = self.dropped.get(event.topic, 0) + 1
            return False
        times.append(now)
        return True


def filtered(predicate: Predicate, handler: Handler) -> Handler:
    """A handler that calls `handler` only for events the predicate accepts."""
    async def inner(event: Event) -> None:
        if predicate(event):
            await handler(event)
    inner.__qualname__ = f"filtered({getattr(handler, '__qualname__', 'handler')})"
    return inner
