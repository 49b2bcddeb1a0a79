"""Training samples from units: prompt → completion pairs and fill-in-the-middle samples in the base's format.

The prompt of a completion sample carries the file path (as a comment), the file's imports, the enclosing class's
header and the unit's signature and docstring; the completion is the body. FIM samples cut a random span of lines
out of the body (PSM or SPM at `spm_rate`); a base without FIM tokens gets the same cut as a plain
prefix → completion pair. Token limits follow the seed: completion 10..2048 tokens, prompt + completion ≤ 4096.
"""
from __future__ import annotations

import hashlib
import random
import re
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
    shared: int = 0    # prompt[:shared] is a prefix many samples of the file share (its context): counted once


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
    out = [Sample(sample_id(repo, path, unit, "completion"), "completion", ctx + unit.header, unit.body,
                  shared=len(ctx))]
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
        out.append(Sample(sample_id(repo, path, unit, "cut"), "completion", before, middle, shared=len(ctx)))
    elif rng.random() < cfg.spm_rate:
        out.append(Sample(sample_id(repo, path, unit, "spm"), "fim", fmt.spm(before, after), middle))
    else:
        out.append(Sample(sample_id(repo, path, unit, "psm"), "fim", fmt.psm(before, after), middle,
                          shared=len(fmt.prefix) + len(ctx)))
    return out


# Where BPE pre-tokenizers never merge across: GPT-2 style regexes start a new pre-token at a newline run
# ("\n   " joins the next indentation), Qwen2 style ones end one after it ("):\n" stays together).
_BEFORE = re.compile(r"\n*[^\n]+|\n+")
_AFTER = re.compile(r"[^\n]*\n+|[^\n]+")


def _split_before(text: str) -> list[str]:
    """Cut before each run of newlines: "a\n\nb" -> ["a", "\n\nb"]."""
    return _BEFORE.findall(text)


def _split_after(text: str) -> list[str]:
    """Cut after each run of newlines: "a\n\nb\n" -> ["a\n\n", "b\n"]."""
    return _AFTER.findall(text)


_SPLITS = {"before": _split_before, "after": _split_after}
_PROBE = 'import os\n\n\nclass A(B):\n    """Doc."""\n\n    def f(self, x):\n        return {"k": [x]}\n\n\ny = 1\n'


# GPT-2's pre-tokenizer regex (tokenizers' ByteLevel with use_regex) restricted to printable ASCII, where its
# \p{L} is [A-Za-z], \p{N} is [0-9] and Onig's \s is [ \t\n\r\v\f]; a piece with any other character is encoded whole.
_WS = " \t\n\r\x0b\x0c"
_GPT2_ASCII_WORDS = re.compile(rf"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^{_WS}A-Za-z0-9]+|[{_WS}]+(?![^{_WS}])|"
                               rf"[{_WS}]+")
_NOT_PLAIN_ASCII = re.compile(r"[^\t\n\x0b\x0c\r\x20-\x7e]")
_WORD_CHECKS = (_PROBE, "it's 'twas we'll \"don't\" I'M  x  =  0x1F;\t\t# ok?!\n\n   \n  \t z__9 += a[1:-2] // 3.5e-7\r\n",
                "  \n\n\n    return    {'a':  b}  \n\t\n", "<|endoftext|> <fim_prefix>x<fim_suffix>")


def _word_pattern(tokenizer) -> tuple[re.Pattern, re.Pattern | None] | None:
    """(the word regex, a regex finding the tokenizer's added tokens) for a GPT-2 style byte-level BPE tokenizer
    (SmolLM2, StarCoder, GPT-2: no normalizer, ByteLevel pre-tokenizer with its own regex), whose count of a plain
    ASCII text is the sum of its words' counts; None for other tokenizers, or when a check text disagrees."""
    from tokenizers.pre_tokenizers import ByteLevel

    pre = tokenizer.pre_tokenizer
    if tokenizer.normalizer is not None or not isinstance(pre, ByteLevel) or not pre.use_regex or pre.add_prefix_space:
        return None
    added = sorted({t.content for t in tokenizer.get_added_tokens_decoder().values() if t.content}, key=len,
                   reverse=True)
    found = (_GPT2_ASCII_WORDS, re.compile("|".join(map(re.escape, added))) if added else None)
    for text in _WORD_CHECKS:
        for piece in _split_before(text) + _split_after(text) + [text]:
            if _plain(piece, found[1]) and len(tokenizer.encode(piece, add_special_tokens=False)) != sum(
                    len(tokenizer.encode(w, add_special_tokens=False)) for w in _GPT2_ASCII_WORDS.findall(piece)):
                return None
    return found


def _plain(piece: str, added: re.Pattern | None) -> bool:
    return not _NOT_PLAIN_ASCII.search(piece) and not (added is not None and added.search(piece))


def _byte_level_chars() -> dict[int, str]:
    """GPT-2's byte-to-character table (what the ByteLevel pre-tokenizer maps bytes to before the BPE)."""
    shown = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in shown}
    for n, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + n)
    return table


