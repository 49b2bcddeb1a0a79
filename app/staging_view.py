"""What the Staging pane shows, from the serve records in the store: the request rate now, p50/p95 of real traffic,
acceptance per model with its Wilson interval, each A/B split with its verdict, and the latest errors.

Everything comes from `serve_requests` and `completion_events` over a window of the store's clock, so the pane, the
`usage` command and the checklist's staging items read the same rows the same way."""
from __future__ import annotations

import datetime as _dt

from app import usage
from app.serve.splits import parse_split
from app.store import iso

WINDOWS = ("1h", "1d", "14d", "all")
RATE_SECONDS = 60  # the "now" of the request rate
ERRORS_SHOWN = 10


def snapshot(store, since: str = "1d") -> dict:
    """The Staging pane's numbers for the window `since` (a duration such as 1d, or all)."""
    start, rows, events = usage.load(store, since)
    now = store.clock()
    recent = store.conn.execute("SELECT COUNT(*) FROM serve_requests WHERE time >= ?",
                                (iso(now - _dt.timedelta(seconds=RATE_SECONDS)),)).fetchone()[0]
    last = store.conn.execute("SELECT MAX(time) FROM serve_requests").fetchone()[0]
    errors = store.query("SELECT time, endpoint, model_id, key_name, http_status, error FROM serve_requests "
                         "WHERE status IN ('error', 'rejected') ORDER BY id DESC LIMIT ?", (ERRORS_SHOWN,))
    return {"since": start, "window": since, "now": iso(now), "last_request": last,
            "rate_per_minute": round(recent * 60 / RATE_SECONDS, 1), "total": usage.summarize(rows, events),
            "by_model": usage.grouped([r for r in rows if r["model_id"]], "model_id", "(none)", events),
            "splits": splits(rows, events), "errors": errors}


def splits(rows: list[dict], events: dict) -> list[dict]:
    """Each split seen in the window: its arms (in the order given at `serve --split`) with their traffic and
    acceptance, and every other arm against the first with the interval of the difference and a verdict."""
    out = []
    labels = sorted({r["split"] for r in rows if r["split"]})
    for label in labels:
        try:
            capability, arms = parse_split(label)
        except ValueError:  # a label from an older server: shown as it is, without arms
            out.append({"label": label, "capability": None, "arms": [], "comparisons": []})
            continue
        mine = [r for r in rows if r["split"] == label]
        sides = [{"model_id": model, "weight": weight,
                  **usage.summarize([r for r in mine if r["model_id"] == model], events)} for model, weight in arms]
        comparisons = []
        first = sides[0]
        for other in sides[1:]:
            a, b = other["acceptance"], first["acceptance"]
            diff = usage.newcombe((a["accepted"], a["shown"]), (b["accepted"], b["shown"]))
            comparisons.append({"a": other["model_id"], "b": first["model_id"],
                                "difference": None if diff is None else round(a["rate"] - b["rate"], 4),
                                "ci95": diff, "verdict": usage.verdict(other["model_id"], first["model_id"], diff)})
        out.append({"label": label, "capability": capability, "arms": sides, "comparisons": comparisons})
    return out
