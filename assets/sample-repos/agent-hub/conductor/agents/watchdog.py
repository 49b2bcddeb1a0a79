"""Heartbeats and the watchdog agent: every agent may publish ``agent.heartbeat``; the watchdog notices the ones
that went quiet and asks the spawner to restart them."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

from conductor.agents.base import Agent, AgentContext
from conductor.events.models import Event


@dataclass
class Beat:
    agent: str
    last: float
    interval: float
    missed_reported: bool = False

    def overdue(self, now: float, tolerance: float) -> bool:
        return now - self.last > self.interval * tolerance


class Heartbeat:
    """Publishes ``agent.heartbeat`` for one agent every `interval` seconds while running."""

    def __init__(self, ctx: AgentContext, interval: float = 5.0):
        self.ctx = ctx
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        while True:
            await self.ctx.emit("agent.heartbeat", interval=self.interval)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beat(), name=f"heartbeat:{self.ctx.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


class WatchdogAgent(Agent):
    """Tracks heartbeats; publishes ``agent.unresponsive`` once per silence and ``agent.recovered`` after."""

    kind = "watchdog"
    subscriptions = ("agent.heartbeat", "agent.stopped")
    tolerance = 3.0

    def __init__(self, ctx: AgentContext, clock: Callable[[], float] = time.monotonic):
        super().__init__(ctx)
        self.beats: dict[str, Beat] = {}
        self._clock = clock
        self._checker: asyncio.Task | None = None

    async def on_start(self) -> None:
        self._checker = asyncio.create_task(self._check_forever(), name="watchdog-check")

    async def on_stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()

    async def handle(self, event: Event) -> None:
        if event.topic == "agent.stopped":
            self.beats.pop(event.source, None)
            return
        interval = float(event.payload.get("interval", 5.0))
        beat = self.beats.get(event.source)
        if beat is None:
            self.beats[event.source] = Beat(event.source, self._clock(), interval)
            return
        if beat.missed_reported:
            await self.ctx.emit("agent.recovered", agent=event.source)
        beat.last, beat.interval, beat.missed_reported = self._clock(), interval, False

    async def check(self) -> list[str]:
        """Report every agent whose heartbeat is overdue (once until it beats again)."""
        now = self._clock()
        reported = []
        for beat in self.beats.values():
            if beat.overdue(now, self.tolerance) and not beat.missed_reported:
                beat.missed_reported = True
                reported.append(beat.agent)
                await self.ctx.emit("agent.unresponsive", agent=beat.agent, silent_for=round(now - beat.last, 1))
        return reported

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self.check()
