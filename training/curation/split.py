"""The held-out split (by file, never by snippet) and the categories of held-out snippets.

A file is held out when a seeded hash of its repo and path falls under the rate, so the decision depends on the
file alone: adding or changing other files never moves it across the split (and per-file caching stays valid).
Categories come from rules on paths, names, languages, unit kinds and signatures (assets/categories.toml, or the
workspace's own categories.toml); the first matching rule wins; unmatched snippets count only in "overall".
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


def is_heldout(repo: str, path: str, rate: float, seed: int) -> bool:
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\0{repo}\0{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < rate


@dataclass(frozen=True)
class CategoryRule:
    name: str
    paths: tuple[str, ...] = ()       # globs on repo-relative paths (fnmatch; `*` crosses folders)
    names: tuple[str, ...] = ()       # globs on the unit's qualified name
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()       # function, method, class, type
    signature: str | None = None      # regex searched in the unit's declaration line

    def matches(self, path: str, qualname: str, language: str, kind: str, signature: str) -> bool:
        if self.paths and not any(fnmatch.fnmatch(path, p) for p in self.paths):
            return False
        if self.names and not any(fnmatch.fnmatch(qualname, n) for n in self.names):
            return False
        if self.languages and language not in self.languages:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.signature and not re.search(self.signature, signature):
            return False
        return True


class CategoryError(ValueError):
    """A categories file that cannot be used; the message is one line."""


def load_rules(path: Path | str) -> list[CategoryRule]:
    """Rules from a TOML file of [[category]] tables (name plus any of paths, names, languages, kinds, signature)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CategoryError(f"cannot read category rules {path}: {exc}") from None
    rules = []
    for i, raw in enumerate(data.get("category", [])):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise CategoryError(f"{path}: category #{i + 1} has no name")
        unknown = set(raw) - {"name", "paths", "names", "languages", "kinds", "signature", "description"}
        if unknown:
            raise CategoryError(f"{path}: category {raw['name']!r} has unknown keys {sorted(unknown)}")
        if raw.get("signature"):
            try:
                re.compile(raw["signature"])
            except re.error as exc:
                raise CategoryError(f"{path}: category {raw['name']!r} has a bad signature regex: {exc}") from None
        rules.append(CategoryRule(name=str(raw["name"]), paths=tuple(raw.get("paths", ())),
                                  names=tuple(raw.get("names", ())), languages=tuple(raw.get("languages", ())),
                                  kinds=tuple(raw.get("kinds", ())), signature=raw.get("signature")))
    return rules


def rules_to_dicts(rules: list[CategoryRule]) -> list[dict]:
    return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in r.__dict__.items()} for r in rules]


def rules_from_dicts(items: list[dict]) -> list[CategoryRule]:
    return [CategoryRule(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}) for d in items]


def categorise(rules: list[CategoryRule], path: str, qualname: str, language: str, kind: str,
               signature: str) -> str | None:
    for rule in rules:
        if rule.matches(path, qualname, language, kind, signature):
            return rule.name
    return None
