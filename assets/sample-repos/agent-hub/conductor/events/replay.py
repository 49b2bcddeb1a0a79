"""Replaying the event log to late subscribers: cursors that remember where a consumer stopped, and a replayer
that feeds history first and then live events without a gap or a duplicate."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from conductor.events.bus import EventBus
from conductor.events.models import Event, topic_matches
from conductor.events.store import EventLog

Handler = Callable[[Event], Awaitable[None]]


@dataclass
class Cursor:
    consumer: str
    sequence: int = 0

    def advance(self, event: Event) -> bool:
        """Move past `event`; False when it was already seen (an older or equal sequence)."""
        if event.sequence <= self.sequence:
            return False
        self.sequence = event.sequence
        return True


class CursorStore:
    """Cursors persisted as one small JSON file, written atomically (temp file + rename)."""

    def __init__(self, path: Path):
        self.path = path
        self._cursors: dict[str, int] = {}
        if path.exists():
            self._cursors = {k: int(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}

    def get(self, consumer: str) -> Cursor:
        return Cursor(consumer, self._cursors.get(consumer, 0))

    def save(self, cursor: Cursor) -> None:
        self._cursors[cursor.consumer] = cursor.sequence
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._cursors, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    def forget(self, consumer: str) -> None:
        if self._cursors.pop(consumer, None) is not None:
            self.path.write_text(json.dumps(self._cursors, sort_keys=True), encoding="utf-8")


class Replayer:
    """Deliver the log's events after the cursor, then the live ones, in sequence order, each exactly once."""

    def __init__(self, bus: EventBus, log: EventLog, store: CursorStore | None = None, *, save_every: int = 100):
        self.bus = bus
        self.log = log
        self.store = store
        self.save_every = save_every

    async def follow(self, consumer: str, pattern: str, handler: Handler, stop: asyncio.Event) -> Cursor:
        cursor = self.store.get(consumer) if self.store else Cursor(consumer)
        live: asyncio.Queue[Event] = asyncio.Queue()

        async def buffer(event: Event) -> None:
            await live.put(event)

        sub = self.bus.subscribe(pattern, buffer, name=f"replay:{consumer}")  # subscribe first: no gap
        delivered = 0
        try:
            for event in self.log.since(cursor.sequence, pattern):
                if cursor.advance(event):
                    await handler(event)
                    delivered = self._maybe_save(cursor, delivered + 1)
            while not stop.is_set():
                try:
                    event = await asyncio.wait_for(live.get(), timeout=0.25)
                except asyncio.TimeoutError:
                    continue
                if topic_matches(pattern, event.topic) and cursor.advance(event):
                    await handler(event)
                    delivered = self._maybe_save(cursor, delivered + 1)
        finally:
            await self.bus.unsubscribe(sub, drain=False)
            if self.store:
                self.store.save(cursor)
        return cursor

    def _maybe_save(self, cursor: Cursor, delivered: int) -> int:
        if self.store and delivered % self.save_every == 0:
            self.store.save(cursor)
        return delivered


async def replay_into(bus: EventBus, log: EventLog, pattern: str = "#", since: int = 0) -> int:
    """Publish the stored events again (for a fresh bus after a restart); returns how many."""
    count = 0
    for event in log.since(since, pattern):
        await bus.publish(event)
        count += 1
    return count
