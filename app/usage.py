"""What the serve endpoint's usage records say: requests, errors, cancellations, rejections, p50/p95/p99 of total and
first-token time and tokens/s, and acceptance from the editors' events (completions shown, accepted, the rate with
its Wilson 95% interval, accepted characters per request), overall, by model, by capability and by key, over a
window (`--since 1d`); `compare` sets two models side by side with the interval of each difference."""
from __future__ import annotations

import datetime as _dt
import re

from app import routes as routing
from app.errors import StudioError
from app.store import iso
from app.workspace import Workspace
from eval.latency import percentile

_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
STATUSES = ("ok", "error", "cancelled", "rejected")


def parse_since(since: str | None, now: _dt.datetime) -> str | None:
    """'90s', '15m', '6h', '1d', '2w' or 'all' → the ISO time the window starts at (None: everything)."""
    if since is None or since == "all":
        return None
    m = _SINCE.match(since.strip().lower())
    if not m:
        try:
            return iso(_dt.datetime.fromisoformat(since))
        except ValueError:
            raise StudioError(f"--since {since!r}: give a duration such as 90s, 15m, 6h, 1d, 2w, an ISO time, "
                              "or all") from None
    return iso(now - _dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)]))


def summarize(rows: list[dict], events: dict[str, dict] | None = None) -> dict:
    """The numbers of one group of request rows (latencies over the answered generations)."""
    counts = {s: 0 for s in STATUSES}
    for r in rows:
        counts[r["status"]] += 1
    done = [r for r in rows if r["status"] == "ok" and r["completion_id"] and r["total_ms"] is not None]
    totals = [r["total_ms"] for r in done]
    firsts = [r["first_token_ms"] for r in done if r["first_token_ms"] is not None]
    decode_ms = sum(r["total_ms"] - (r["first_token_ms"] or 0) for r in done if r["completion_tokens"])
    decoded = sum(max(0, (r["completion_tokens"] or 0) - 1) for r in done)
    out = {"requests": len(rows), **{("errors" if s == "error" else s): counts[s] for s in STATUSES}}
    out["ok"] = counts["ok"]
    for name, values in (("", totals), ("first_token_", firsts)):
        for q in (50, 95, 99):
            value = percentile(values, q)
            out[f"{name}p{q}_ms"] = None if value is None else round(value, 2)
    out["tokens_per_second"] = round(decoded / (decode_ms / 1000), 2) if decode_ms > 0 else None
    out["prompt_tokens"] = sum(r["prompt_tokens"] or 0 for r in rows)
    out["completion_tokens"] = sum(r["completion_tokens"] or 0 for r in rows)
    if events is not None:
        out["acceptance"] = acceptance(rows, events)
    return out


def acceptance(rows: list[dict], events: dict[str, dict]) -> dict:
    """Completions shown (a view or a select event) and accepted (a select), the rate with its Wilson interval,
    accepted characters per answered request. `events`: completion id -> {kinds: set, accepted_chars: int}."""
    from eval.stats import wilson

    answered = [r for r in rows if r["status"] == "ok" and r["completion_id"]]
    shown = accepted = chars = 0
    for r in answered:
        ev = events.get(r["completion_id"])
        if ev is None:
            continue
        if ev["kinds"] & {"view", "select"}:
            shown += 1
        if "select" in ev["kinds"]:
            accepted += 1
            chars += ev["accepted_chars"] if ev["accepted_chars"] is not None else (r["completion_chars"] or 0)
    rate = accepted / shown if shown else None
    return {"shown": shown, "accepted": accepted, "rate": None if rate is None else round(rate, 4),
            "ci95": [round(v, 4) for v in wilson(accepted, shown)] if shown else None,
            "accepted_chars_per_request": round(chars / len(answered), 2) if answered else None}


def _events(store, since: str | None) -> dict[str, dict]:
    sql = "SELECT completion_id, kind, accepted_chars FROM completion_events"
    params: list = []
    if since is not None:
        sql += " WHERE completion_id IN (SELECT completion_id FROM serve_requests WHERE time >= ?)"
        params.append(since)
    out: dict[str, dict] = {}
    for cid, kind, chars in store.conn.execute(sql, params):
        _add_event(out, cid, kind, chars)
    return out


