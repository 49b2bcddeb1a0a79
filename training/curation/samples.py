"""Training samples from units: prompt → completion pairs and fill-in-the-middle samples in the base's format.

The prompt of a completion sample carries the file path (as a comment), the file's imports, the enclosing class's
header and the unit's signature and docstring; the completion is the body. FIM samples cut a random span of lines
out of the body (PSM or SPM at `spm_rate`); a base without FIM tokens gets the same cut as a plain
prefix → completion pair. Token limits follow the seed: completion 10..2048 tokens, prompt + completion ≤ 4096.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

from training.fim import FORMATS, FimFormat
from training.curation.snippets import SPECS, ParsedFile, Unit


@dataclass(frozen=True)
class SampleConfig:
    fim_format: str | None = None     # a training.fim format name, or None for a base without FIM tokens
    fim_rate: float = 0.5             # share of units that also give a FIM sample
    spm_rate: float = 0.5             # share of FIM samples in SPM order
    min_tokens: int = 10
    max_tokens: int = 2048
    max_context: int = 4096
    max_middle_lines: int = 8
    seed: int = 42

    def fim(self) -> FimFormat | None:
        return next((f for f in FORMATS if f.name == self.fim_format), None)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Sample:
    id: str
    kind: str          # completion | fim
    prompt: str
    completion: str
    tokens: int = 0


def sample_id(repo: str, path: str, unit: Unit, variant: str) -> str:
    key = f"{repo}\0{path}\0{unit.qualname}\0{unit.start_line}\0{variant}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def context(repo: str, path: str, language: str, parsed: ParsedFile, unit: Unit) -> str:
    """What a prompt starts with: the path as a comment, the imports, the enclosing class's header."""
    parts = [f"{SPECS[language].comment} {repo}/{path}\n"]
    if parsed.imports:
        parts.append(parsed.imports + "\n\n")
    if unit.class_header:
        parts.append(unit.class_header + "\n")
    return "".join(parts)


def unit_samples(repo: str, path: str, language: str, parsed: ParsedFile, unit: Unit,
                 cfg: SampleConfig) -> list[Sample]:
    """The samples of one unit, before token limits (see `apply_limits`)."""
    ctx = context(repo, path, language, parsed, unit)
    out = [Sample(sample_id(repo, path, unit, "completion"), "completion", ctx + unit.header, unit.body)]
    rng = random.Random(int(out[0].id, 16) ^ cfg.seed)
    if rng.random() >= cfg.fim_rate:
        return out
    lines = unit.body.splitlines(keepends=True)
    if len(lines) < 2:
        return out
    start = rng.randrange(len(lines))
    length = rng.randint(1, max(1, min(cfg.max_middle_lines, len(lines) - start)))
    before = ctx + unit.header + "".join(lines[:start])
    middle = "".join(lines[start:start + length])
    after = "".join(lines[start + length:])
    if not middle.strip():
        return out
    fmt = cfg.fim()
    if fmt is None:
        out.append(Sample(sample_id(repo, path, unit, "cut"), "completion", before, middle))
    elif rng.random() < cfg.spm_rate:
        out.append(Sample(sample_id(repo, path, unit, "spm"), "fim", fmt.spm(before, after), middle))
    else:
        out.append(Sample(sample_id(repo, path, unit, "psm"), "fim", fmt.psm(before, after), middle))
    return out


# Where BPE pre-tokenizers never merge across: GPT-2 style regexes start a new pre-token at a newline run
# ("\n   " joins the next indentation), Qwen2 style ones end one after it ("):\n" stays together).
def _split_before(text: str) -> list[str]:
    """Cut before each run of newlines: "a\n\nb" -> ["a", "\n\nb"]."""
    parts = text.split("\n")
    out = [parts[0]] if parts[0] else []
    pending = ""
    for part in parts[1:]:
        pending += "\n"
        if part:
            out.append(pending + part)
            pending = ""
    if pending:
        out.append(pending)
    return out


def _split_after(text: str) -> list[str]:
    """Cut after each run of newlines: "a\n\nb\n" -> ["a\n\n", "b\n"]."""
    parts = text.split("\n")
    out, current = [], parts[0]
    for part in parts[1:]:
        current += "\n"
        if part:
            out.append(current)
            current = part
    if current:
        out.append(current)
    return out


_SPLITS = {"before": _split_before, "after": _split_after}
_PROBE = 'import os\n\n\nclass A(B):\n    """Doc."""\n\n    def f(self, x):\n        return {"k": [x]}\n\n\ny = 1\n'


class TokenCounter:
    """Token counts of many overlapping texts (prompts repeat imports, classes repeat their methods): each
    distinct line is encoded once, in batches, and a text's count is the sum over its lines. The cut points are
    chosen per tokenizer (probed once) so the sum matches encoding the whole text; lines of only spaces between
    blank lines may still count a token more or less."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, int] = {}
        self._encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)   # no offsets needed
        whole = len(tokenizer.encode(_PROBE, add_special_tokens=False))
        errors = {}
        for name, split in _SPLITS.items():
            errors[name] = abs(whole - sum(len(e) for e in tokenizer.encode_batch(split(_PROBE),
                                                                                  add_special_tokens=False)))
        self.pieces = _SPLITS[min(errors, key=lambda k: (errors[k], k != "before"))]

    def prepare(self, texts: list[str]) -> None:
        cache = self.cache
        todo = {p for t in texts for p in self.pieces(t) if p not in cache}
        if todo:
            todo = sorted(todo)
            for piece, enc in zip(todo, self._encode(todo, add_special_tokens=False)):
                cache[piece] = len(enc)

    def count(self, text: str) -> int:
        cache = self.cache
        return sum(cache[p] for p in self.pieces(text))


_COUNTERS: dict[int, TokenCounter] = {}


def warm_counter(tokenizer) -> None:
    """Build the counter (its split probe) now, e.g. before forking workers that inherit it."""
    _counter(tokenizer)


def _counter(tokenizer) -> TokenCounter:
    """One counter (and line cache) per tokenizer object, kept for the process: files share many lines."""
    counter = _COUNTERS.get(id(tokenizer))
    if counter is None or counter.tokenizer is not tokenizer:
        counter = _COUNTERS[id(tokenizer)] = TokenCounter(tokenizer)
    if len(counter.cache) > 500_000:
        counter.cache.clear()
    return counter


def apply_limits(samples: list[Sample], tokenizer, cfg: SampleConfig, dropped: dict) -> list[Sample]:
    """Count tokens with the base's tokenizer and keep the samples within the limits."""
    if not samples:
        return []
    counter = _counter(tokenizer)
    counter.prepare([t for s in samples for t in (s.prompt, s.completion)])
    kept = []
    for s in samples:
        p, c = counter.count(s.prompt), counter.count(s.completion)
        if c < cfg.min_tokens:
            dropped["too_short"] = dropped.get("too_short", 0) + 1
        elif c > cfg.max_tokens:
            dropped["too_long"] = dropped.get("too_long", 0) + 1
        elif p + c > cfg.max_context:
            dropped["context_too_long"] = dropped.get("context_too_long", 0) + 1
        else:
            s.tokens = p + c
            kept.append(s)
    return kept
