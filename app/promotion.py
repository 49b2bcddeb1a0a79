"""Promotion: checklists with evidence, manual sign-offs, and immutable promoted models.

A promotion never renames or copies: it adds a model row (`internal/<name>/v<N>` or
`production/<name>/v<major.minor>`) whose parent is the promoted model, references the parent's artifacts, freezes
the checklist's evidence in `promotions`/`promotion_items`, and appends events.
"""
from __future__ import annotations

import datetime as _dt
import re

from app import checklists, ids
from app import evidence as ev
from app.errors import StudioError
from app.store import Store
from app.workspace import Workspace

NOT_REFERENCED = ("checkpoint",) + ev.CARD_KINDS


def checklist(ws: Workspace, model_id: str, to_stage: str, now: _dt.datetime | None = None) -> dict:
    store = ws.store()
    try:
        return checklists.evaluate(ws, store, model_id, to_stage, now)
    finally:
        store.close()


def approval_items(ws: Workspace) -> list[str]:
    """The sign-off items of the checklists in force."""
    names: list[str] = []
    for stage in checklists.STAGES_WITH_CHECKLISTS:
        for item in checklists.load(ws, stage)["items"]:
            if item["check"] == "approval" and item["name"] not in names:
                names.append(item["name"])
    return names


def approve(ws: Workspace, model_id: str, item: str, by: str, note: str | None = None) -> dict:
    """Record a manual sign-off (append-only; a later one supersedes an earlier one for the checklist)."""
    if not by or not by.strip():
        raise StudioError("--by must name who signs off")
    known = approval_items(ws)
    if item not in known:
        raise StudioError(f"{item!r} is not a sign-off item of the checklists; sign-off items: "
                          f"{', '.join(known) or 'none'}")
    store = ws.store()
    try:
        store.require_model(model_id)
        row = {"model_id": model_id, "item": item, "by": by.strip(), "note": (note or "").strip() or None,
               "created": store.now()}
        row["id"] = store.insert("approvals", row)
        store.event("approval.recorded", model_id=model_id, item=item, by=row["by"], note=row["note"],
                    approval_id=row["id"])
        return row
    finally:
        store.close()


_VERSION = {"internal": re.compile(r"/v(\d+)$"), "production": re.compile(r"/v(\d+)\.(\d+)$")}


def next_id(store: Store, source: dict, to_stage: str, name: str) -> str:
    """internal: v1, v2, ...; production: v1.0, then a minor step on the same base, a major step on a new base."""
    ids.parse(f"{to_stage}/{name}/v1" + (".0" if to_stage == "production" else ""), stage=to_stage)
    prefix = f"{to_stage}/{name}/v"
    existing = [r["id"] for r in store.query("SELECT id FROM models WHERE id LIKE ? ESCAPE '\\'",
                                              [prefix.replace("_", "\\_").replace("%", "\\%") + "%"])]
    if to_stage == "internal":
        numbers = [int(m.group(1)) for i in existing if (m := _VERSION["internal"].search(i))]
        return f"{prefix}{max(numbers, default=0) + 1}"
    versions = sorted(((int(m.group(1)), int(m.group(2)), i) for i in existing
                       if (m := _VERSION["production"].search(i))))
    if not versions:
        return f"{prefix}1.0"
    major, minor, latest = versions[-1]
    def base_of(m: dict) -> str | None:
        return (ev.base_model(store, m) or {}).get("id")

    same_base = base_of(store.require_model(latest)) == base_of(source)
    return f"{prefix}{major}.{minor + 1}" if same_base else f"{prefix}{major + 1}.0"


def promote(ws: Workspace, model_id: str, to_stage: str, name: str, now: _dt.datetime | None = None,
            write_cards: bool = True) -> dict:
    """Promote when every checklist item passes; otherwise refuse with the failing items (and log the refusal)."""
    if to_stage not in checklists.NEXT_STAGE.values():
        raise StudioError(f"--to must be internal or production, not {to_stage!r}")
    store = ws.store()
    try:
        source = store.require_model(model_id)
        new_id = next_id(store, source, to_stage, name)
        result = checklists.evaluate(ws, store, model_id, to_stage, now)
        if not result["ready"]:
            store.event("promotion.refused", model_id=model_id, to_stage=to_stage, failing=result["failing"])
            failing = [i for i in result["items"] if not i["passed"]]
            raise StudioError(f"cannot promote {model_id} to {to_stage}: {len(failing)} item(s) fail: "
                              + "; ".join(f"{i['name']} ({i['evidence']})" for i in failing))
        keep = ("license", "architecture", "parameters", "context_length", "vocab_size", "path", "gguf_path")
        row = {"id": new_id, "parent_id": model_id, "relation": "promotion", "source": model_id,
               "source_sha256": source.get("source_sha256"), **{k: source.get(k) for k in keep},
               "details": {"promoted_from": model_id, "checklist": result["checklist"]}}
        store.add_model(row, event="model.promoted")
        promotion_id = store.insert("promotions", {"model_id": new_id, "parent_id": model_id, "to_stage": to_stage,
                                                   "ready": 1, "created": store.now()})
        for item in result["items"]:
            store.insert("promotion_items", {"promotion_id": promotion_id, "name": item["name"],
                                             "passed": int(item["passed"]), "evidence": item["evidence"]})
        for art in ev.current_artifacts(store, model_id):
            if art["kind"] not in NOT_REFERENCED:
                store.add_artifact(art["kind"], art["path"], art["sha256"], art["size_bytes"], model_id=new_id,
                                   run_id=art["run_id"], quant_type=art["quant_type"], referenced_from=art["id"])
        store.event("promotion.granted", model_id=model_id, promoted_to=new_id, to_stage=to_stage,
                    promotion_id=promotion_id)
    finally:
        store.close()
    out = {"id": new_id, "parent_id": model_id, "stage": to_stage, "promotion_id": promotion_id,
           "items": result["items"]}
    if write_cards:
        from app.cards import write_cards as _write

        out["cards"] = _write(ws, new_id, now=now)["files"]
    return out
