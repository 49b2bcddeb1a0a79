"""Ensembles of agents: ask several agents the same question and combine their answers by majority, by the
highest confidence, or by the first answer that arrives before a deadline."""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from conductor.agents.base import Agent
from conductor.events.models import Event


@dataclass(frozen=True)
class Ballot:
    voter: str
    answer: Any
    confidence: float = 1.0


def majority(ballots: list[Ballot]) -> tuple[Any, float]:
    """The most frequent answer and its share of the votes (ties: the first answer seen among the tied)."""
    if not ballots:
        raise ValueError("no ballots")
    counts = Counter(repr(b.answer) for b in ballots)
    best, votes = counts.most_common(1)[0]
    answer = next(b.answer for b in ballots if repr(b.answer) == best)
    return answer, votes / len(ballots)


def most_confident(ballots: list[Ballot]) -> tuple[Any, float]:
    if not ballots:
        raise ValueError("no ballots")
    best = max(ballots, key=lambda b: b.confidence)
    return best.answer, best.confidence


def weighted(ballots: list[Ballot]) -> tuple[Any, float]:
    """The answer with the largest sum of confidences, and its share of the total confidence."""
    if not ballots:
        raise ValueError("no ballots")
    totals: dict[str, float] = {}
    first: dict[str, Any] = {}
    for b in ballots:
        key = repr(b.answer)
        totals[key] = totals.get(key, 0.0) + b.confidence
        first.setdefault(key, b.answer)
    key = max(totals, key=lambda k: totals[k])
    whole = sum(totals.values()) or 1.0
    return first[key], totals[key] / whole


RULES: dict[str, Callable[[list[Ballot]], tuple[Any, float]]] = {
    "majority": majority, "confidence": most_confident, "weighted": weighted,
}


class VotingAgent(Agent):
    """``vote.request`` (question) in: asks every topic in config ``voters``, answers ``vote.result``."""

    kind = "voting"
    subscriptions = ("vote.request",)

    async def handle(self, event: Event) -> None:
        voters = list(self.ctx.config.get("voters", []))
        rule = RULES[self.ctx.config.get("rule", "majority")]
        quorum = int(self.ctx.config.get("quorum", max(1, len(voters) // 2 + 1)))
        timeout = float(self.ctx.config.get("timeout", 10.0))
        ballots = await self.collect(event, voters, timeout)
        if len(ballots) < quorum:
            await self.ctx.bus.publish(event.reply("vote.failed", {"reason": "no quorum", "ballots": len(ballots),
                                                                  "quorum": quorum}, source=self.name))
            return
        answer, support = rule(ballots)
        await self.ctx.bus.publish(event.reply("vote.result", {"answer": answer, "support": round(support, 3),
                                                              "ballots": len(ballots)}, source=self.name))

    async def collect(self, event: Event, voters: list[str], timeout: float) -> list[Ballot]:
        async def ask(topic: str) -> Ballot | None:
            request = event.reply(topic, dict(event.payload), source=self.name)
            try:
                reply = await self.ctx.bus.request(request, f"{topic}.reply", timeout=timeout)
            except asyncio.TimeoutError:
                return None
            return Ballot(topic, reply.payload.get("answer"), float(reply.payload.get("confidence", 1.0)))

        results = await asyncio.gather(*(ask(v) for v in voters))
        return [b for b in results if b is not None]
