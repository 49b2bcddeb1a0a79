"""Promotion checklists as data (assets/checklists/<stage>.toml, overridden by <workspace>/checklists/<stage>.toml)
and the checks that turn what the store recorded into evidence: each item passes or fails and says why.

An item with no data fails with "not measured": a checklist never passes on a missing number.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import operator
import tomllib
from pathlib import Path
from typing import Callable

from app import evidence as ev
from app import intervals
from app.errors import StudioError
from app.store import Store
from eval import stats
from eval.suites import lower_is_better
from app.workspace import Workspace

NEXT_STAGE = {"research": "internal", "internal": "production"}
STAGES_WITH_CHECKLISTS = ("internal", "production")
_COMMON = {"name", "check", "description"}
_COMPARISONS = {"at_least": (operator.ge, "≥"), "at_most": (operator.le, "≤"),
                "above": (operator.gt, ">"), "below": (operator.lt, "<")}
# check -> (required keys, optional keys)
PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "metric": ({"suite", "metric"}, {"category", "on", *_COMPARISONS}),
    "no-regression": ({"suite", "metric", "margin"}, {"category"}),
    "secret-scan": (set(), set()),
    "attribution": (set(), set()),
    "artifacts-verified": (set(), {"skip_kinds"}),
    "not-expired": (set(), set()),
    "approval": (set(), {"require_note"}),
    "min-days-in-stage": ({"stage", "days"}, set()),
    "staging-days": ({"days"}, set()),
    "staging-requests": ({"at_least"}, set()),
    "staging-p95": ({"below_ms"}, set()),
    "staging-acceptance": ({"floor"}, set()),
}


def default_dir() -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files("assets.checklists")))


def source_of(ws: Workspace, stage: str) -> Path:
    """The checklist file in force for a stage: the workspace's override, else the default."""
    override = ws.root / "checklists" / f"{stage}.toml"
    return override if override.is_file() else default_dir() / f"{stage}.toml"


def load(ws: Workspace, stage: str, _including: tuple[str, ...] = ()) -> dict:
    """The checklist to `stage`: {stage, from_stages, items, sources}; a malformed file is a one-line StudioError."""
    if stage not in STAGES_WITH_CHECKLISTS:
        raise StudioError(f"no promotion checklist for stage {stage!r}; stages: {', '.join(STAGES_WITH_CHECKLISTS)}")
    path = source_of(ws, stage)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StudioError(f"cannot read checklist {path}: {exc}") from None
    where = f"checklist {path}"
    if data.get("stage") != stage:
        raise StudioError(f"{where} says stage = {data.get('stage')!r}, expected {stage!r}")
    unknown = set(data) - {"stage", "from_stages", "include", "items"}
    if unknown:
        raise StudioError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    items: list[dict] = []
    sources = [str(path)]
    include = data.get("include")
    if include:
        if include in _including or include == stage:
            raise StudioError(f"{where} includes {include!r} in a cycle")
        inner = load(ws, include, _including + (stage,))
        items.extend(inner["items"])
        sources.extend(inner["sources"])
    own = data.get("items", [])
    if not isinstance(own, list):
        raise StudioError(f"{where}: items must be an array of tables ([[items]])")
    for raw in own:
        items.append(_validate_item(raw, where))
    names = [i["name"] for i in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StudioError(f"{where}: item names repeat: {', '.join(dupes)}")
    from_stages = data.get("from_stages", [])
    if not isinstance(from_stages, list) or not from_stages:
        raise StudioError(f"{where}: from_stages must list the stages a model may be promoted from")
    return {"stage": stage, "from_stages": from_stages, "items": items, "sources": sources}


def _validate_item(raw: dict, where: str) -> dict:
    if not isinstance(raw, dict) or not raw.get("name") or not raw.get("check"):
        raise StudioError(f"{where}: every item needs a name and a check")
    check = raw["check"]
    if check not in PARAMS:
        raise StudioError(f"{where}: item {raw['name']!r} has unknown check {check!r}; known: {', '.join(PARAMS)}")
    required, optional = PARAMS[check]
    missing = required - raw.keys()
    extra = raw.keys() - required - optional - _COMMON
    if missing or extra:
        parts = ([f"missing {', '.join(sorted(missing))}"] if missing else []) + \
                ([f"unknown {', '.join(sorted(extra))}"] if extra else [])
        raise StudioError(f"{where}: item {raw['name']!r} ({check}): {'; '.join(parts)}")
    if check == "metric" and len(_COMPARISONS.keys() & raw.keys()) != 1:
        raise StudioError(f"{where}: item {raw['name']!r} needs exactly one of {', '.join(_COMPARISONS)}")
    for key in ("margin", "days", "below_ms", "floor", *_COMPARISONS):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], (int, float))):
            raise StudioError(f"{where}: item {raw['name']!r}: {key} must be a number")
    return dict(raw)


