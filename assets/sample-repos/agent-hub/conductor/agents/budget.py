"""Budgets for agents that call paid models: tokens and money per agent and per day, enforced before a call is
made, with a warning event when an agent crosses a share of its allowance."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from conductor.events.bus import EventBus


class BudgetExceeded(Exception):
    def __init__(self, agent: str, kind: str, used: float, limit: float):
        super().__init__(f"{agent} would exceed its {kind} budget ({used:.2f} of {limit:.2f})")
        self.agent, self.kind, self.used, self.limit = agent, kind, used, limit


@dataclass(frozen=True)
class Price:
    """Cost per thousand tokens, prompt and completion priced apart (as model APIs bill them)."""
    prompt_per_1k: float
    completion_per_1k: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens / 1000 * self.prompt_per_1k + completion_tokens / 1000 * self.completion_per_1k


@dataclass
class Allowance:
    tokens_per_day: int
    dollars_per_day: float
    warn_at: float = 0.8


@dataclass
class Usage:
    day: dt.date
    tokens: int = 0
    dollars: float = 0.0
    warned: set[str] = field(default_factory=set)


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


class BudgetKeeper:
    def __init__(self, bus: EventBus | None = None, default: Allowance | None = None,
                 today: Callable[[], dt.date] = today_utc):
        self.bus = bus
        self.default = default or Allowance(tokens_per_day=2_000_000, dollars_per_day=20.0)
        self.allowances: dict[str, Allowance] = {}
        self.usage: dict[str, Usage] = {}
        self._today = today

    def set_allowance(self, agent: str, allowance: Allowance) -> None:
        self.allowances[agent] = allowance

    def _usage(self, agent: str) -> Usage:
        usage = self.usage.get(agent)
        if usage is None or usage.day != self._today():
            usage = self.usage[agent] = Usage(self._today())
        return usage

    def check(self, agent: str, tokens: int, dollars: float) -> None:
        """Raise BudgetExceeded if the call would take the agent past today's allowance."""
        allowance = self.allowances.get(agent, self.default)
        usage = self._usage(agent)
        if usage.tokens + tokens > allowance.tokens_per_day:
            raise BudgetExceeded(agent, "token", usage.tokens + tokens, allowance.tokens_per_day)
        if usage.dollars + dollars > allowance.dollars_per_day:
            raise BudgetExceeded(agent, "dollar", usage.dollars + dollars, allowance.dollars_per_day)

    async def charge(self, agent: str, prompt_tokens: int, completion_tokens: int, price: Price) -> Usage:
        dollars = price.cost(prompt_tokens, completion_tokens)
        self.check(agent, prompt_tokens + completion_tokens, dollars)
        usage = self._usage(agent)
        usage.tokens += prompt_tokens + completion_tokens
        usage.dollars += dollars
        await self._maybe_warn(agent, usage)
        return usage

    async def _maybe_warn(self, agent: str, usage: Usage) -> None:
        allowance = self.allowances.get(agent, self.default)
        shares = {"tokens": usage.tokens / allowance.tokens_per_day,
                  "dollars": usage.dollars / allowance.dollars_per_day}
        for kind, share in shares.items():
            if share >= allowance.warn_at and kind not in usage.warned:
                usage.warned.add(kind)
                if self.bus is not None:
                    await self.bus.emit("budget.warning", source="budget", agent=agent, kind=kind,
                                        share=round(share, 3))

    def report(self) -> list[dict]:
        rows = []
        for agent, usage in sorted(self.usage.items()):
            allowance = self.allowances.get(agent, self.default)
            rows.append({"agent": agent, "day": usage.day.isoformat(), "tokens": usage.tokens,
                         "dollars": round(usage.dollars, 4),
                         "token_share": round(usage.tokens / allowance.tokens_per_day, 3),
                         "dollar_share": round(usage.dollars / allowance.dollars_per_day, 3)})
        return rows
