"""Working memory for conversational agents: a bounded window of turns, pinned facts, and summaries of what fell
out of the window, so an agent can keep talking for hours without its prompt growing without end."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

Summarizer = Callable[[list["Turn"]], str]


@dataclass(frozen=True)
class Turn:
    role: str              # user | agent | tool | system
    text: str
    at: float = field(default_factory=time.time)
    tokens: int = 0

    def __post_init__(self) -> None:
        if self.role not in ("user", "agent", "tool", "system"):
            raise ValueError(f"unknown role {self.role!r}")


def rough_tokens(text: str) -> int:
    """A cheap token estimate (about four characters per token), good enough for budgeting a window."""
    return max(1, (len(text) + 3) // 4)


def naive_summary(turns: list[Turn]) -> str:
    """The first line of every turn, clipped: the fallback when no model is available to summarise."""
    lines = []
    for turn in turns:
        first = turn.text.strip().splitlines()[0] if turn.text.strip() else ""
        lines.append(f"{turn.role}: {first[:80]}")
    return "\n".join(lines)


class WorkingMemory:
    """Turns in order, within a token budget; turns pushed out are folded into a running summary."""

    def __init__(self, budget_tokens: int = 2048, *, summarizer: Summarizer = naive_summary,
                 keep_last: int = 4):
        if budget_tokens < 64:
            raise ValueError("a memory budget below 64 tokens cannot hold a single exchange")
        self.budget_tokens = budget_tokens
        self.keep_last = keep_last
        self._summarizer = summarizer
        self._turns: deque[Turn] = deque()
        self._pinned: dict[str, str] = {}
        self.summary = ""
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self._turns)

    @property
    def used_tokens(self) -> int:
        pinned = sum(rough_tokens(v) for v in self._pinned.values())
        return sum(t.tokens for t in self._turns) + rough_tokens(self.summary) + pinned

    def add(self, role: str, text: str) -> Turn:
        turn = Turn(role, text, tokens=rough_tokens(text))
        self._turns.append(turn)
        self._fit()
        return turn

    def extend(self, turns: Iterable[tuple[str, str]]) -> None:
        for role, text in turns:
            self.add(role, text)

    def pin(self, key: str, fact: str) -> None:
        """A fact that stays in every prompt (the user's name, the task's goal) until unpinned."""
        self._pinned[key] = fact
        self._fit()

    def unpin(self, key: str) -> bool:
        return self._pinned.pop(key, None) is not None

    def _fit(self) -> None:
        """Evict the oldest turns (never the last `keep_last`) into the summary until the budget holds."""
        dropped: list[Turn] = []
        while self.used_tokens > self.budget_tokens and len(self._turns) > self.keep_last:
            dropped.append(self._turns.popleft())
        if dropped:
            self.evicted += len(dropped)
            folded = self._summarizer(dropped)
            self.summary = f"{self.summary}\n{folded}".strip() if self.summary else folded
            while rough_tokens(self.summary) > self.budget_tokens // 4:
                self.summary = self.summary.split("\n", 1)[1] if "\n" in self.summary else self.summary[-400:]

    def render(self) -> str:
        """The memory as prompt text: pinned facts, the summary, then the turns."""
        parts = []
        if self._pinned:
            parts.append("Facts:\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(self._pinned.items())))
        if self.summary:
            parts.append("Earlier:\n" + self.summary)
        parts.extend(f"{t.role}: {t.text}" for t in self._turns)
        return "\n\n".join(parts)

    def last(self, role: str | None = None) -> Turn | None:
        for turn in reversed(self._turns):
            if role is None or turn.role == role:
                return turn
        return None

    def clear(self) -> None:
        self._turns.clear()
        self.summary = ""
        self.evicted = 0

    def snapshot(self) -> dict:
        return {"turns": [{"role": t.role, "text": t.text, "at": t.at} for t in self._turns],
                "pinned": dict(self._pinned), "summary": self.summary, "evicted": self.evicted}

    @classmethod
    def restore(cls, data: dict, budget_tokens: int = 2048) -> "WorkingMemory":
        memory = cls(budget_tokens)
        for key, fact in (data.get("pinned") or {}).items():
            memory.pin(key, fact)
        memory.summary = data.get("summary", "")
        for turn in data.get("turns", []):
            memory.add(turn["role"], turn["text"])
        memory.evicted = int(data.get("evicted", 0))
        return memory