# -- evaluating ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Subject:
    """The model under review and what the checks share."""
    ws: Workspace
    store: Store
    model: dict
    now: _dt.datetime

    def __post_init__(self) -> None:
        self.ids = ev.evidence_ids(self.store, self.model)
        self.base = ev.base_model(self.store, self.model)

    def path(self, p) -> str:
        return ev.display_path(p, self.ws.root)


def num(value: float) -> str:
    return format(value, ".4g")


def _label(item: dict) -> str:
    return f"{item['suite']} {item['metric']}" + (f" [{item['category']}]" if item.get("category") else "")


def _measured_on(s: Subject, row: dict) -> tuple[dict | None, str]:
    art = s.store.one("SELECT * FROM artifacts WHERE id = ?", [row["artifact_id"]]) if row["artifact_id"] else None
    bits = [f"model {row['model_id']}"]
    if row.get("run_id"):
        bits.append(f"run {row['run_id']}")
    if art is not None:
        bits.append(f"on {art['kind']}{' ' + art['quant_type'] if art['quant_type'] else ''} {s.path(art['path'])}")
    bits.append(f"settings {row['settings_hash'][:12]}")
    bits.append(row["created"][:10])
    return art, ", ".join(bits)


def _metric(s: Subject, item: dict) -> tuple[bool, str]:
    row = ev.latest_evals(s.store, s.ids, item["suite"]).get((item["metric"], item.get("category")))
    if row is None or row["value"] is None:
        return False, f"not measured: no {_label(item)} result (run `blackroad-studio eval {s.model['id']} --suite {item['suite']}`)"
    key = next(k for k in _COMPARISONS if k in item)
    op, sym = _COMPARISONS[key]
    art, where = _measured_on(s, row)
    statement = f"{item['metric']} = {num(row['value'])}"
    if item.get("on") and (art is None or art["kind"] != item["on"]):
        what = art["kind"] if art is not None else "no recorded artifact"
        return False, f"{statement} was measured on {what}, not on a {item['on']} artifact ({where})"
    info = intervals.describe(s.store, row)
    passed = bool(op(row["value"], item[key]))
    notes = []
    if stats.straddles(info["ci95"], item[key]):
        notes.append(f"the 95% interval straddles {num(item[key])}: the data cannot tell which side it is on")
    return passed, (f"{statement} {sym if passed else 'not ' + sym} {num(item[key])} ({where}); {_interval(info)}"
                    + _notes(notes, info))


def _interval(info: dict) -> str:
    """"95% CI [lo, hi], n=N" of a number, or why there is none."""
    if info.get("ci95") is None:
        return "no interval (per-sample scores not recorded)"
    return f"95% CI {intervals.fmt_ci(info['ci95'], '.4g')}, n={info['n']}"


def _notes(notes: list[str], info: dict) -> str:
    notes = notes + [w for w in (info.get("warning"),) if w]
    notes += ["indicative only: a category of fewer than "
              f"{stats.MIN_CATEGORY_SAMPLES} samples"] if info.get("indicative") else []
    return "".join(f"; {n}" for n in notes)


