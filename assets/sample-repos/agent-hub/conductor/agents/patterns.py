"""Composition patterns for agents: a router, a fan-out/gather, and a pipeline of stages.

These are agents themselves, so they can be spawned, supervised and nested like any other.
"""
from __future__ import annotations

import asyncio
import re
from typing import Any, Awaitable, Callable

from conductor.agents.base import Agent, AgentContext
from conductor.events.models import Event

Stage = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class RouterAgent(Agent):
    """Forwards each ``task.submitted`` to the first route whose regex matches the task's ``intent``.

    Config: ``{"routes": [["^search", "search.task"], ["^summari[sz]e", "summarize.task"]],
    "fallback": "default.task"}``.
    """

    kind = "router"
    subscriptions = ("task.submitted",)

    def __init__(self, ctx: AgentContext):
        super().__init__(ctx)
        self.routes = [(re.compile(pattern), topic) for pattern, topic in ctx.config.get("routes", [])]
        self.fallback: str | None = ctx.config.get("fallback")

    def route(self, intent: str) -> str | None:
        for pattern, topic in self.routes:
            if pattern.search(intent):
                return topic
        return self.fallback

    async def handle(self, event: Event) -> None:
        topic = self.route(str(event.payload.get("intent", "")))
        if topic is None:
            await self.ctx.bus.publish(event.reply("task.unroutable", event.payload, source=self.name))
            return
        await self.ctx.bus.publish(event.reply(topic, event.payload, source=self.name))


class FanOutAgent(Agent):
    """Asks every worker topic in ``config["targets"]`` and publishes the gathered answers as one event."""

    kind = "fan-out"
    subscriptions = ("fanout.request",)

    async def handle(self, event: Event) -> None:
        targets: list[str] = self.ctx.config.get("targets", [])
        timeout = float(self.ctx.config.get("timeout", 2.0))

        async def ask(topic: str) -> tuple[str, Any]:
            request = event.reply(topic, event.payload, source=self.name)
            try:
                answer = await self.ctx.bus.request(request, f"{topic}.done", timeout=timeout)
                return topic, answer.payload
            except asyncio.TimeoutError:
                return topic, {"error": "timeout"}

        answers = dict(await asyncio.gather(*(ask(t) for t in targets)))
        await self.ctx.bus.publish(event.reply("fanout.result", {"answers": answers}, source=self.name))


class PipelineAgent(Agent):
    """Runs a payload through named stages (skills from packs) in order; stops at the first failing stage."""

    kind = "pipeline"
    subscriptions = ("pipeline.run",)

    async def handle(self, event: Event) -> None:
        data = dict(event.payload)
        for stage_name in self.ctx.config.get("stages", []):
            stage: Stage | None = self.ctx.skills.get(stage_name)
            if stage is None:
                await self._fail(event, stage_name, "no such skill (is its pack installed?)")
                return
            try:
                data = await stage(data)
            except Exception as exc:
                await self._fail(event, stage_name, repr(exc))
                return
        await self.ctx.bus.publish(event.reply("pipeline.done", data, source=self.name))

    async def _fail(self, event: Event, stage: str, reason: str) -> None:
        await self.ctx.bus.publish(event.reply("pipeline.failed", {"stage": stage, "reason": reason},
                                               source=self.name))


PATTERN_AGENTS = [("router", RouterAgent), ("fan-out", FanOutAgent), ("pipeline", PipelineAgent)]
