"""The internal benchmark: the model completes each held-out snippet of a dataset snapshot (heldout.jsonl, format in
docs/CONVENTIONS.md); exact match of the first line and of the whole, and edit similarity (rapidfuzz's normalized
Levenshtein), per category and overall. FIM samples are re-laid in the evaluated model's own FIM format (or as a
plain prefix when it has none), so a base and a candidate with different tokenizers see the same task."""
from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path
from typing import Callable

from eval.prompts import completion_prompt, completion_stops
from eval.stats import Statistic
from training.fileio import JsonLinesError, iter_jsonl
from training.fim import split as split_fim  # noqa: F401 (the readers of held-out files use it from here)

METRICS = ("exact_match_line", "exact_match", "edit_similarity", "score")
# Each metric as a statistic over the per-sample scores (eval.stats gives it an interval from them).
STATISTICS = {"exact_match_line": Statistic("exact_match_line"), "exact_match": Statistic("exact_match"),
              "edit_similarity": Statistic("edit_similarity"), "score": Statistic("edit_similarity")}


class InternalBenchmarkError(ValueError):
    """A held-out file that cannot be used (one line for the user)."""


def read_heldout(path: Path | str, limit: int | None = None) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InternalBenchmarkError(f"{path} does not exist (the snapshot has no held-out split)")
    rows = []
    try:
        for number, row in iter_jsonl(path):
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) \
                    or not isinstance(row.get("completion"), str):
                raise InternalBenchmarkError(f"{path}:{number} needs string prompt and completion fields")
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    except JsonLinesError as exc:
        raise InternalBenchmarkError(f"{path}: {exc}") from None
    if not rows:
        raise InternalBenchmarkError(f"{path} holds no held-out samples")
    return rows


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def score_one(prediction: str, expected: str) -> dict:
    """Scores of one prediction, compared over as many lines as the expected completion has."""
    from rapidfuzz.distance import Levenshtein

    want = _lines(expected)
    got = _lines(prediction)[: max(1, len(want))]
    first_want = next((line.strip() for line in want if line.strip()), "")
    first_got = next((line.strip() for line in got if line.strip()), "")
    whole_want, whole_got = "\n".join(want).strip(), "\n".join(got).strip()
    return {"exact_match_line": float(first_got == first_want),
            "exact_match": float(whole_got == whole_want),
            "edit_similarity": Levenshtein.normalized_similarity(whole_got, whole_want)}


def aggregate(scored: list[dict]) -> dict[str, dict[str, float]]:
    """{category: {metric: mean}} with an `overall` entry; score = edit_similarity."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in scored:
        groups[row.get("category") or "uncategorized"].append(row)
        groups["overall"].append(row)
    out = {}
    for category, rows in groups.items():
        means = {m: sum(r[m] for r in rows) / len(rows) for m in ("exact_match_line", "exact_match", "edit_similarity")}
        means["score"] = means["edit_similarity"]
        means["samples"] = len(rows)
        out[category] = means
    return out


def run(backend, rows: list[dict], *, max_tokens: int = 128, progress: Callable[[dict], None] | None = None,
        cancel: threading.Event | None = None) -> dict:
    """Complete every held-out row greedily; {metrics: {category: {...}}, results: [...]}."""
    scored = []
    for number, row in enumerate(rows, 1):
        if cancel is not None and cancel.is_set():
            break
        parts = split_fim(row["prompt"]) if row.get("kind") == "fim" else None
        prompt = completion_prompt(*parts, backend.fim) if parts else row["prompt"]
        budget = min(max_tokens, backend.count_tokens(row["completion"]) + 8)
        out = backend.complete(prompt, max_tokens=max(8, budget), stop=completion_stops(backend.fim), cancel=cancel)
        scores = score_one(out.text, row["completion"])
        scored.append({"key": str(row.get("id") or f"sample-{number}"), "id": row.get("id"),
                       "category": row.get("category"), "language": row.get("language"),
                       "prediction": out.text, **scores})
        if progress:
            progress({"event": "sample", "done": number, "total": len(rows),
                      "message": f"internal {number}/{len(rows)}: edit similarity {scores['edit_similarity']:.2f}"})
    return {"metrics": aggregate(scored) if scored else {}, "results": scored}


def deltas(candidate: dict, base: dict) -> dict:
    """candidate - base per category and metric, for the categories both have."""
    return {cat: {m: candidate[cat][m] - base[cat][m] for m in METRICS if m in candidate[cat] and m in base[cat]}
            for cat in candidate if cat in base}
