"""Semantic versions and npm-style constraints (``^1.2``, ``~0.3.1``, ``>=1, <2``) for pack dependencies."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Version":
        m = _VERSION.match(text.strip())
        if not m:
            raise ValueError(f"not a semantic version: {text!r}")
        pre = tuple(m.group(4).split(".")) if m.group(4) else ()
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre)

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.pre)}" if self.pre else core

    def _key(self):
        # a pre-release sorts before its release; numeric identifiers sort numerically (semver §11)
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)

    def __lt__(self, other: "Version") -> bool:
        return self._key() < other._key()

    def bump(self, part: str) -> "Version":
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise ValueError(f"unknown part {part!r}")


def _partial(text: str) -> tuple[Version, int]:
    """Parse ``1``, ``1.2`` or ``1.2.3``; returns the version and how many parts were given."""
    parts = text.strip().lstrip("v").split("-", 1)[0].split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"bad version in constraint: {text!r}")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    return Version(*nums), len(parts)


@dataclass(frozen=True)
class Constraint:
    """A conjunction of comparisons; ``satisfied_by`` is true when every comparison holds."""

    clauses: tuple[tuple[str, Version], ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> "Constraint":
        text = text.strip()
        if text in ("", "*", "latest"):
            return cls((), text or "*")
        clauses: list[tuple[str, Version]] = []
        for piece in (p.strip() for p in text.split(",")):
            clauses.extend(_expand(piece))
        return cls(tuple(clauses), text)

    def satisfied_by(self, version: Version) -> bool:
        if version.pre and not any(v.pre for _, v in self.clauses):
            return False  # pre-releases only when the constraint asks for one
        return all(_OPS[op](version, bound) for op, bound in self.clauses)

    def best(self, candidates: list[Version]) -> Version | None:
        matching = [v for v in candidates if self.satisfied_by(v)]
        return max(matching) if matching else None

    def __str__(self) -> str:
        return self.text


_OPS = {
    ">=": lambda v, b: v >= b, ">": lambda v, b: v > b, "<=": lambda v, b: v <= b,
    "<": lambda v, b: v < b, "==": lambda v, b: v == b, "!=": lambda v, b: v != b,
}


def _expand(piece: str) -> list[tuple[str, Version]]:
    if piece.startswith("^"):
        low, given = _partial(piece[1:])
        if low.major > 0 or given == 1:
            high = low.bump("major")
        elif low.minor > 0 or given == 2:
            high = low.bump("minor")
        else:
            high = low.bump("patch")
        return [(">=", low), ("<", high)]
    if piece.startswith("~"):
        low, given = _partial(piece[1:])
        high = low.bump("major") if given == 1 else low.bump("minor")
        return [(">=", low), ("<", high)]
    for op in (">=", "<=", "==", "!=", ">", "<"):
        if piece.startswith(op):
            return [(op, Version.parse(piece[len(op):].strip()) if piece.count(".") == 2
                     else _partial(piece[len(op):])[0])]
    return [("==", Version.parse(piece))]
