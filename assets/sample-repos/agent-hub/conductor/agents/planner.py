"""A planning agent: turns a goal into ordered steps, runs each step through a tool or another agent, and
re-plans when a step fails. The plan itself is data (``Plan``), published on the bus as it progresses."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

from conductor.agents.base import Agent, AgentContext
from conductor.agents.tools import ToolError, ToolRegistry
from conductor.events.models import Event


class StepStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class PlanStep:
    id: str
    action: str                       # "tool:<name>" or "agent:<topic>"
    arguments: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    output: Any = None
    error: str | None = None

    @property
    def kind(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def target(self) -> str:
        return self.action.split(":", 1)[1]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "status": self.status.value, "attempts": self.attempts,
                "error": self.error, "depends_on": list(self.depends_on)}


class PlanError(ValueError):
    pass


@dataclass
class Plan:
    goal: str
    steps: list[PlanStep] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise PlanError("step ids repeat")
        for step in self.steps:
            if step.kind not in ("tool", "agent") or ":" not in step.action:
                raise PlanError(f"step {step.id}: action {step.action!r} is not tool:<name> or agent:<topic>")
            unknown = set(step.depends_on) - set(ids)
            if unknown:
                raise PlanError(f"step {step.id} depends on unknown steps {sorted(unknown)}")
        self.order()  # raises on a cycle

    def order(self) -> list[PlanStep]:
        """Steps in an order that respects dependencies (Kahn's algorithm, ties in plan order)."""
        by_id = {s.id: s for s in self.steps}
        waiting = {s.id: set(s.depends_on) for s in self.steps}
        ordered: list[PlanStep] = []
        while waiting:
            ready = [sid for sid in by_id if sid in waiting and not waiting[sid]]
            if not ready:
                raise PlanError(f"the plan has a dependency cycle among {sorted(waiting)}")
            for sid in ready:
                ordered.append(by_id[sid])
                del waiting[sid]
                for deps in waiting.values():
                    deps.discard(sid)
        return ordered

    def runnable(self) -> list[PlanStep]:
        done = {s.id for s in self.steps if s.status is StepStatus.DONE}
        return [s for s in self.steps if s.status is StepStatus.PENDING and set(s.depends_on) <= done]

    @property
    def finished(self) -> bool:
        return all(s.status in (StepStatus.DONE, StepStatus.SKIPPED) for s in self.steps)

    @property
    def failed(self) -> list[PlanStep]:
        return [s for s in self.steps if s.status is StepStatus.FAILED]

    def skip_dependents(self, failed: PlanStep) -> list[str]:
        """Mark every step that (transitively) needs a failed step as skipped; returns their ids."""
        skipped, frontier = [], {failed.id}
        changed = True
        while changed:
            changed = False
            for step in self.steps:
                if step.status is StepStatus.PENDING and frontier & set(step.depends_on):
                    step.status = StepStatus.SKIPPED
                    frontier.add(step.id)
                    skipped.append(step.id)
                    changed = True
        return skipped

    def to_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "steps": [s.to_dict() for s in self.steps], "finished": self.finished}


def plan_from_dict(data: dict[str, Any]) -> Plan:
    steps = [PlanStep(id=str(s["id"]), action=s["action"], arguments=dict(s.get("arguments") or {}),
                      depends_on=tuple(s.get("depends_on") or ())) for s in data.get("steps", [])]
    return Plan(goal=str(data.get("goal", "")), steps=steps)


Planner = Callable[[str, dict[str, Any]], Plan]


class PlannerAgent(Agent):
    """Handles ``plan.request`` (payload: goal, context): plans, executes, and answers with ``plan.finished``."""

    kind = "planner"
    subscriptions = ("plan.request",)
    max_attempts = 2

    def __init__(self, ctx: AgentContext, planner: Planner | None = None, tools: ToolRegistry | None = None):
        super().__init__(ctx)
        self.planner = planner or ctx.skills.get("plan")
        self.tools = tools or ctx.skills.get("tools") or ToolRegistry()

    async def handle(self, event: Event) -> None:
        goal = str(event.payload.get("goal", "")).strip()
        if not goal:
            await self.ctx.bus.publish(event.reply("plan.rejected", {"reason": "empty goal"}, source=self.name))
            return
        if self.planner is None:
            await self.ctx.bus.publish(event.reply("plan.rejected", {"reason": "no planner skill"}, source=self.name))
            return
        plan = self.planner(goal, dict(event.payload.get("context") or {}))
        await self.execute(plan, event)
        topic = "plan.finished" if plan.finished else "plan.failed"
        await self.ctx.bus.publish(event.reply(topic, plan.to_dict(), source=self.name))

    async def execute(self, plan: Plan, origin: Event) -> Plan:
        while True:
            ready = plan.runnable()
            if not ready:
                return plan
            for step in ready:
                await self.run_step(step, origin)
                if step.status is StepStatus.FAILED:
                    plan.skip_dependents(step)
                await self.ctx.bus.publish(origin.reply("plan.step", step.to_dict(), source=self.name))

    async def run_step(self, step: PlanStep, origin: Event) -> None:
        step.status = StepStatus.RUNNING
        while step.attempts < self.max_attempts:
            step.attempts += 1
            try:
                step.output = await self._dispatch(step, origin)
                step.status, step.error = StepStatus.DONE, None
                return
            except ToolError as exc:
                step.error = str(exc)
                if not exc.retryable:
                    break
            except TimeoutError:
                step.error = f"{step.target} did not answer in time"
        step.status = StepStatus.FAILED

    async def _dispatch(self, step: PlanStep, origin: Event) -> Any:
        if step.kind == "tool":
            call = await self.tools.invoke(step.target, step.arguments)
            if call.error:
                raise ToolError(step.target, call.error, retryable="timed out" in call.error)
            return call.result
        request = origin.reply(step.target, step.arguments, source=self.name)
        reply = await self.ctx.bus.request(request, f"{step.target}.reply", timeout=30.0)
        return dict(reply.payload)
