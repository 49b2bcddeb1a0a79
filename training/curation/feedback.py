"""Samples from a staged model's feedback: the completions editors accepted, captured by `serve --capture` (prompt
context, suffix and accepted text, each secret-scanned at capture). Each becomes one training sample: fill in the
middle in the base's format when the editor sent a suffix and the base has FIM tokens, else prompt → completion.
Every sample carries its provenance {"source": "feedback", "model": ..., "completion_id": ...}; token limits as for
code samples; feedback goes to the train split only (the held-out split stays code the model was not shown)."""
from __future__ import annotations

import hashlib
import json
from collections import Counter

from training.curation.samples import Sample, SampleConfig, apply_limits


def summary(model: str, samples: int, accepted: int) -> str:
    return f"feedback from the staging of {model}: {samples} samples from {accepted} accepted completions"


def lines(model: str, captures: list[dict], cfg: SampleConfig, tokenizer) -> tuple[list[bytes], dict]:
    """(JSONL lines, stats) for the captures of `model` (dicts: completion_id, prompt, suffix, accepted, language)."""
    fmt = cfg.fim()
    pending: list[tuple[Sample, dict]] = []
    seen: set[str] = set()
    dropped: Counter = Counter()
    for cap in sorted(captures, key=lambda c: c["completion_id"]):
        key = hashlib.sha256(f"{cap['prompt']}\0{cap.get('suffix') or ''}\0{cap['accepted']}".encode()).hexdigest()
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        sid = hashlib.sha256(f"feedback\0{cap['completion_id']}".encode()).hexdigest()[:16]
        if cap.get("suffix") and fmt is not None:
            sample = Sample(sid, "fim", fmt.psm(cap["prompt"], cap["suffix"]), cap["accepted"])
        else:
            sample = Sample(sid, "completion", cap["prompt"], cap["accepted"])
        pending.append((sample, cap))
    kept = {id(s) for s in apply_limits([s for s, _ in pending], tokenizer, cfg, dropped)}
    out = []
    for s, cap in pending:
        if id(s) not in kept:
            continue
        out.append((json.dumps({"id": s.id, "kind": s.kind, "prompt": s.prompt, "completion": s.completion,
                                "language": cap.get("language"), "repo": None, "path": None, "tokens": s.tokens,
                                "provenance": {"source": "feedback", "model": model,
                                               "completion_id": cap["completion_id"]},
                                "category": None}, ensure_ascii=False) + "\n").encode("utf-8"))
    stats = {"model": model, "accepted_completions": len(captures), "samples": len(out),
             "dropped": dict(sorted(dropped.items())), "summary": summary(model, len(out), len(captures))}
    return out, stats
