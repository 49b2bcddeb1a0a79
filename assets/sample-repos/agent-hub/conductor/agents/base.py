"""The Agent base class: a long-lived coroutine with a mailbox, a lifecycle and access to the bus."""
from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conductor.events.models import Event

if TYPE_CHECKING:
    from conductor.events.bus import EventBus


class AgentState(enum.Enum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (AgentState.STOPPED, AgentState.FAILED)


_ALLOWED = {
    AgentState.CREATED: {AgentState.STARTING},
    AgentState.STARTING: {AgentState.RUNNING, AgentState.FAILED, AgentState.STOPPING},
    AgentState.RUNNING: {AgentState.STOPPING, AgentState.FAILED},
    AgentState.STOPPING: {AgentState.STOPPED, AgentState.FAILED},
    AgentState.STOPPED: set(),
    AgentState.FAILED: set(),
}


@dataclass
class AgentContext:
    """What an agent gets from the spawner: its name, the bus, its configuration and the skills from packs."""

    name: str
    bus: "EventBus"
    config: dict[str, Any] = field(default_factory=dict)
    skills: dict[str, Any] = field(default_factory=dict)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("agent"))

    async def emit(self, topic: str, **payload: Any) -> Event:
        return await self.bus.emit(topic, source=self.name, **payload)


class Agent:
    """Subclass and override :meth:`handle` (one message) and optionally :meth:`on_start` / :meth:`on_stop`.

    Messages arrive in the agent's mailbox, from the spawner (``send``) or from bus topics listed in
    ``subscriptions``. The agent processes them one at a time, in order.
    """

    kind: str = "agent"
    subscriptions: tuple[str, ...] = ()
    mailbox_size: int = 256

    def __init__(self, ctx: AgentContext):
        self.ctx = ctx
        self.state = AgentState.CREATED
        self.mailbox: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.mailbox_size)
        self.processed = 0
        self.error: BaseException | None = None

    @property
    def name(self) -> str:
        return self.ctx.name

    def transition(self, new: AgentState) -> None:
        if new not in _ALLOWED[self.state]:
            raise RuntimeError(f"{self.name}: illegal transition {self.state.value} -> {new.value}")
        self.state = new

    async def on_start(self) -> None:
        """Acquire resources. Raising here fails the start and the spawner may retry."""

    async def on_stop(self) -> None:
        """Release resources. Called once, also after a failure."""

    async def handle(self, event: Event) -> None:
        raise NotImplementedError

    async def send(self, event: Event) -> None:
        await self.mailbox.put(event)

    async def run(self) -> None:
        """The agent's main loop; the spawner runs it as a task and cancels it to stop the agent."""
        while True:
            event = await self.mailbox.get()
            try:
                await self.handle(event)
                self.processed += 1
            finally:
                self.mailbox.task_done()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "state": self.state.value, "processed": self.processed,
                "queued": self.mailbox.qsize(), "error": repr(self.error) if self.error else None}


class EchoAgent(Agent):
    """Replies to every ``echo.request`` with ``echo.reply`` carrying the same payload."""

    kind = "echo"
    subscriptions = ("echo.request",)

    async def handle(self, event: Event) -> None:
        await self.ctx.bus.publish(event.reply("echo.reply", event.payload, source=self.name))