def _no_regression(s: Subject, item: dict) -> tuple[bool, str]:
    row = ev.latest_evals(s.store, s.ids, item["suite"]).get((item["metric"], item.get("category")))
    if row is None or row["value"] is None:
        return False, f"not measured: no {_label(item)} result for this model"
    base_row = ev.baseline_row(s.store, row, s.base["id"] if s.base else None)
    if base_row is None or base_row["value"] is None:
        baseline = row.get("baseline_model_id") or (s.base["id"] if s.base else "the base")
        return False, (f"not measured: no {_label(item)} of {baseline} with the same settings "
                       f"({row['settings_hash'][:12]}); run eval with --baseline {baseline}")
    cand, base = row["value"], base_row["value"]
    worse = (cand - base) if lower_is_better(item["metric"]) else (base - cand)
    info = intervals.describe(s.store, row, base_row)
    if info.get("significant") is None:  # rows without per-sample scores: only the point values to go on
        passed = worse <= item["margin"]
        verdict = "no paired interval (per-sample scores not recorded): judged on the point values"
    else:  # fails only on a regression that is both significant and beyond the margin
        regressed = info["significant"] and info["better"] is False
        passed = not (regressed and worse > item["margin"])
        verdict = ("significantly worse" + ("" if not passed else ", within the margin") if regressed else
                   "significantly better" if info["significant"] else "within noise")
        verdict = f"95% CI {intervals.fmt_ci(info['delta_ci95'], '+.4g')}, n={info['paired_n']}, {verdict}"
    return passed, (f"{item['metric']} {num(cand)} vs {num(base)} for {base_row['model_id']} "
                    f"(delta {cand - base:+.4g}, {verdict}; margin {num(item['margin'])}, same settings "
                    f"{row['settings_hash'][:12]})" + _notes([], info))


def _secret_scan(s: Subject, item: dict) -> tuple[bool, str]:
    """Reads the snapshot as curation records it: stats `secrets_found` (the scan ran), config `secrets_policy`
    (drop or redact: either way no value reaches the snapshot) and, should a snapshot keep any, `secrets_kept`."""
    run = ev.training_run(s.store, s.ids)
    snap = ev.training_snapshot(s.store, s.ids, run)
    if snap is None:
        return False, "not measured: no training snapshot recorded for this model"
    stats = snap["stats"] or {}
    if "secrets_found" not in stats:
        return False, f"not measured: snapshot {snap['id']} records no secret scan"
    kept = int(stats.get("secrets_kept") or 0)
    found = int(stats["secrets_found"] or 0)
    files = stats.get("files_scanned")
    scanned = f"{files} files scanned, " if files is not None else ""
    policy = (snap["config"] or {}).get("secrets_policy")
    how = {"drop": "dropped", "redact": "redacted"}.get(policy, "removed")
    return kept == 0, f"snapshot {snap['id']}: {scanned}{found} secret(s) found and {how}, {kept} kept"


def _attribution(s: Subject, item: dict) -> tuple[bool, str]:
    from app import model_card

    if s.base is None:
        return False, "not measured: no fork at the root of the derivation chain"
    lic = (s.base.get("license") or "").strip()
    if not lic or lic.lower() == "unknown":
        return False, f"the base {s.base['id']} has no license recorded (fork it again with --license)"
    shipped = ev.current_artifacts(s.store, s.model["id"], ev.SHIPPED_KINDS)
    if not shipped:
        return False, "not measured: no shipped artifact (merged, gguf, adapter) recorded yet"
    missing = [s.path(a["path"]) for a in shipped if not model_card.attribution_present(a, s.base)]
    if missing:
        return False, (f"no {lic} license and notice of {s.base['id']} beside {', '.join(missing)} "
                       f"(run `blackroad-studio card {s.model['id']}`)")
    return True, f"{lic} license and notice of {s.base['id']} beside {len(shipped)} artifact(s)"


