"""The latency suite: FIM completions of up to 32 tokens at cursor positions in real files, with contexts of about
1-2k tokens; p50/p95/p99 of total and first-token time and tokens/s, cold (KV cache dropped) and with prefix reuse
(the same request after a one-line edit at the cursor, as an editor sends while the user types)."""
from __future__ import annotations

import random
import threading
from typing import Callable

from eval.prompts import completion_prompt, completion_stops
from eval.stats import Statistic

TARGET_P95_MS = 500.0  # the seed's promotion gate for completion latency


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in 0..100."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def make_contexts(texts: list[str], count_tokens: Callable[[str], int], n: int, *,
                  tokens: tuple[int, int] = (1024, 2048), suffix_share: float = 0.2, seed: int = 42) -> list[dict]:
    """n (prefix, suffix) pairs cut at a line start of the given texts, each about tokens[0]..tokens[1] tokens.

    Texts are concatenated (in a fixed order) when a single one is too short, as a repository-level prompt would be.
    """
    rng = random.Random(seed)
    corpus = "\n\n".join(t for t in texts if t.strip())
    if not corpus:
        raise ValueError("no text to build latency contexts from")
    while count_tokens(corpus) < tokens[0] * 1.2:
        corpus = corpus + "\n\n" + corpus
    chars_per_token = len(corpus) / max(1, count_tokens(corpus))
    contexts = []
    for _ in range(n):
        want = rng.randint(*tokens)
        span = int(want * chars_per_token)
        start = rng.randint(0, max(0, len(corpus) - span))
        window = corpus[start:start + span]
        # one correction for the local density of tokens per character
        span = min(len(corpus), int(span * want / max(1, count_tokens(window))))
        start = min(start, max(0, len(corpus) - span))
        window = corpus[start:start + span]
        cut = int(len(window) * (1 - suffix_share))
        line_start = window.rfind("\n", 0, cut) + 1
        line_end = window.find("\n", line_start)
        line_end = len(window) if line_end < 0 else line_end
        cursor = line_start + (line_end - line_start) // 2  # mid-line, where a user is typing
        contexts.append({"prefix": window[:cursor], "suffix": window[cursor:]})
    return contexts


# Each metric as a statistic over the per-context samples (eval.stats gives it an interval from them).
STATISTICS = {
    "p50_ms": Statistic("ms_total", "percentile", q=50), "p95_ms": Statistic("ms_total", "percentile", q=95),
    "p99_ms": Statistic("ms_total", "percentile", q=99),
    "ttft_p50_ms": Statistic("ms_first_token", "percentile", q=50),
    "ttft_p95_ms": Statistic("ms_first_token", "percentile", q=95),
    "tokens_per_second": Statistic("decoded_tokens", "ratio", denominator="decode_s"),
    "reuse_ttft_p95_ms": Statistic("reuse_ms_first_token", "percentile", q=95),
    "reuse_p95_ms": Statistic("reuse_ms_total", "percentile", q=95),
}


def _measure(backend, number: int, ctx: dict, max_tokens: int, edit: str) -> dict:
    """One context: a cold completion, then the same request after a one-line edit at the cursor (prefix reuse)."""
    stops = completion_stops(backend.fim)
    prompt = completion_prompt(ctx["prefix"], ctx["suffix"], backend.fim)
    first = backend.complete(prompt, max_tokens=max_tokens, stop=stops, reuse=False)
    # the one-line edit: the user types at the cursor, the editor asks again with the same file around it
    edited = completion_prompt(ctx["prefix"] + edit, ctx["suffix"], backend.fim)
    again = backend.complete(edited, max_tokens=max_tokens, stop=stops, reuse=True)
    decode_ms = first.ms_total - (first.ms_first_token or 0)
    return {"key": f"context-{number}", "prompt_tokens": first.prompt_tokens, "tokens": first.tokens,
            "ms_total": round(first.ms_total, 2), "ms_first_token": _ms(first.ms_first_token),
            "decoded_tokens": max(0, first.tokens - 1), "decode_s": round(decode_ms / 1000, 5) if decode_ms > 0 else None,
            "reuse_ms_total": round(again.ms_total, 2), "reuse_ms_first_token": _ms(again.ms_first_token),
            "reused_tokens": again.reused_tokens}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def metrics_of(samples: list[dict]) -> dict:
    """p50/p95/p99 of total and first-token time, tokens/s, prefix-reuse times: each STATISTICS over the samples."""
    out = {}
    for name, stat in STATISTICS.items():
        data = stat.matrix(samples)
        out[name] = stat.apply(data) if len(data) else None
    return out


def _result(backend, samples: list[dict], contexts: list[dict], max_tokens: int, edit: str, **settings) -> dict:
    metrics = metrics_of(samples)
    p95 = metrics["p95_ms"]
    return {
        "metrics": metrics,
        "target": {"p95_ms": TARGET_P95_MS, "met": p95 is not None and p95 < TARGET_P95_MS},
        "samples": samples,
        "settings": {"contexts": len(contexts), "max_tokens": max_tokens, "edit": edit,
                     "fim": backend.fim.name if backend.fim else None, "backend": backend.kind, **settings},
    }


def _say(progress, label: str, number: int, total: int, sample: dict) -> None:
    if progress:
        progress({"event": "sample", "done": number, "total": total,
                  "message": (f"latency {label}{number}/{total}: cold {sample['ms_total']:.0f} ms "
                              f"(first token {sample['ms_first_token'] or 0:.0f} ms), after an edit first token "
                              f"{sample['reuse_ms_first_token'] or 0:.0f} ms")})


def run(backend, contexts: list[dict], *, max_tokens: int = 32, edit: str = "x",
        progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Cold and reused completions for each context; {metrics, samples (one per context), settings}."""
    backend.complete("def warm_up():\n", max_tokens=4, reuse=False)  # page the weights in; not measured
    samples = []
    for number, ctx in enumerate(contexts, 1):
        if cancel is not None and cancel.is_set():
            break
        samples.append(_measure(backend, number, ctx, max_tokens, edit))
        _say(progress, "", number, len(contexts), samples[-1])
    return _result(backend, samples, contexts, max_tokens, edit)


def run_paired(candidate, base, contexts: list[dict], *, max_tokens: int = 32, edit: str = "x",
               progress: Callable[[dict], None] | None = None,
               cancel: threading.Event | None = None) -> tuple[dict, dict]:
    """Candidate and base on the same contexts in one run, interleaved context by context (and in alternating
    order), so load on the machine and its drift fall on both alike; (candidate result, base result)."""
    for backend in (candidate, base):
        backend.complete("def warm_up():\n", max_tokens=4, reuse=False)
    mine, theirs = [], []
    for number, ctx in enumerate(contexts, 1):
        if cancel is not None and cancel.is_set():
            break
        order = ((candidate, mine), (base, theirs)) if number % 2 else ((base, theirs), (candidate, mine))
        for backend, into in order:
            into.append(_measure(backend, number, ctx, max_tokens, edit))
        _say(progress, "candidate ", number, len(contexts), mine[-1])
    return (_result(candidate, mine, contexts, max_tokens, edit, interleaved=True),
            _result(base, theirs, contexts, max_tokens, edit, interleaved=True))
