"""Per-sample eval scores in the lineage store (table eval_samples) and what is computed from them: a 95% interval
for every recorded metric and a paired interval for every candidate-vs-base delta (eval.stats).

Every reader (eval --json, the checklist, LINEAGE.md and the HF card, the Benchmarks pane) asks `describe` for a
recorded eval row, so the numbers agree everywhere. Rows recorded before per-sample scores existed get no interval
(`ci95` None) and say so; they are never given a made-up one.
"""
from __future__ import annotations

import json
from functools import lru_cache

from app.store import Store
from eval import stats
from eval.suites import lower_is_better

SCORE_KEYS = ("value", "ci95", "n", "method", "indicative", "warning")
DELTA_KEYS = ("delta", "delta_ci95", "significant", "better", "p_value")
SAMPLE_NOUN = {"humaneval": "tasks", "latency": "contexts"}  # what a suite's samples are; default: held-out samples


def noun(suite: str) -> str:
    return SAMPLE_NOUN.get(suite, "held-out samples")


@lru_cache(maxsize=None)
def statistics(suite: str) -> dict[str, stats.Statistic]:
    """metric -> statistic over per-sample scores, for the suites the studio runs (empty for others)."""
    if suite in ("internal", "general"):
        from eval.internal import STATISTICS
    elif suite == "humaneval":
        from eval.humaneval import STATISTICS
    elif suite == "latency":
        from eval.latency import STATISTICS
    else:
        return {}
    return STATISTICS


def select(samples: list[dict], category: str | None) -> list[dict]:
    """The samples a row's category covers: all for None and "overall", those without one for "uncategorized"."""
    if category in (None, "overall"):
        return samples
    if category == "uncategorized":
        return [s for s in samples if not s.get("category")]
    return [s for s in samples if s.get("category") == category]


def summary(suite: str, samples: list[dict], metric: str, category: str | None) -> dict | None:
    """{value, ci95, n, method, indicative, warning} of one metric over its samples; None when the suite has no
    statistic for it."""
    stat = statistics(suite).get(metric)
    if stat is None:
        return None
    chosen = select(samples, category)
    out = stats.summarize(chosen, stat)
    out["indicative"] = category not in (None, "overall") and out["n"] < stats.MIN_CATEGORY_SAMPLES
    out["warning"] = stats.warning(out["n"], noun(suite))
    return out


def comparison(suite: str, candidate: list[dict], base: list[dict], metric: str, category: str | None) -> dict | None:
    """{delta, delta_ci95, n, significant, better, p_value}: paired over the samples both models scored."""
    stat = statistics(suite).get(metric)
    if stat is None:
        return None
    return stats.paired_delta(select(candidate, category), select(base, category), stat,
                              lower_is_better=lower_is_better(metric))


def suite_intervals(suite: str, rows: list[tuple], samples: list[dict],
                    base_samples: list[dict] | None = None) -> dict[tuple[str, str | None], dict]:
    """For each recorded (metric, category, value) row: its summary, plus the paired comparison with the base when
    base samples are given. Keyed by (metric, category)."""
    out = {}
    for metric, category, _ in rows:
        info = summary(suite, samples, metric, category)
        if info is None:
            continue
        if base_samples is not None:
            paired = comparison(suite, samples, base_samples, metric, category)
            info.update({k: paired[k] for k in DELTA_KEYS}, paired_n=paired["n"])
        out[(metric, category)] = info
    return out