def served(store, model_ids: list[str]) -> tuple[list[dict], dict[str, dict]]:
    """Every request row of these models, oldest first, and the editors' events on their completions."""
    marks = ", ".join("?" for _ in model_ids)
    rows = store.query(f"SELECT * FROM serve_requests WHERE model_id IN ({marks}) ORDER BY time, id", list(model_ids))
    out: dict[str, dict] = {}
    for cid, kind, chars in store.conn.execute(
            "SELECT e.completion_id, e.kind, e.accepted_chars FROM completion_events e JOIN serve_requests r "
            f"ON r.completion_id = e.completion_id WHERE r.model_id IN ({marks})", list(model_ids)):
        _add_event(out, cid, kind, chars)
    return rows, out


def _add_event(out: dict, cid: str, kind: str, chars: int | None) -> None:
    ev = out.setdefault(cid, {"kinds": set(), "accepted_chars": None})
    ev["kinds"].add(kind)
    if kind == "select" and chars is not None:
        ev["accepted_chars"] = chars


def _resolve(store, model: str) -> str:
    model_id = routing.resolve(store, model)
    if model_id is None:
        raise StudioError(f"{model!r} is neither a model id, an alias nor a routed capability of this workspace")
    return model_id


def _load(ws: Workspace, since: str | None, model_ids: list[str] | None) -> tuple[str | None, list[dict], dict]:
    with ws.store() as store:
        return load(store, since, model_ids)


def load(store, since: str | None, model_ids: list[str] | None = None) -> tuple[str | None, list[dict], dict]:
    """The window's start, its request rows (of these models; None: all), and the editors' events on them."""
    start = parse_since(since, store.clock())
    sql, params = "SELECT * FROM serve_requests WHERE 1=1", []
    if model_ids is not None:
        sql += f" AND model_id IN ({', '.join('?' for _ in model_ids)})"
        params += model_ids
    if start is not None:
        sql += " AND time >= ?"
        params.append(start)
    return start, store.query(sql + " ORDER BY id", params), _events(store, start)


def grouped(rows: list[dict], field: str, empty: str, events: dict) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r[field] or empty, []).append(r)
    return {k: summarize(v, events) for k, v in sorted(groups.items())}


def usage(ws: Workspace, model: str | None = None, since: str | None = "1d") -> dict:
    """Usage of the served models; MODEL is an id or a stage alias (its newest version)."""
    model_id = None
    if model is not None:
        with ws.store() as store:
            model_id = _resolve(store, model)
    start, rows, events = _load(ws, since, [model_id] if model_id else None)
    return {"since": start, "model": model_id, **summarize(rows, events),
            "by_model": grouped(rows, "model_id", "(none)", events),
            "by_capability": grouped([r for r in rows if r["capability"]], "capability", "", events),
            "by_key": grouped(rows, "key_name", "(no key)", events),
            "by_endpoint": grouped(rows, "endpoint", "", events)}


def newcombe(a: tuple[int, int], b: tuple[int, int]) -> list[float] | None:
    """Newcombe's hybrid score interval (from the two Wilson intervals) of p_a - p_b; (successes, n) each."""
    from eval.stats import wilson

    (xa, na), (xb, nb) = a, b
    if not na or not nb:
        return None
    pa, pb = xa / na, xb / nb
    (la, ua), (lb, ub) = wilson(xa, na), wilson(xb, nb)
    d = pa - pb
    return [round(d - ((pa - la) ** 2 + (ub - pb) ** 2) ** 0.5, 4), round(d + ((ua - pa) ** 2 + (pb - lb) ** 2) ** 0.5, 4)]


def verdict(a: str, b: str, diff: list[float] | None) -> str:
    """Which of two models is accepted more often, when the interval of the difference (a - b) excludes zero."""
    if diff is not None and (diff[0] > 0 or diff[1] < 0):
        return f"{a if diff[0] > 0 else b} is accepted more often"
    return "not enough evidence"


