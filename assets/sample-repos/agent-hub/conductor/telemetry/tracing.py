"""Spans for the event chains the bus carries: a trace per correlation id, spans per agent step, tool call or
job, exported as JSON lines that the console renders as a waterfall."""
from __future__ import annotations

import contextlib
import contextvars
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from conductor.events.models import Event

_current: contextvars.ContextVar["Span | None"] = contextvars.ContextVar("current_span", default=None)


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    parent_id: str | None = None
    start: float = field(default_factory=time.time)
    end: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"

    @property
    def duration_ms(self) -> float | None:
        return None if self.end is None else round((self.end - self.start) * 1000, 3)

    def set(self, **attributes: Any) -> None:
        self.attributes.update(attributes)

    def fail(self, error: BaseException) -> None:
        self.status = "error"
        self.attributes["error"] = f"{type(error).__name__}: {error}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "trace_id": self.trace_id, "span_id": self.span_id, "parent_id": self.parent_id,
                "start": self.start, "duration_ms": self.duration_ms, "status": self.status,
                "attributes": self.attributes}


class Tracer:
    """Collects finished spans in memory (bounded) and optionally appends them to a JSON-lines file."""

    def __init__(self, path: Path | None = None, capacity: int = 5000):
        self.path = path
        self.capacity = capacity
        self.finished: list[Span] = []

    @contextlib.contextmanager
    def span(self, name: str, *, trace_id: str | None = None, **attributes: Any) -> Iterator[Span]:
        parent = _current.get()
        span = Span(name, trace_id or (parent.trace_id if parent else uuid.uuid4().hex),
                    parent_id=parent.span_id if parent else None, attributes=dict(attributes))
        token = _current.set(span)
        try:
            yield span
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            span.end = time.time()
            _current.reset(token)
            self._finish(span)

    def for_event(self, event: Event, name: str | None = None):
        """A span in the trace of the event's chain (its correlation id, or its own id if it starts one)."""
        return self.span(name or event.topic, trace_id=event.correlation_id or event.id, topic=event.topic,
                         source=event.source, event_id=event.id)

    def _finish(self, span: Span) -> None:
        self.finished.append(span)
        if len(self.finished) > self.capacity:
            del self.finished[: len(self.finished) - self.capacity]
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(span.to_dict()) + "\n")

    def trace(self, trace_id: str) -> list[Span]:
        return sorted((s for s in self.finished if s.trace_id == trace_id), key=lambda s: s.start)

    def slowest(self, n: int = 10) -> list[Span]:
        return sorted((s for s in self.finished if s.end is not None), key=lambda s: -(s.end - s.start))[:n]


def current_span() -> Span | None:
    return _current.get()


def waterfall(spans: list[Span], width: int = 60) -> str:
    """A text rendering of one trace: each span as a bar placed on the trace's time axis."""
    if not spans:
        return ""
    start = min(s.start for s in spans)
    end = max((s.end or s.start) for s in spans)
    total = max(end - start, 1e-9)
    depth: dict[str, int] = {}
    lines = []
    for span in sorted(spans, key=lambda s: s.start):
        level = depth.get(span.parent_id, -1) + 1 if span.parent_id else 0
        depth[span.span_id] = level
        left = int((span.start - start) / total * width)
        size = max(1, int(((span.end or span.start) - span.start) / total * width))
        bar = " " * left + ("#" if span.status == "ok" else "!") * size
        lines.append(f"{'  ' * level}{span.name:<24.24} |{bar:<{width}}| {span.duration_ms or 0:.1f} ms")
    return "\n".join(lines)
