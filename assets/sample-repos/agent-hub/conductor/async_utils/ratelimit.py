"""A token bucket for asyncio: `await bucket.acquire()` waits until a token is free."""
from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: int = 1, clock=time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self, tokens: float = 1.0) -> bool:
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

    async def acquire(self, tokens: float = 1.0) -> None:
        if tokens > self.burst:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.burst}")
        async with self._lock:  # first come, first served
            while not self.try_acquire(tokens):
                await asyncio.sleep((tokens - self._tokens) / self.rate)

    async def __aenter__(self) -> "TokenBucket":
        await self.acquire()
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class ConcurrencyLimiter:
    """A semaphore that also counts how many callers are waiting, for metrics."""

    def __init__(self, limit: int):
        self._sem = asyncio.Semaphore(limit)
        self.limit = limit
        self.active = 0
        self.waiting = 0

    async def __aenter__(self) -> "ConcurrencyLimiter":
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        return self

    async def __aexit__(self, *exc) -> None:
        self.active -= 1
        self._sem.release()