def median_difference(a: list[float], b: list[float], resamples: int = 2000, seed: int = 42) -> dict | None:
    """median(a) - median(b) with a seeded bootstrap 95% interval (the two samples resampled independently)."""
    import numpy as np

    if not a or not b:
        return None
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    boot = (np.median(xa[rng.integers(0, len(xa), (resamples, len(xa)))], axis=1)
            - np.median(xb[rng.integers(0, len(xb), (resamples, len(xb)))], axis=1))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {"value": round(float(np.median(xa) - np.median(xb)), 2), "ci95": [round(float(lo), 2), round(float(hi), 2)]}


def compare(ws: Workspace, a: str, b: str, since: str | None = "all") -> dict:
    """Two served models side by side: acceptance (difference with Newcombe's interval) and latency (difference of
    medians, bootstrap interval), and which is better where the interval says so."""
    with ws.store() as store:
        ids = [_resolve(store, a), _resolve(store, b)]
    if ids[0] == ids[1]:
        raise StudioError(f"{a} and {b} are the same model ({ids[0]})")
    start, rows, events = _load(ws, since, ids)
    sides = {}
    for model_id in ids:
        mine = [r for r in rows if r["model_id"] == model_id]
        sides[model_id] = {**summarize(mine, events),
                           "_totals": [r["total_ms"] for r in mine if r["status"] == "ok" and r["completion_id"]]}
    acc = [sides[i]["acceptance"] for i in ids]
    diff = newcombe((acc[0]["accepted"], acc[0]["shown"]), (acc[1]["accepted"], acc[1]["shown"]))
    latency = median_difference(sides[ids[0]].pop("_totals"), sides[ids[1]].pop("_totals"))
    return {"since": start, "a": ids[0], "b": ids[1], "models": sides,
            "acceptance_difference": {"value": None if diff is None else round(acc[0]["rate"] - acc[1]["rate"], 4),
                                      "ci95": diff},
            "p50_ms_difference": latency, "verdict": verdict(ids[0], ids[1], diff)}


def render(result: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v:.0f}"

    lines = [f"since {result['since'] or 'the beginning'}: {result['requests']} request(s), {result['ok']} ok, "
             f"{result['errors']} error(s), {result['cancelled']} cancelled, {result['rejected']} rejected"]
    header = f"{'':40} {'requests':>8} {'ok':>6} {'err':>5} {'cancel':>6} {'p50':>6} {'p95':>6} {'p99':>6} " \
             f"{'ttft95':>6} {'tok/s':>6}  acceptance"
    for title, groups in (("by model", result["by_model"]), ("by capability", result["by_capability"]),
                          ("by key", result["by_key"])):
        if not groups:
            continue
        lines += ["", title, header]
        for name, g in groups.items():
            tps = "-" if g["tokens_per_second"] is None else f"{g['tokens_per_second']:.1f}"
            lines.append(f"{name[:40]:40} {g['requests']:>8} {g['ok']:>6} {g['errors']:>5} {g['cancelled']:>6} "
                         f"{ms(g['p50_ms']):>6} {ms(g['p95_ms']):>6} {ms(g['p99_ms']):>6} "
                         f"{ms(g['first_token_p95_ms']):>6} {tps:>6}  {_acc_text(g.get('acceptance'))}")
    return "\n".join(lines)


def _acc_text(acc: dict | None) -> str:
    if not acc or not acc["shown"]:
        return "-"
    return f"{acc['rate']:.3f} [{acc['ci95'][0]:.3f}, {acc['ci95'][1]:.3f}] of {acc['shown']}"


def render_compare(result: dict) -> str:
    lines = []
    for model_id, side in result["models"].items():
        lines.append(f"{model_id}: {side['requests']} request(s), p50 {side['p50_ms']} ms, p95 {side['p95_ms']} ms, "
                     f"acceptance {_acc_text(side.get('acceptance'))}")
    acc, lat = result["acceptance_difference"], result["p50_ms_difference"]
    if acc["ci95"]:
        lines.append(f"acceptance difference {acc['value']:+.3f} [{acc['ci95'][0]:+.3f}, {acc['ci95'][1]:+.3f}]")
    if lat:
        lines.append(f"p50 difference {lat['value']:+.1f} ms [{lat['ci95'][0]:+.1f}, {lat['ci95'][1]:+.1f}]")
    lines.append(result["verdict"])
    return "\n".join(lines)
