"""The held-out split (by file, never by snippet) and the categories of held-out snippets.

Every file gets a seeded hash of its repo and path in [0, 1). The files under the rate are held out, so that part
of the decision depends on the file alone: adding or changing other files never moves it across the split. So
that a benchmark can decide anything, the held-out set then grows, in the same hash order, with the next files until
it holds `min_samples` samples (default 200; each file added moves only that file), capped at `max_share` of all
samples so that most of the code is still trained on. A category of fewer than MIN_CATEGORY_SAMPLES held-out
samples is reported as indicative only.
Categories come from rules on paths, names, languages, unit kinds and signatures (assets/categories.toml, or the
workspace's own categories.toml); the first matching rule wins; unmatched snippets count only in "overall".
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


DEFAULT_RATE = 0.10          # share of files held out at least
DEFAULT_MIN_SAMPLES = 200    # held-out samples the split grows to (a paired 95% interval needs about this many)
DEFAULT_MAX_SHARE = 0.25     # ... but never more than this share of all samples
MIN_CATEGORY_SAMPLES = 20    # fewer held-out samples in a category: indicative only


def heldout_score(repo: str, path: str, seed: int) -> float:
    """The file's place in the held-out order, in [0, 1): a seeded hash of its repo and path."""
    digest = hashlib.sha256(f"{seed}\0{repo}\0{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def is_heldout(repo: str, path: str, rate: float, seed: int) -> bool:
    return rate > 0 and heldout_score(repo, path, seed) < rate


def choose_heldout(files: list[tuple[float, int]], rate: float, min_samples: int = DEFAULT_MIN_SAMPLES,
                   max_share: float = DEFAULT_MAX_SHARE) -> list[bool]:
    """Which files are held out, given (heldout_score, samples) per file: every file under the rate, then the next
    ones in score order while the held-out samples are fewer than min_samples, as long as adding the file keeps
    them within max_share of all samples. A rate of 0 holds nothing out."""
    held = [rate > 0 and score < rate for score, _ in files]
    if rate <= 0:
        return held
    total = sum(n for _, n in files)
    have = sum(n for (_, n), h in zip(files, held) if h)
    cap = max_share * total
    for i in sorted((i for i, h in enumerate(held) if not h), key=lambda i: files[i][0]):
        if have >= min_samples:
            break
        n = files[i][1]
        if n == 0:
            continue
        if have + n > cap:
            break
        held[i] = True
        have += n
    return held


def indicative(categories: dict[str, int]) -> list[str]:
    """The held-out categories with too few samples to be more than indicative ("overall" is not a category)."""
    return sorted(c for c, n in categories.items() if c != "overall" and n < MIN_CATEGORY_SAMPLES)


@lru_cache(maxsize=256)
def _globs(patterns: tuple[str, ...]) -> re.Pattern:
    """One compiled regex matching what any of the globs matches (fnmatch's case-sensitive translation): rules
    are checked for every unit of every file, and fnmatch per glob was a sixth of curation's time."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


@dataclass(frozen=True)
class CategoryRule:
    name: str
    paths: tuple[str, ...] = ()       # globs on repo-relative paths (fnmatch; `*` crosses folders)
    names: tuple[str, ...] = ()       # globs on the unit's qualified name
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()       # function, method, class, type
    signature: str | None = None      # regex searched in the unit's declaration line

    def matches(self, path: str, qualname: str, language: str, kind: str, signature: str) -> bool:
        if self.paths and not _globs(self.paths).match(path):
            return False
        if self.names and not _globs(self.names).match(qualname):
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
