"""An in-process async event bus: topic subscriptions with wildcards, one bounded queue per subscriber.

Each subscriber drains its own queue in its own task, so a slow handler delays only itself. When a queue is
full the bus applies the subscriber's overflow policy instead of blocking the publisher forever.
"""
from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from conductor.events.models import Event, topic_matches

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


class Overflow(enum.Enum):
    BLOCK = "block"          # the publisher waits for room (backpressure)
    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"


@dataclass
class Subscription:
    pattern: str
    handler: Handler
    name: str
    queue: asyncio.Queue[Event]
    overflow: Overflow
    task: asyncio.Task | None = None
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    _closed: bool = field(default=False, repr=False)

    def accepts(self, event: Event) -> bool:
        return not self._closed and topic_matches(self.pattern, event.topic)


class EventBus:
    """Publish events to every subscription whose pattern matches their topic."""

    def __init__(self, default_queue_size: int = 1024):
        self._subs: list[Subscription] = []
        self._default_queue_size = default_queue_size
        self._closed = False

    def subscribe(self, pattern: str, handler: Handler, *, name: str | None = None,
                  queue_size: int | None = None, overflow: Overflow = Overflow.BLOCK) -> Subscription:
        """Register `handler` for topics matching `pattern`; it starts receiving events immediately."""
        if self._closed:
            raise RuntimeError("the bus is closed")
        sub = Subscription(pattern=pattern, handler=handler, name=name or getattr(handler, "__qualname__", "handler"),
                           queue=asyncio.Queue(maxsize=queue_size or self._default_queue_size), overflow=overflow)
        sub.task = asyncio.create_task(self._drain(sub), name=f"bus:{sub.name}")
        self._subs.append(sub)
        return sub

    async def unsubscribe(self, sub: Subscription, *, drain: bool = True) -> None:
        """Stop a subscription; with `drain`, the events already queued are still delivered first."""
        if sub not in self._subs:
            return
        self._subs.remove(sub)
        sub._closed = True
        if drain:
            await sub.queue.join()
        if sub.task is not None:
            sub.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub.task

    async def publish(self, event: Event) -> int:
        """Queue `event` for every matching subscriber; returns how many accepted it."""
        if self._closed:
            raise RuntimeError("the bus is closed")
        accepted = 0
        for sub in list(self._subs):
            if not sub.accepts(event):
                continue
            if await self._offer(sub, event):
                accepted += 1
        return accepted

    async def emit(self, topic: str, source: str = "system", **payload) -> Event:
        """Shortcut: build an event from keyword arguments and publish it."""
        event = Event(topic=topic, payload=payload, source=source)
        await self.publish(event)
        return event

    async def request(self, event: Event, reply_topic: str, timeout: float = 5.0) -> Event:
        """Publish `event` and wait for the first event on `reply_topic` with the same correlation id."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Event] = loop.create_future()
        correlation = event.correlation_id or event.id

        async def on_reply(reply: Event) -> None:
            if reply.correlation_id == correlation and not future.done():
                future.set_result(reply)

        sub = self.subscribe(reply_topic, on_reply, name=f"reply:{correlation[:8]}")
        try:
            await self.publish(event)
            return await asyncio.wait_for(future, timeout)
        finally:
            await self.unsubscribe(sub, drain=False)

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await asyncio.gather(*(sub.queue.join() for sub in list(self._subs)))

    async def close(self) -> None:
        """Deliver what is queued, then stop every subscriber."""
        self._closed = True
        for sub in list(self._subs):
            await self.unsubscribe(sub, drain=True)

    def stats(self) -> list[dict]:
        return [{"name": s.name, "pattern": s.pattern, "queued": s.queue.qsize(), "delivered": s.delivered,
                 "dropped": s.dropped, "failed": s.failed} for s in self._subs]

    async def _offer(self, sub: Subscription, event: Event) -> bool:
        if sub.overflow is Overflow.BLOCK:
            await sub.queue.put(event)
            return True
        try:
            sub.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            if sub.overflow is Overflow.DROP_NEWEST:
                sub.dropped += 1
                return False
            # DROP_OLDEST: make room by discarding the head of the queue
            with contextlib.suppress(asyncio.QueueEmpty):
                sub.queue.get_nowait()
                sub.queue.task_done()
                sub.dropped += 1
            sub.queue.put_nowait(event)
            return True

    async def _drain(self, sub: Subscription) -> None:
        while True:
            event = await sub.queue.get()
            try:
                await sub.handler(event)
                sub.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # a failing handler must not kill the subscription
                sub.failed += 1
                log.exception("handler %s failed on %s", sub.name, event.topic)
            finally:
                sub.queue.task_done()
