"""Deadlines that travel through a call tree: each step gets what is left, not a fresh timeout."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, TypeVar

T = TypeVar("T")


class DeadlineExceeded(asyncio.TimeoutError):
    pass


class Deadline:
    """An absolute point on the monotonic clock."""

    def __init__(self, seconds: float | None):
        self._at = None if seconds is None else time.monotonic() + seconds

    @property
    def remaining(self) -> float | None:
        if self._at is None:
            return None
        return max(0.0, self._at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._at is not None and time.monotonic() >= self._at

    def child(self, seconds: float | None) -> "Deadline":
        """A deadline that is the earlier of this one and `seconds` from now."""
        left = self.remaining
        if seconds is None:
            return Deadline(left)
        return Deadline(seconds if left is None else min(seconds, left))

    async def run(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` within what is left of the deadline."""
        if self.expired:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise DeadlineExceeded("deadline already passed")
        try:
            return await asyncio.wait_for(awaitable, self.remaining)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(f"deadline exceeded") from None


async def first_completed(*aws: Awaitable[T], timeout: float | None = None) -> T:
    """The result of whichever awaitable finishes first; the others are cancelled."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise DeadlineExceeded(f"nothing finished within {timeout}s")
        return done.pop().result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
