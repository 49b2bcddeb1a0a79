"""What the lineage store knows about a model, gathered for promotion checklists and cards. Read-only.

A promoted model copies nothing: its evals, training run and snapshot are those of the model it was promoted
from, so every lookup walks `evidence_ids` (the model, then its promotion parents).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path

from app.store import Store
from eval.suites import SUITES
from training.fileio import sha256_file

CARD_KINDS = ("lineage-card", "hf-card", "modelfile")
SHIPPED_KINDS = ("merged", "gguf", "adapter", "gguf-adapter")


def parse_time(value: str | None) -> _dt.datetime | None:
    """A store timestamp as an aware datetime (naive ones are taken as UTC)."""
    if not value:
        return None
    t = _dt.datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def evidence_ids(store: Store, model: dict) -> list[str]:
    """The model and the models it was promoted from, nearest first."""
    out = [model["id"]]
    current = model
    while current["relation"] == "promotion" and current["parent_id"]:
        current = store.require_model(current["parent_id"])
        out.append(current["id"])
    return out


def base_model(store: Store, model: dict) -> dict | None:
    """The fork at the root of the model's chain (None for a broken chain)."""
    root = store.chain(model["id"])[-1]
    return root if root["stage"] == "forkies" else None


def display_path(path: str | Path, root: Path | None) -> str:
    """A path relative to the workspace when it lies inside it (cards stay the same on every machine)."""
    p = Path(path)
    if root is not None and p.is_absolute():
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(p)


# -- evals ------------------------------------------------------------------------------------------------------
def latest_evals(store: Store, ids: list[str], suite: str) -> dict[tuple[str, str | None], dict]:
    """The current row per (metric, category) of a suite across the given models (latest recorded wins)."""
    marks = ",".join("?" for _ in ids)
    rows = store.query(f"SELECT * FROM eval_results WHERE suite = ? AND model_id IN ({marks}) ORDER BY id",
                       [suite, *ids])
    out: dict[tuple[str, str | None], dict] = {}
    for row in rows:
        out[(row["metric"], row["category"])] = row
    return out


def baseline_row(store: Store, row: dict, base_id: str | None) -> dict | None:
    """The baseline's number for the same suite, metric, category and settings (CONVENTIONS: same settings_hash)."""
    baseline = row.get("baseline_model_id") or base_id
    if baseline is None:
        return None
    return store.one("SELECT * FROM eval_results WHERE model_id = ? AND suite = ? AND metric = ? "
                     "AND category IS ? AND settings_hash = ? ORDER BY id DESC LIMIT 1",
                     [baseline, row["suite"], row["metric"], row["category"], row["settings_hash"]])


def suites_measured(store: Store, ids: list[str]) -> list[str]:
    """The standard suites first, then any other suite that has rows."""
    marks = ",".join("?" for _ in ids)
    found = [r["suite"] for r in store.query(
        f"SELECT DISTINCT suite FROM eval_results WHERE model_id IN ({marks}) ORDER BY suite", ids)]
    return list(SUITES) + [s for s in found if s not in SUITES]


# -- training -----------------------------------------------------------------------------------------------------
def training_run(store: Store, ids: list[str]) -> dict | None:
    """The train run that produced the model (details.run_id of the research model, else the latest train run)."""
    for model_id in ids:
        model = store.require_model(model_id)
        run_id = (model["details"] or {}).get("run_id")
        if run_id and store.run_row(run_id):
            return store.run_row(run_id)
    marks = ",".join("?" for _ in ids)
    return store.one(f"SELECT * FROM runs WHERE kind = 'train' AND model_id IN ({marks}) ORDER BY created DESC, "
                     "rowid DESC LIMIT 1", ids)


def unfinished_training(store: Store, model: dict) -> dict | None:
    """The training run of a research model that has not finished (running, cancelled, failed, interrupted),
    else None. Such a model has no adapter: Completion, Promotion and serving leave it out."""
    if model["stage"] != "research":
        return None
    run = store.run_row((model.get("details") or {}).get("run_id") or "")
    return run if run is not None and run["status"] != "finished" else None


def training_snapshot(store: Store, ids: list[str], run: dict | None) -> dict | None:
    for model_id in ids:
        snap = (store.require_model(model_id)["details"] or {}).get("snapshot_id")
        if snap and store.snapshot(snap):
            return store.snapshot(snap)
    if run and run.get("snapshot_id"):
        return store.snapshot(run["snapshot_id"])
    return None


