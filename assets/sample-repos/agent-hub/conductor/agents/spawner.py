"""The async agent spawner: starts agents as tasks, wires their subscriptions, supervises and restarts them.

Every lifecycle change is published on the bus as ``agent.<state>`` so the worker and the console can follow.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from conductor.agents.base import Agent, AgentContext, AgentState
from conductor.agents.registry import AgentRegistry, default_registry
from conductor.agents.supervisor import RestartPolicy
from conductor.async_utils.ratelimit import ConcurrencyLimiter
from conductor.events.bus import EventBus, Subscription
from conductor.events.models import Event

log = logging.getLogger(__name__)


class SpawnError(Exception):
    pass


@dataclass
class _Slot:
    """Everything the spawner keeps for one named agent across restarts."""

    name: str
    kind: str
    config: dict[str, Any]
    policy: RestartPolicy
    agent: Agent | None = None
    task: asyncio.Task | None = None
    subs: list[Subscription] = field(default_factory=list)
    restarts: int = 0
    stopping: bool = False


class Spawner:
    """Owns the running agents. Use as ``async with Spawner(bus) as spawner: ...`` to stop them all on exit."""

    def __init__(self, bus: EventBus, registry: AgentRegistry | None = None, *, max_agents: int = 64,
                 start_timeout: float = 10.0, skills: dict[str, Any] | None = None):
        self.bus = bus
        self.registry = registry or default_registry()
        self.max_agents = max_agents
        self.start_timeout = start_timeout
        self.skills = skills if skills is not None else {}
        self._slots: dict[str, _Slot] = {}
        self._start_limiter = ConcurrencyLimiter(8)  # cold starts are expensive: do not start 500 at once

    async def __aenter__(self) -> "Spawner":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop_all()

    # -- public API ---------------------------------------------------------------------------------------
    async def spawn(self, kind: str, name: str, config: dict[str, Any] | None = None,
                    policy: RestartPolicy | None = None) -> Agent:
        """Create and start one agent; raises SpawnError when the name is taken or the start fails."""
        if name in self._slots:
            raise SpawnError(f"an agent named {name!r} is already running")
        if len(self._slots) >= self.max_agents:
            raise SpawnError(f"the spawner is full ({self.max_agents} agents)")
        if kind not in self.registry:
            raise SpawnError(f"unknown agent kind {kind!r}")
        slot = _Slot(name=name, kind=kind, config=dict(config or {}), policy=policy or RestartPolicy())
        self._slots[name] = slot
        try:
            await self._start(slot)
        except BaseException:
            self._slots.pop(name, None)
            raise
        return slot.agent

    async def spawn_many(self, specs: list[dict[str, Any]]) -> list[Agent | BaseException]:
        """Spawn several agents concurrently; failures are returned in place, not raised."""
        coros = [self.spawn(s["kind"], s["name"], s.get("config")) for s in specs]
        return await asyncio.gather(*coros, return_exceptions=True)

    async def send(self, name: str, topic: str, **payload: Any) -> Event:
        agent = self.get(name)
        event = Event(topic=topic, payload=payload, source="spawner")
        await agent.send(event)
        return event

    def get(self, name: str) -> Agent:
        slot = self._slots.get(name)
        if slot is None or slot.agent is None:
            raise SpawnError(f"no agent named {name!r}")
        return slot.agent

    def list(self) -> list[dict[str, Any]]:
        return [{**(s.agent.describe() if s.agent else {"name": s.name, "kind": s.kind}), "restarts": s.restarts}
                for s in self._slots.values()]

    async def stop(self, name: str, timeout: float = 5.0) -> None:
        """Stop an agent cleanly: it finishes the message in hand, then `on_stop` runs."""
        slot = self._slots.get(name)
        if slot is None:
            raise SpawnError(f"no agent named {name!r}")
        slot.stopping = True
        await self._teardown(slot, timeout)
        self._slots.pop(name, None)

    async def stop_all(self, timeout: float = 5.0) -> None:
        await asyncio.gather(*(self.stop(name, timeout) for name in list(self._slots)), return_exceptions=True)

    # -- internals ----------------------------------------------------------------------------------------
    async def _start(self, slot: _Slot) -> None:
        ctx = AgentContext(name=slot.name, bus=self.bus, config=slot.config, skills=self.skills,
                           logger=logging.getLogger(f"agent.{slot.name}"))
        agent = self.registry.create(slot.kind, ctx)
        slot.agent = agent
        agent.transition(AgentState.STARTING)
        async with self._start_limiter:
            try:
                await asyncio.wait_for(agent.on_start(), self.start_timeout)
            except Exception as exc:
                agent.error = exc
                agent.transition(AgentState.FAILED)
                await self.bus.emit("agent.failed", source=slot.name, kind=slot.kind, error=repr(exc))
                raise SpawnError(f"{slot.name} failed to start: {exc!r}") from exc
        slot.subs = [self.bus.subscribe(pattern, agent.send, name=f"{slot.name}<-{pattern}")
                     for pattern in agent.subscriptions]
        agent.transition(AgentState.RUNNING)
        slot.task = asyncio.create_task(agent.run(), name=f"agent:{slot.name}")
        slot.task.add_done_callback(lambda task, s=slot: self._on_exit(s, task))
        await self.bus.emit("agent.started", source=slot.name, kind=slot.kind, restarts=slot.restarts)

    def _on_exit(self, slot: _Slot, task: asyncio.Task) -> None:
        if slot.stopping or task.cancelled():
            return
        exc = task.exception()
        if slot.agent is not None and not slot.agent.state.terminal:
            slot.agent.error = exc
            slot.agent.transition(AgentState.FAILED)
        asyncio.get_running_loop().create_task(self._after_failure(slot, exc), name=f"supervise:{slot.name}")

    async def _after_failure(self, slot: _Slot, exc: BaseException | None) -> None:
        await self.bus.emit("agent.failed", source=slot.name, kind=slot.kind, error=repr(exc))
        for sub in slot.subs:
            await self.bus.unsubscribe(sub, drain=False)
        slot.subs = []
        if slot.agent is not None:
            with contextlib.suppress(Exception):
                await slot.agent.on_stop()
        if not slot.policy.should_restart(failed=exc is not None):
            log.warning("%s failed and will not be restarted: %r", slot.name, exc)
            self._slots.pop(slot.name, None)
            await self.bus.emit("agent.given_up", source=slot.name, restarts=slot.restarts)
            return
        await asyncio.sleep(slot.policy.record_restart())
        slot.restarts += 1
        try:
            await self._start(slot)
        except SpawnError as err:
            log.error("restart of %s failed: %s", slot.name, err)
            self._slots.pop(slot.name, None)

    async def _teardown(self, slot: _Slot, timeout: float) -> None:
        agent = slot.agent
        for sub in slot.subs:
            await self.bus.unsubscribe(sub, drain=False)
        slot.subs = []
        if agent is None:
            return
        if agent.state is AgentState.RUNNING:
            agent.transition(AgentState.STOPPING)
        if slot.task is not None and not slot.task.done():
            # let the agent finish what is already in its mailbox, up to the timeout
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(agent.mailbox.join(), timeout)
            slot.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await slot.task
        try:
            await asyncio.wait_for(agent.on_stop(), timeout)
        except Exception as exc:
            agent.error = exc
        if agent.state is AgentState.STOPPING:
            agent.transition(AgentState.STOPPED)
        await self.bus.emit("agent.stopped", source=slot.name, processed=agent.processed)