def _artifacts_verified(s: Subject, item: dict) -> tuple[bool, str]:
    skip = set(item.get("skip_kinds", []))
    arts = [a for a in ev.current_artifacts(s.store, s.model["id"]) if a["kind"] not in skip]
    if not arts:
        return False, "not measured: no artifacts recorded for this model"
    bad = []
    for art in arts:
        reason = ev.verify_artifact(s.store, art)
        if reason:
            bad.append(f"#{art['id']} {art['kind']} {s.path(art['path'])}: {reason}")
    if bad:
        return False, "; ".join(bad)
    total = sum(a["size_bytes"] for a in arts)
    return True, f"{len(arts)} artifact(s), {total:,} bytes, re-hashed on disk: all sha256 match"


def _not_expired(s: Subject, item: dict) -> tuple[bool, str]:
    expires = ev.parse_time(s.model.get("expires"))
    if expires is None:
        return True, f"no expiry ({s.model['stage']} models do not expire)"
    days = (expires - s.now).total_seconds() / 86400
    if days <= 0:
        return False, f"expired {expires.date().isoformat()} ({int(-days)} days ago); an expired model cannot be promoted"
    return True, f"expires {expires.date().isoformat()} ({int(days)} days left)"


def _approval(s: Subject, item: dict) -> tuple[bool, str]:
    row = ev.approval(s.store, s.model["id"], item["name"])
    how = f"blackroad-studio approve {s.model['id']} {item['name']} --by NAME" + (" --note ..." if item.get("require_note") else "")
    if row is None:
        return False, f"not signed ({how})"
    signed = f"signed by {row['by']} on {row['created'][:10]}"
    if item.get("require_note") and not (row["note"] or "").strip():
        return False, f"{signed} without a note; this sign-off needs one ({how})"
    return True, signed + (f": {row['note']}" if row["note"] else "")


def _min_days(s: Subject, item: dict) -> tuple[bool, str]:
    if s.model["stage"] != item["stage"]:
        return False, f"{s.model['id']} is a {s.model['stage']} model: promote it to {item['stage']} first"
    since = ev.parse_time(s.model["created"])
    days = (s.now - since).total_seconds() / 86400
    passed = days >= item["days"]
    return passed, (f"in {item['stage']} since {since.date().isoformat()}: {int(days)} of {num(item['days'])} days")


# -- staging: what the serve endpoint recorded of the model's real traffic (its own and its promotion parents') ----
def _staged(s: Subject) -> tuple[list[dict], dict]:
    from app import usage

    if not hasattr(s, "_staging"):
        s._staging = usage.served(s.store, s.ids)
    return s._staging


def _staging_days(s: Subject, item: dict) -> tuple[bool, str]:
    rows, _ = _staged(s)
    if not rows:
        return False, f"not measured: no request served by {s.model['id']} recorded (serve it as internal first)"
    since = ev.parse_time(rows[0]["time"])
    days = (s.now - since).total_seconds() / 86400
    passed = days >= item["days"]
    return passed, (f"served since {since.date().isoformat()} (first request, {rows[0]['model_id']}): "
                    f"{int(days)} of {num(item['days'])} days")


def _staging_requests(s: Subject, item: dict) -> tuple[bool, str]:
    rows, _ = _staged(s)
    ok = sum(1 for r in rows if r["status"] == "ok")
    if not rows:
        return False, f"not measured: no request served by {s.model['id']} recorded"
    passed = ok >= item["at_least"]
    return passed, f"{ok} ok request(s) of {len(rows)} served {'≥' if passed else 'not ≥'} {num(item['at_least'])}"


def _staging_p95(s: Subject, item: dict) -> tuple[bool, str]:
    from app import usage

    rows, _ = _staged(s)
    summary = usage.summarize(rows)
    if summary["p95_ms"] is None:
        return False, f"not measured: no answered request of {s.model['id']} with a recorded latency"
    passed = summary["p95_ms"] < item["below_ms"]
    return passed, (f"p95 {num(summary['p95_ms'])} ms {'<' if passed else 'not <'} {num(item['below_ms'])} ms "
                    f"over {summary['ok']} ok request(s) of real traffic (p50 {num(summary['p50_ms'])} ms)")


