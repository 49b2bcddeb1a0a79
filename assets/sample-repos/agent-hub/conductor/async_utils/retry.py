"""Retrying coroutines with exponential backoff and full jitter (the AWS architecture blog's variant)."""
from __future__ import annotations

import asyncio
import functools
import logging
import random
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    base: float = 0.1
    factor: float = 2.0
    cap: float = 10.0
    jitter: bool = True

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * self.factor ** (attempt - 1))
        if not self.jitter:
            return ceiling
        return (rng or random).uniform(0, ceiling)


class RetryError(Exception):
    def __init__(self, attempts: int, last: BaseException):
        super().__init__(f"gave up after {attempts} attempts: {last!r}")
        self.attempts = attempts
        self.last = last


async def retry(fn: Callable[[], Awaitable[T]], *, attempts: int = 5, backoff: Backoff = Backoff(),
                retry_on: tuple[type[BaseException], ...] = (Exception,),
                on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """Call `fn` until it succeeds or `attempts` calls have failed with an exception in `retry_on`."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except retry_on as exc:
            if attempt == attempts:
                raise RetryError(attempt, exc) from exc
            wait = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            else:
                log.debug("attempt %d failed (%r); retrying in %.2fs", attempt, exc, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def retrying(**options):
    """Decorator form of :func:`retry` for coroutine functions."""
    def wrap(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def inner(*args, **kwargs) -> T:
            return await retry(lambda: fn(*args, **kwargs), **options)
        return inner
    return wrap