# -- the store ------------------------------------------------------------------------------------------------------
def record_samples(store: Store, run_id: str | None, model_id: str, suite: str, settings_hash: str,
                   samples: list[dict]) -> int:
    """Store one row per sample: its key, category and numeric scores (what the intervals are computed from)."""
    created = store.now()
    rows = []
    for s in samples:
        scores = {k: v for k, v in s.items() if k not in ("key", "category") and isinstance(v, (int, float, type(None)))
                  and not isinstance(v, bool)}
        rows.append((run_id, model_id, suite, settings_hash, str(s["key"]), s.get("category"),
                     json.dumps(scores, sort_keys=True), created))
    with store.conn:  # samples recorded again for the same run and settings replace the earlier ones
        store.conn.execute("DELETE FROM eval_samples WHERE run_id IS ? AND model_id = ? AND suite = ? "
                           "AND settings_hash = ?", [run_id, model_id, suite, settings_hash])
        store.conn.executemany(
            "INSERT INTO eval_samples (run_id, model_id, suite, settings_hash, sample_key, category, scores, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def load_samples(store: Store, row: dict) -> list[dict]:
    """The per-sample scores behind a recorded eval row (same model, suite, settings and run); [] when none."""
    found = store.query(
        "SELECT sample_key, category, scores FROM eval_samples WHERE model_id = ? AND suite = ? AND settings_hash = ? "
        "AND run_id IS ? ORDER BY id", [row["model_id"], row["suite"], row["settings_hash"], row.get("run_id")])
    return [{"key": r["sample_key"], "category": r["category"], **json.loads(r["scores"])} for r in found]


def describe(store: Store, row: dict, base_row: dict | None = None) -> dict:
    """A recorded eval row with its uncertainty: {value, ci95, n, method, indicative, warning} and, with a base row
    of the same settings, {delta, delta_ci95, significant, better}. Without per-sample scores: ci95 None, n None."""
    out = {"value": row["value"], "ci95": None, "n": None, "method": None, "indicative": False, "warning": None}
    samples = load_samples(store, row)
    info = summary(row["suite"], samples, row["metric"], row["category"]) if samples else None
    if info is not None:
        out.update(info)
        out["value"] = row["value"]  # the recorded number stays the number (it equals the statistic)
    if base_row is not None and base_row.get("value") is not None and row["value"] is not None:
        out.update({"delta": row["value"] - base_row["value"], "delta_ci95": None, "significant": None,
                    "better": None})
        base_samples = load_samples(store, base_row) if samples else []
        paired = (comparison(row["suite"], samples, base_samples, row["metric"], row["category"])
                  if base_samples else None)
        if paired is not None and paired["n"]:
            out.update({k: paired[k] for k in DELTA_KEYS if k != "delta"}, paired_n=paired["n"])
    return out


def fmt_ci(ci, digits: str = ".3g", signed: bool = False) -> str:
    """"[lo, hi]" of an interval (empty text when there is none)."""
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    f = ("+" if signed else "") + digits
    return f"[{format(ci[0], f)}, {format(ci[1], f)}]"


def value_cell(value: float | None, info: dict | None, missing: str = "not measured") -> str:
    """"0.84 [0.8, 0.87]": a number with its 95% interval (just the number when none was recorded)."""
    if value is None:
        return missing
    ci = fmt_ci((info or {}).get("ci95"), ".3g")
    return format(value, ".4g") + (f" {ci}" if ci else "")


def delta_cell(info: dict | None) -> str:
    """"+0.23 [+0.18, +0.28] significant" / "+0.001 [-0.02, +0.02] within noise" / "–" without a base."""
    if not info or info.get("delta") is None:
        return "–"
    ci = fmt_ci(info.get("delta_ci95"), "+.3g")
    return " ".join(p for p in (format(info["delta"], "+.4g"), ci, verdict(info)) if p)


def notes(info: dict | None, name: str) -> list[str]:
    """The warnings a number carries: too few samples to decide, a category that is indicative only."""
    info = info or {}
    out = [info["warning"]] if info.get("warning") else []
    if info.get("indicative"):
        out.append(f"{name}: indicative only (a category of {info['n']} samples, fewer than "
                   f"{stats.MIN_CATEGORY_SAMPLES})")
    return out


def verdict(info: dict) -> str:
    """How a delta reads: "significant" / "within noise" / "" when no paired interval exists."""
    if info.get("significant") is None:
        return ""
    return "significant" if info["significant"] else "within noise"


# -- an eval run ----------------------------------------------------------------------------------------------------


def record_run(store: Store, run_id: str, suite: str, settings_hash: str, model_id: str, out: dict,
               baseline_id: str | None = None, base_out: dict | None = None) -> dict:
    """Store the per-sample scores of a run (candidate and baseline) and compute every interval and paired delta.
    `out`/`base_out` carry `rows` [(metric, category, value)] and `per_sample`. Returns {candidate: {(metric,
    category): info}, baseline: {...}} for the recorded rows' details and `eval --json`."""
    record_samples(store, run_id, model_id, suite, settings_hash, out["per_sample"])
    base_samples = None
    if base_out is not None:
        base_samples = base_out["per_sample"]
        record_samples(store, run_id, baseline_id, suite, settings_hash, base_samples)
    cand = suite_intervals(suite, out["rows"], out["per_sample"], base_samples)
    base = suite_intervals(suite, base_out["rows"], base_samples) if base_out is not None else {}
    return {"candidate": cand, "baseline": base}


def row_details(info: dict | None) -> dict:
    """What an eval_results row keeps of its interval (details JSON)."""
    if not info:
        return {}
    return {k: info[k] for k in ("ci95", "n", "method", "indicative", "delta_ci95", "significant", "p_value")
            if k in info}


def json_rows(infos: dict, with_deltas: bool) -> tuple[list[dict], list[dict]]:
    """(scores, comparisons) as `eval --json` lists them: value/ci95/n per metric, delta/delta_ci95/significant per
    comparison with the baseline."""
    scores, comparisons = [], []
    for (metric, category), info in infos.items():
        scores.append({"metric": metric, "category": category, **{k: info.get(k) for k in SCORE_KEYS}})
        if with_deltas and "delta" in info:
            comparisons.append({"metric": metric, "category": category, "n": info.get("paired_n"),
                                **{k: info.get(k) for k in DELTA_KEYS}})
    return scores, comparisons


def markdown_table(rows: list[dict], first: str, base_label: str, model_label: str) -> list[str]:
    """The performance rows of one suite (app.evidence.performance) as a markdown table with 95% intervals and the
    paired delta, followed by the warnings its numbers carry (LINEAGE.md and the HF card share it)."""
    out = [f"| {first} | {base_label} | {model_label} | delta (paired 95% CI) | n |", "|---|---|---|---|---|"]
    warnings: list[str] = []
    for r in rows:
        name = r["metric"] + (f" [{r['category']}]" if r["category"] else "")
        info = r.get("uncertainty") or {}
        out.append(f"| {name} | {value_cell(r['base'], r.get('base_uncertainty'))} | {value_cell(r['value'], info)} | "
                   f"{delta_cell(info) if r['delta'] is not None else '–'} | {info.get('n') or 'not recorded'} |")
        warnings += [w for w in notes(info, name) if w not in warnings]
    if any(r.get("uncertainty", {}).get("ci95") is None for r in rows):
        warnings.append("numbers without an interval were recorded without per-sample scores")
    return out + ([""] + [f"- {w}" for w in warnings] if warnings else [])


def annotate(store: Store, candidate: str, baseline: str | None, rows: list[dict]) -> list[dict]:
    """Add each compared row's uncertainty (the Benchmarks pane's rows: suite, metric, category): the candidate's
    current row described against the baseline's row of the same settings, when there is one."""
    latest = {(r["suite"], r["metric"], r["category"]): r for r in store.eval_results(candidate)}
    for row in rows:
        cand = latest.get((row["suite"], row["metric"], row["category"]))
        if cand is None or cand["value"] is None:
            row["uncertainty"] = {}
            continue
        base = store.one("SELECT * FROM eval_results WHERE model_id = ? AND suite = ? AND metric = ? AND category IS ? "
                         "AND settings_hash = ? ORDER BY id DESC LIMIT 1",
                         [baseline, cand["suite"], cand["metric"], cand["category"], cand["settings_hash"]]) \
            if baseline else None
        row["uncertainty"] = describe(store, cand, base)
    return rows