def _staging_acceptance(s: Subject, item: dict) -> tuple[bool, str]:
    from app import routes, usage

    rows, events = _staged(s)
    mine = usage.acceptance(rows, events)
    if not mine["shown"]:
        return False, f"not measured: no completion of {s.model['id']} reported shown by an editor (/v1/events)"
    rate = mine["accepted"] / mine["shown"]
    stated = (f"acceptance {rate:.3f} (95% CI {intervals.fmt_ci(mine['ci95'], '.3f')}, "
              f"{mine['accepted']} of {mine['shown']} shown)")
    prod_id = routes.newest(s.store, "production", s.model["name"])
    prod = None
    if prod_id is not None and prod_id not in s.ids:
        # its traffic as production and in its own staging (the models it was promoted from, not shared with ours)
        prod_ids = [i for i in ev.evidence_ids(s.store, s.store.require_model(prod_id)) if i not in s.ids]
        prod_rows, prod_events = usage.served(s.store, prod_ids)
        prod = usage.acceptance(prod_rows, prod_events)
    if prod is not None and prod["shown"]:
        diff = usage.newcombe((mine["accepted"], mine["shown"]), (prod["accepted"], prod["shown"]))
        below = diff[1] < 0
        verdict = ("significantly below" if below else "significantly above" if diff[0] > 0 else "within noise of")
        prod_rate = prod["accepted"] / prod["shown"]
        return not below, (f"{stated} vs {prod_rate:.3f} for {prod_id} ({prod['accepted']} of {prod['shown']}): "
                           f"difference {rate - prod_rate:+.3f}, 95% CI {intervals.fmt_ci(diff, '+.3f')}, "
                           f"{verdict} it")
    why = (f"{prod_id} has no acceptance recorded" if prod_id and prod_id not in s.ids
           else f"no production model named {s.model['name']}")
    passed = rate >= item["floor"]
    notes = [f"the 95% interval straddles {num(item['floor'])}"] if stats.straddles(mine["ci95"], item["floor"]) else []
    return passed, (f"{stated} {'≥' if passed else 'not ≥'} the floor {num(item['floor'])} ({why})"
                    + "".join(f"; {n}" for n in notes))


CHECKS: dict[str, Callable[[Subject, dict], tuple[bool, str]]] = {
    "metric": _metric, "no-regression": _no_regression, "secret-scan": _secret_scan,
    "attribution": _attribution, "artifacts-verified": _artifacts_verified, "not-expired": _not_expired,
    "approval": _approval, "min-days-in-stage": _min_days, "staging-days": _staging_days,
    "staging-requests": _staging_requests, "staging-p95": _staging_p95, "staging-acceptance": _staging_acceptance,
}
assert CHECKS.keys() == PARAMS.keys()


def run_item(s: Subject, item: dict) -> dict:
    passed, evidence = CHECKS[item["check"]](s, item)
    return {"name": item["name"], "passed": bool(passed), "evidence": evidence, "check": item["check"],
            "description": item.get("description", "")}


# -- a model's checklist ------------------------------------------------------------------------------------------
def evaluate(ws: Workspace, store: Store, model_id: str, to_stage: str, now: _dt.datetime | None = None) -> dict:
    """The checklist to `to_stage` for a model, every item run against the store (an open one)."""
    model = store.require_model(model_id)
    spec = load(ws, to_stage)
    subject = Subject(ws, store, model, now or store.clock())
    stage_ok = model["stage"] in spec["from_stages"]
    items = [{"name": "from-stage", "passed": stage_ok, "check": "stage",
              "description": f"promotion to {to_stage} starts from {' or '.join(spec['from_stages'])}",
              "evidence": f"{model['id']} is in stage {model['stage']}"
                          + ("" if stage_ok else f"; promote from {' or '.join(spec['from_stages'])} only")}]
    items += [run_item(subject, item) for item in spec["items"]]
    failing = [i["name"] for i in items if not i["passed"]]
    return {"id": model_id, "to": to_stage, "stage": model["stage"], "items": items, "ready": not failing,
            "failing": failing, "checklist": spec["sources"],
            "command": f"blackroad-studio promote {model_id} --to {to_stage} --name {model['name']}"}
