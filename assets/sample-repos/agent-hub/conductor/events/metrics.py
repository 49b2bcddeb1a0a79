"""Counters and latency histograms per topic, fed by a bus subscription; what the worker's /metrics serves."""
from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field
from typing import Iterable

from conductor.events.bus import EventBus, Subscription
from conductor.events.models import Event

BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = BUCKETS_MS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        if list(self.buckets) != sorted(self.buckets):
            raise ValueError("histogram buckets must be increasing")
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def quantile(self, q: float) -> float:
        """The upper edge of the bucket holding the q-quantile (an upper bound, as Prometheus reports it)."""
        if not 0 <= q <= 1:
            raise ValueError("q must be within [0, 1]")
        if self.n == 0:
            return math.nan
        target = q * self.n
        seen = 0
        for edge, count in zip(list(self.buckets) + [math.inf], self.counts):
            seen += count
            if seen >= target:
                return edge
        return math.inf

    def merge(self, other: "Histogram") -> "Histogram":
        if other.buckets != self.buckets:
            raise ValueError("cannot merge histograms with different buckets")
        return Histogram(self.buckets, [a + b for a, b in zip(self.counts, other.counts)],
                         self.total + other.total, self.n + other.n)


class TopicMetrics:
    """Counts events per topic and, for replies, the time since the event they answer."""

    def __init__(self, clock=time.time):
        self.counts: dict[str, int] = {}
        self.latency: dict[str, Histogram] = {}
        self._pending: dict[str, float] = {}
        self._clock = clock
        self._sub: Subscription | None = None

    async def observe(self, event: Event) -> None:
        self.counts[event.topic] = self.counts.get(event.topic, 0) + 1
        if event.correlation_id is None:
            self._pending[event.id] = event.timestamp
            if len(self._pending) > 50_000:
                self._pending.pop(next(iter(self._pending)))
            return
        started = self._pending.get(event.correlation_id)
        if started is not None:
            hist = self.latency.setdefault(event.topic, Histogram())
            hist.observe(max(0.0, (event.timestamp - started) * 1000))

    def attach(self, bus: EventBus, pattern: str = "#") -> Subscription:
        self._sub = bus.subscribe(pattern, self.observe, name="metrics", queue_size=10_000)
        return self._sub

    async def detach(self, bus: EventBus) -> None:
        if self._sub is not None:
            await bus.unsubscribe(self._sub, drain=False)
            self._sub = None

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def render(self) -> str:
        """Prometheus text exposition of the counters and latency histograms."""
        lines = ["# TYPE conductor_events_total counter"]
        for name, count in sorted(self.counts.items()):
            lines.append(f'conductor_events_total{{topic="{name}"}} {count}')
        lines.append("# TYPE conductor_reply_latency_ms histogram")
        for name, hist in sorted(self.latency.items()):
            running = 0
            for edge, count in zip(list(hist.buckets) + ["+Inf"], hist.counts):
                running += count
                lines.append(f'conductor_reply_latency_ms_bucket{{topic="{name}",le="{edge}"}} {running}')
            lines.append(f'conductor_reply_latency_ms_sum{{topic="{name}"}} {hist.total:.3f}')
            lines.append(f'conductor_reply_latency_ms_count{{topic="{name}"}} {hist.n}')
        return "\n".join(lines) + "\n"


def summarize(events: Iterable[Event]) -> dict[str, dict[str, float]]:
    """Per source: events published and the share of them that were failures (topics ending in .failed)."""
    out: dict[str, dict[str, float]] = {}
    for event in events:
        row = out.setdefault(event.source, {"events": 0, "failed": 0})
        row["events"] += 1
        row["failed"] += event.topic.endswith(".failed")
    for row in out.values():
        row["failure_rate"] = row["failed"] / row["events"] if row["events"] else 0.0
    return out