def _word_counter(tokenizer, words: re.Pattern):
    """A function counting the tokens of plain ASCII words with the BPE model alone (bytes mapped as the ByteLevel
    pre-tokenizer maps them): the same counts as encoding each word, without building an Encoding per word, which
    is most of what encoding a short word costs. None when the check words disagree."""
    model = tokenizer.model
    if type(model).__name__ != "BPE" or getattr(model, "dropout", None):
        return None
    table = _byte_level_chars()
    tokenize = model.tokenize

    def count(batch: list[str]) -> list[int]:
        return [len(tokenize(w.translate(table))) for w in batch]

    probe = sorted({w for text in _WORD_CHECKS for w in words.findall(text) if _plain(w, None)})
    want = [len(e) for e in tokenizer.encode_batch(probe, add_special_tokens=False)]
    return count if count(probe) == want else None


class TokenCounter:
    """Token counts of many overlapping texts (prompts repeat imports, classes repeat their methods): each
    distinct line is counted once, in batches, and a text's count is the sum over its lines. The cut points are
    chosen per tokenizer (probed once) so the sum matches encoding the whole text; lines of only spaces between
    blank lines may still count a token more or less. With a GPT-2 style tokenizer a plain ASCII line is counted as
    the sum over its pre-tokenizer words, and each distinct word is encoded once: code repeats its words far more
    than its lines, and the pre-tokenizer, not the BPE, is most of what encoding a line costs."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, int] = {}
        self.word_cache: dict[str, int] = {}
        self._encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)   # no offsets needed
        whole = len(tokenizer.encode(_PROBE, add_special_tokens=False))
        errors = {}
        for name, split in _SPLITS.items():
            errors[name] = abs(whole - sum(len(e) for e in tokenizer.encode_batch(split(_PROBE),
                                                                                  add_special_tokens=False)))
        self.pieces = _SPLITS[min(errors, key=lambda k: (errors[k], k != "before"))]
        self.words = _word_pattern(tokenizer)
        self._count_words = _word_counter(tokenizer, self.words[0]) if self.words else None

    def _count(self, texts: list[str], cache: dict[str, int]) -> None:
        if texts:
            for text, enc in zip(texts, self._encode(texts, add_special_tokens=False)):
                cache[text] = len(enc)

    def _count_new(self, todo: set[str]) -> None:
        """Count pieces not seen before: plain ones by their words (each new word counted once), others whole."""
        cache = self.cache
        if self.words is None:
            self._count(sorted(todo), cache)
            return
        pattern, added = self.words
        joined = "".join(todo)      # one search over all of them; piece by piece only when it finds something
        if _NOT_PLAIN_ASCII.search(joined) or added is not None and added.search(joined):
            plain = [p for p in todo if _plain(p, added)]
            self._count(sorted(todo.difference(plain)), cache)
        else:
            plain = list(todo)
        words = [pattern.findall(p) for p in plain]
        known = self.word_cache
        new = sorted({w for ws in words for w in ws if w not in known})
        if new and self._count_words is not None:
            known.update(zip(new, self._count_words(new)))
        elif new:
            self._count(new, known)
        get = known.__getitem__
        for piece, ws in zip(plain, words):
            cache[piece] = sum(map(get, ws))

    def counts(self, texts: list[str], shared: list[int] | None = None) -> list[int]:
        """The token count of each text; the pieces (or words) not seen before are encoded in one batch.

        shared: per text, the length of a prefix that many texts share (a file's context), whose pieces are cut
        and summed once: its last piece may join the rest's first, so that piece is cut again with the rest."""
        cache = self.cache
        heads: dict[str, tuple[list[str], str]] = {}     # prefix -> (its pieces but the last, the last)
        split, base = [], []
        for i, text in enumerate(texts):
            n = shared[i] if shared else 0
            if not n:
                split.append(self.pieces(text))
                base.append(None)
                continue
            prefix = text[:n]
            head = heads.get(prefix)
            if head is None:
                pieces = self.pieces(prefix)
                head = heads[prefix] = (pieces[:-1], pieces[-1])
            split.append(self.pieces(head[1] + text[n:]))
            base.append(prefix)
        todo = {p for pieces in split for p in pieces if p not in cache}
        todo.update(p for pieces, _ in heads.values() for p in pieces if p not in cache)
        if todo:
            self._count_new(todo)
        get = cache.__getitem__
        head_sums = {prefix: sum(map(get, pieces)) for prefix, (pieces, _) in heads.items()}
        return [sum(map(get, pieces)) + (head_sums[prefix] if prefix is not None else 0)
                for pieces, prefix in zip(split, base)]


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
    if len(counter.word_cache) > 500_000:
        counter.word_cache.clear()
    return counter


def apply_limits(samples: list[Sample], tokenizer, cfg: SampleConfig, dropped: dict) -> list[Sample]:
    """Count tokens with the base's tokenizer and keep the samples within the limits."""
    if not samples:
        return []
    counts = iter(_counter(tokenizer).counts([t for s in samples for t in (s.prompt, s.completion)],
                                             [n for s in samples for n in (s.shared, 0)]))
    kept = []
    for s in samples:
        p, c = next(counts), next(counts)
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
