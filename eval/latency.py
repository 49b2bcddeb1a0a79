"""The latency suite: FIM completions of up to 32 tokens at cursor positions in real files, with contexts of about
1-2k tokens; p50/p95/p99 of total and first-token time and tokens/s, cold (KV cache dropped) and with prefix reuse
(the same request after a one-line edit at the cursor, as an editor sends while the user types)."""
from __future__ import annotations

import random
import threading
from typing import Callable

from eval.prompts import completion_prompt, completion_stops

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


def run(backend, contexts: list[dict], *, max_tokens: int = 32, edit: str = "x",
        progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Cold and reused completions for each context; {metrics, samples, settings}."""
    stops = completion_stops(backend.fim)
    backend.complete("def warm_up():\n", max_tokens=4, reuse=False)  # page the weights in; not measured
    cold, reuse = [], []
    for number, ctx in enumerate(contexts, 1):
        if cancel is not None and cancel.is_set():
            break
        prompt = completion_prompt(ctx["prefix"], ctx["suffix"], backend.fim)
        first = backend.complete(prompt, max_tokens=max_tokens, stop=stops, reuse=False)
        # the one-line edit: the user types at the cursor, the editor asks again with the same file around it
        edited = completion_prompt(ctx["prefix"] + edit, ctx["suffix"], backend.fim)
        again = backend.complete(edited, max_tokens=max_tokens, stop=stops, reuse=True)
        cold.append(first)
        reuse.append(again)
        if progress:
            progress({"event": "sample", "done": number, "total": len(contexts),
                      "message": (f"latency {number}/{len(contexts)}: cold {first.ms_total:.0f} ms "
                                  f"(first token {first.ms_first_token:.0f} ms), after an edit first token "
                                  f"{again.ms_first_token:.0f} ms")})
    totals = [c.ms_total for c in cold]
    ttfts = [c.ms_first_token for c in cold if c.ms_first_token is not None]
    reuse_ttfts = [c.ms_first_token for c in reuse if c.ms_first_token is not None]
    decode_ms = sum(c.ms_total - (c.ms_first_token or 0) for c in cold)
    decoded = sum(max(0, c.tokens - 1) for c in cold)
    metrics = {
        "p50_ms": percentile(totals, 50), "p95_ms": percentile(totals, 95), "p99_ms": percentile(totals, 99),
        "ttft_p50_ms": percentile(ttfts, 50), "ttft_p95_ms": percentile(ttfts, 95),
        "tokens_per_second": decoded / (decode_ms / 1000) if decode_ms > 0 else None,
        "reuse_ttft_p95_ms": percentile(reuse_ttfts, 95),
        "reuse_p95_ms": percentile([c.ms_total for c in reuse], 95),
    }
    p95 = metrics["p95_ms"]
    return {
        "metrics": metrics,
        "target": {"p95_ms": TARGET_P95_MS, "met": p95 is not None and p95 < TARGET_P95_MS},
        "samples": [{"prompt_tokens": c.prompt_tokens, "tokens": c.tokens, "ms_total": round(c.ms_total, 2),
                     "ms_first_token": round(c.ms_first_token or 0, 2), "reuse_ms_first_token":
                     round(r.ms_first_token or 0, 2), "reused_tokens": r.reused_tokens} for c, r in zip(cold, reuse)],
        "settings": {"contexts": len(contexts), "max_tokens": max_tokens, "edit": edit,
                     "fim": backend.fim.name if backend.fim else None, "backend": backend.kind},
    }
