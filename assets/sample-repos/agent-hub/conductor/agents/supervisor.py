"""Restart policies for supervised agents, in the spirit of Erlang/OTP supervisors."""
from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, field


class Restart(enum.Enum):
    PERMANENT = "permanent"   # always restart
    TRANSIENT = "transient"   # restart only after a failure, not after a clean stop
    TEMPORARY = "temporary"   # never restart


@dataclass
class RestartPolicy:
    """Restart at most `max_restarts` times within `window` seconds, waiting `delay` * 2**n between tries."""

    restart: Restart = Restart.TRANSIENT
    max_restarts: int = 3
    window: float = 60.0
    delay: float = 0.05
    max_delay: float = 5.0
    _history: deque = field(default_factory=deque, repr=False)

    def should_restart(self, failed: bool, now: float | None = None) -> bool:
        if self.restart is Restart.TEMPORARY:
            return False
        if self.restart is Restart.TRANSIENT and not failed:
            return False
        now = time.monotonic() if now is None else now
        while self._history and now - self._history[0] > self.window:
            self._history.popleft()
        return len(self._history) < self.max_restarts

    def record_restart(self, now: float | None = None) -> float:
        """Note a restart; returns how long to wait before it."""
        self._history.append(time.monotonic() if now is None else now)
        return min(self.max_delay, self.delay * 2 ** (len(self._history) - 1))

    @property
    def recent_restarts(self) -> int:
        return len(self._history)


class Strategy(enum.Enum):
    ONE_FOR_ONE = "one_for_one"    # restart only the agent that failed
    ONE_FOR_ALL = "one_for_all"    # restart every agent of the group
    REST_FOR_ONE = "rest_for_one"  # restart the failed agent and those started after it


def affected(strategy: Strategy, order: list[str], failed: str) -> list[str]:
    """Which agents of a group (in start order) a failure of `failed` restarts."""
    if failed not in order:
        return []
    if strategy is Strategy.ONE_FOR_ONE:
        return [failed]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    return order[order.index(failed):]
