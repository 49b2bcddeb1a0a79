"""The scheduler: named jobs with a cron schedule, published on the bus as ``schedule.due`` when they fire.

It sleeps until the next due job instead of ticking every second, and skips (and reports) runs it missed while
the worker was down rather than firing them all at once.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from conductor.events.bus import EventBus
from conductor.scheduling.cron import CronSchedule

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class ScheduledJob:
    name: str
    schedule: CronSchedule
    topic: str
    payload: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    next_run: dt.datetime | None = None
    last_run: dt.datetime | None = None
    runs: int = 0
    missed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "cron": self.schedule.expression, "topic": self.topic, "enabled": self.enabled,
                "next_run": self.next_run.isoformat() if self.next_run else None,
                "last_run": self.last_run.isoformat() if self.last_run else None,
                "runs": self.runs, "missed": self.missed}


class Scheduler:
    def __init__(self, bus: EventBus, clock: Clock = utc_now):
        self.bus = bus
        self._clock = clock
        self._jobs: dict[str, ScheduledJob] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def add(self, name: str, cron: str, topic: str, **payload: Any) -> ScheduledJob:
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already scheduled")
        job = ScheduledJob(name, CronSchedule.parse(cron), topic, dict(payload))
        job.next_run = job.schedule.next_after(self._clock())
        self._jobs[name] = job
        self._wake.set()
        return job

    def remove(self, name: str) -> bool:
        removed = self._jobs.pop(name, None) is not None
        self._wake.set()
        return removed

    def pause(self, name: str) -> None:
        self._jobs[name].enabled = False
        self._wake.set()

    def resume(self, name: str) -> None:
        job = self._jobs[name]
        job.enabled = True
        job.next_run = job.schedule.next_after(self._clock())
        self._wake.set()

    def jobs(self) -> list[ScheduledJob]:
        return sorted(self._jobs.values(), key=lambda j: (j.next_run or dt.datetime.max.replace(tzinfo=dt.timezone.utc),
                                                          j.name))

    def due(self, now: dt.datetime) -> list[ScheduledJob]:
        return [j for j in self._jobs.values() if j.enabled and j.next_run is not None and j.next_run <= now]

    async def fire(self, job: ScheduledJob, now: dt.datetime) -> None:
        """Publish one run and move the job to its next time, counting the runs skipped in between."""
        await self.bus.emit(job.topic, source="scheduler", job=job.name, scheduled_for=job.next_run.isoformat(),
                            **job.payload)
        job.runs += 1
        job.last_run = now
        following = job.schedule.next_after(job.next_run)
        while following <= now:
            job.missed += 1
            following = job.schedule.next_after(following)
        if job.missed:
            log.warning("job %s missed %d run(s)", job.name, job.missed)
        job.next_run = following

    def seconds_until_next(self, now: dt.datetime) -> float | None:
        upcoming = [j.next_run for j in self._jobs.values() if j.enabled and j.next_run is not None]
        if not upcoming:
            return None
        return max(0.0, (min(upcoming) - now).total_seconds())

    async def run(self) -> None:
        while True:
            now = self._clock()
            for job in self.due(now):
                await self.fire(job, now)
            wait = self.seconds_until_next(self._clock())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
