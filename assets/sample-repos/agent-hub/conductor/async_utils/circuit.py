"""A circuit breaker for calls to flaky dependencies (model APIs, webhooks, pack registries): after enough
failures in a row it opens and fails fast, then lets one trial call through after a cool-down."""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    def __init__(self, name: str, retry_in: float):
        super().__init__(f"circuit {name!r} is open; retry in {retry_in:.1f}s")
        self.name = name
        self.retry_in = retry_in


@dataclass
class BreakerStats:
    calls: int = 0
    failures: int = 0
    rejected: int = 0
    opened: int = 0


class CircuitBreaker:
    def __init__(self, name: str, *, failure_threshold: int = 5, reset_after: float = 30.0,
                 counted: tuple[type[BaseException], ...] = (Exception,), clock: Callable[[], float] = time.monotonic):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.counted = counted
        self._clock = clock
        self.state = State.CLOSED
        self.consecutive = 0
        self.opened_at = 0.0
        self.stats = BreakerStats()
        self._trial_running = False

    def _refresh(self) -> None:
        if self.state is State.OPEN and self._clock() - self.opened_at >= self.reset_after:
            self.state = State.HALF_OPEN

    def allow(self) -> bool:
        self._refresh()
        if self.state is State.CLOSED:
            return True
        if self.state is State.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self.consecutive = 0
        self._trial_running = False
        self.state = State.CLOSED

    def record_failure(self) -> None:
        self.stats.failures += 1
        self.consecutive += 1
        self._trial_running = False
        if self.state is State.HALF_OPEN or self.consecutive >= self.failure_threshold:
            self.state = State.OPEN
            self.opened_at = self._clock()
            self.stats.opened += 1

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if not self.allow():
            self.stats.rejected += 1
            raise CircuitOpen(self.name, max(0.0, self.reset_after - (self._clock() - self.opened_at)))
        self.stats.calls += 1
        try:
            result = await fn()
        except self.counted:
            self.record_failure()
            raise
        except BaseException:
            self._trial_running = False
            raise
        self.record_success()
        return result

    def describe(self) -> dict:
        self._refresh()
        return {"name": self.name, "state": self.state.value, "consecutive_failures": self.consecutive,
                "calls": self.stats.calls, "failures": self.stats.failures, "rejected": self.stats.rejected,
                "opened": self.stats.opened}


class BreakerBoard:
    """One breaker per dependency name, created on first use with shared settings."""

    def __init__(self, **settings) -> None:
        self.settings = settings
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = CircuitBreaker(name, **self.settings)
        return breaker

    async def call(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self.get(name).call(fn)

    def open_circuits(self) -> list[str]:
        return sorted(n for n, b in self._breakers.items() if b.describe()["state"] != "closed")