def lora_config(model_ids: list[str], store: Store, run: dict | None) -> dict:
    for model_id in model_ids:
        lora = (store.require_model(model_id)["details"] or {}).get("lora")
        if lora:
            return lora
    if run:
        return (run.get("config") or {}).get("lora") or {}
    return {}


# -- artifacts ----------------------------------------------------------------------------------------------------
def current_artifacts(store: Store, model_id: str, kinds: tuple[str, ...] | None = None) -> list[dict]:
    """The latest artifact row per path of a model (a rewritten card supersedes its older row)."""
    latest: dict[str, dict] = {}
    for art in store.artifacts(model_id):
        if kinds is None or art["kind"] in kinds:
            latest[art["path"]] = art
    return sorted(latest.values(), key=lambda a: a["id"])


def _card_overrides(store: Store, folder: Path) -> dict[str, str | None]:
    """Card files written into a folder artifact after it was hashed: relative path -> hash it replaced (or None)."""
    out: dict[str, str | None] = {}
    for art in store.query("SELECT * FROM artifacts WHERE kind IN ('lineage-card', 'hf-card', 'modelfile') "
                           "ORDER BY id"):
        try:
            rel = Path(art["path"]).relative_to(folder).as_posix()
        except ValueError:
            continue
        if rel not in out:  # the first card written there knows what was there before it
            out[rel] = (art["details"] or {}).get("replaced_sha256")
    return out


def tree_sha256(root: Path, overrides: dict[str, str | None]) -> str:
    """training.fileio.sha256_tree's hash, with card files counted as what they replaced (or left out if new)."""
    h = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        digest = overrides[rel] if rel in overrides else sha256_file(file)
        if digest is not None:
            h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()


def verify_artifact(store: Store, art: dict) -> str | None:
    """Re-hash an artifact on disk; None when it matches its record, else the reason."""
    path = Path(art["path"])
    if not path.exists():
        return "missing on disk"
    try:
        actual = tree_sha256(path, _card_overrides(store, path)) if path.is_dir() else sha256_file(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    recorded = art["sha256"]
    if art["kind"] in CARD_KINDS:  # a card in a shared folder may be rewritten, on the record, by a promotion
        recorded = store.one("SELECT sha256 FROM artifacts WHERE path = ? AND kind = ? ORDER BY id DESC LIMIT 1",
                             [art["path"], art["kind"]])["sha256"]
    if actual != recorded:
        return f"sha256 mismatch (recorded {recorded[:12]}…, on disk {actual[:12]}…)"
    return None


def approval(store: Store, model_id: str, item: str) -> dict | None:
    return store.one("SELECT * FROM approvals WHERE model_id = ? AND item = ? ORDER BY id DESC LIMIT 1",
                     [model_id, item])


def performance(store: Store, model: dict) -> list[dict]:
    """Per suite, the current numbers beside the base's (same settings) and the delta, each row with its
    `uncertainty` (app.intervals.describe: ci95, n, delta_ci95, significant); an empty `rows` list means the suite
    was not measured."""
    from app.intervals import describe  # intervals and paired deltas from the per-sample scores

    ids = evidence_ids(store, model)
    base = base_model(store, model)
    base_id = base["id"] if base else None
    out = []
    for suite in suites_measured(store, ids):
        rows = []
        for (metric, category), row in latest_evals(store, ids, suite).items():
            if row["value"] is None:
                continue
            b = baseline_row(store, row, base_id) if model["stage"] != "forkies" else None
            base_value = b["value"] if b is not None else None
            art = store.one("SELECT * FROM artifacts WHERE id = ?", [row["artifact_id"]]) if row["artifact_id"] else None
            rows.append({"metric": metric, "category": category, "value": row["value"], "base": base_value,
                         "baseline_id": b["model_id"] if b is not None else None,
                         "delta": None if base_value is None else row["value"] - base_value,
                         "settings_hash": row["settings_hash"], "run_id": row["run_id"], "artifact": art,
                         "created": row["created"], "uncertainty": describe(store, row, b),
                         "base_uncertainty": describe(store, b) if b is not None else None})
        rows.sort(key=lambda r: (r["category"] not in (None, "overall"), r["category"] or "", r["metric"]))
        out.append({"suite": suite, "rows": rows})
    return out
