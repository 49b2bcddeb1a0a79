"""Handing a task from one agent to another: the sender packs its context into a ``handoff.offer``, the receiver
accepts or declines, and the task's history travels with it so the next agent does not start from nothing."""
from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from conductor.agents.base import Agent, AgentContext
from conductor.events.models import Event


class HandoffDeclined(Exception):
    def __init__(self, task_id: str, receiver: str, reason: str):
        super().__init__(f"{receiver} declined task {task_id}: {reason}")
        self.task_id, self.receiver, self.reason = task_id, receiver, reason


@dataclass
class Task:
    goal: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    history: list[dict[str, Any]] = field(default_factory=list)
    owner: str | None = None
    created: float = field(default_factory=time.time)

    def note(self, agent: str, text: str) -> None:
        self.history.append({"agent": agent, "text": text, "at": time.time()})

    def to_payload(self) -> dict[str, Any]:
        return {"task": self.id, "goal": self.goal, "history": list(self.history), "owner": self.owner}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Task":
        return cls(goal=str(payload["goal"]), id=str(payload["task"]), history=list(payload.get("history") or []),
                   owner=payload.get("owner"))


async def offer(ctx: AgentContext, task: Task, receiver_topic: str, timeout: float = 10.0) -> Task:
    """Offer a task to whoever listens on `receiver_topic`; returns the task as the receiver accepted it."""
    task.note(ctx.name, f"handing off to {receiver_topic}")
    request = Event(topic=receiver_topic, payload=task.to_payload(), source=ctx.name)
    reply = await ctx.bus.request(request, f"{receiver_topic}.reply", timeout=timeout)
    if not reply.payload.get("accepted"):
        raise HandoffDeclined(task.id, reply.source, str(reply.payload.get("reason", "no reason given")))
    accepted = Task.from_payload(reply.payload)
    accepted.owner = reply.source
    return accepted


class HandoffReceiver(Agent):
    """Accepts tasks offered on its topic while it has capacity; subclasses override :meth:`work`."""

    kind = "handoff-receiver"
    capacity = 4

    def __init__(self, ctx: AgentContext):
        super().__init__(ctx)
        self.topic = ctx.config.get("topic", f"handoff.{ctx.name}")
        self.subscriptions = (self.topic,)
        self.active: dict[str, asyncio.Task] = {}

    def accepts(self, task: Task) -> tuple[bool, str]:
        if len(self.active) >= self.capacity:
            return False, "at capacity"
        if not task.goal.strip():
            return False, "empty goal"
        return True, ""

    async def handle(self, event: Event) -> None:
        task = Task.from_payload(dict(event.payload))
        ok, reason = self.accepts(task)
        if not ok:
            await self.ctx.bus.publish(event.reply(f"{self.topic}.reply", {"accepted": False, "reason": reason},
                                                   source=self.name))
            return
        task.owner = self.name
        task.note(self.name, "accepted")
        await self.ctx.bus.publish(event.reply(f"{self.topic}.reply", {"accepted": True, **task.to_payload()},
                                               source=self.name))
        self.active[task.id] = asyncio.create_task(self._run(task), name=f"task:{task.id}")

    async def _run(self, task: Task) -> None:
        try:
            result = await self.work(task)
            await self.ctx.emit("task.finished", task=task.id, result=result)
        except Exception as exc:
            await self.ctx.emit("task.failed", task=task.id, error=f"{type(exc).__name__}: {exc}")
        finally:
            self.active.pop(task.id, None)

    async def work(self, task: Task) -> Any:
        raise NotImplementedError
