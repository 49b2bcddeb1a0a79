"""The worker's health report: liveness (the event loop answers), readiness (the bus, the spawner and the job
queue are usable) and the details an operator looks at first when something is slow."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

Check = Callable[[], Awaitable[tuple[bool, str]]]


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "duration_ms": round(self.duration_ms, 1)}


@dataclass
class HealthReport:
    checks: list[CheckResult] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "uptime_s": round(time.time() - self.started, 1),
                "checks": [c.to_dict() for c in self.checks]}


class HealthChecker:
    def __init__(self, timeout: float = 2.0):
        self.timeout = timeout
        self._checks: dict[str, Check] = {}
        self.started = time.time()

    def register(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def _run_one(self, name: str, check: Check) -> CheckResult:
        start = time.perf_counter()
        try:
            ok, detail = await asyncio.wait_for(check(), timeout=self.timeout)
        except asyncio.TimeoutError:
            ok, detail = False, f"no answer within {self.timeout:.1f}s"
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return CheckResult(name, ok, detail, (time.perf_counter() - start) * 1000)

    async def report(self) -> HealthReport:
        results = await asyncio.gather(*(self._run_one(n, c) for n, c in sorted(self._checks.items())))
        return HealthReport(list(results), self.started)


async def loop_lag(samples: int = 5, interval: float = 0.01) -> float:
    """How late the event loop wakes a sleeper, in milliseconds (the worst of a few samples)."""
    worst = 0.0
    for _ in range(samples):
        start = time.perf_counter()
        await asyncio.sleep(interval)
        worst = max(worst, (time.perf_counter() - start - interval) * 1000)
    return worst


def spawner_check(spawner) -> Check:
    async def check() -> tuple[bool, str]:
        agents = spawner.list()
        failed = [a["name"] for a in agents if a["state"] == "failed"]
        detail = f"{len(agents)} agents" + (f", failed: {', '.join(failed)}" if failed else "")
        return len(agents) < spawner.max_agents, detail
    return check


def queue_check(queue, high_water: float = 0.9) -> Check:
    async def check() -> tuple[bool, str]:
        queued = len([j for j in queue.list() if j.status.value == "queued"])
        share = queued / max(1, queue._queue.maxsize)
        return share < high_water, f"{queued} queued ({share:.0%} of capacity)"
    return check


def lag_check(limit_ms: float = 200.0) -> Check:
    async def check() -> tuple[bool, str]:
        lag = await loop_lag()
        return lag < limit_ms, f"event loop lag {lag:.1f} ms"
    return check
