"""Secret findings a reviewer marks as false positives, stored by fingerprint (never the value) like a
detect-secrets baseline, and applied by every later curation: a marked value is neither redacted nor held against
the code around it. Findings come from the snapshots' records (curation stores kind, place, fingerprint and a
masked shape, never a value)."""
from __future__ import annotations

import getpass
import re

from app.errors import StudioError
from app.workspace import Workspace

_HEX = re.compile(r"^[0-9a-f]{6,32}$")


def marked_fingerprints(store) -> frozenset[str]:
    """Every fingerprint marked a false positive (what curation passes to the scanner)."""
    return frozenset(r["fingerprint"] for r in store.query("SELECT fingerprint FROM secret_marks"))


def _snapshot(store, snapshot_id: str | None) -> dict | None:
    if snapshot_id:
        return store.require_snapshot(snapshot_id)
    return store.one("SELECT * FROM snapshots ORDER BY created DESC, rowid DESC LIMIT 1")


def findings(ws: Workspace, snapshot_id: str | None = None, marked: bool | None = None) -> dict:
    """The findings of a snapshot (default: the latest), each with whether its fingerprint is marked now.
    marked=True/False keeps only the marked/unmarked ones."""
    store = ws.store()
    try:
        snap = _snapshot(store, snapshot_id)
        if snap is None:
            return {"snapshot": None, "findings": [], "marks": len(marked_fingerprints(store))}
        marks = {r["fingerprint"]: r for r in store.query("SELECT * FROM secret_marks")}
        out = []
        for f in (snap["stats"] or {}).get("secret_findings") or []:
            fp = f.get("fingerprint")
            row = {k: f.get(k) for k in ("repo", "path", "line", "kind", "fingerprint", "masked")}
            row["marked"] = fp in marks
            if marked is None or row["marked"] == marked:
                out.append(row)
        return {"snapshot": snap["id"], "findings": out, "marks": len(marks)}
    finally:
        store.close()


def _resolve(store, ref: str) -> tuple[str, dict | None]:
    """A fingerprint, or a unique prefix of one, as seen in a snapshot's findings (newest first) or the marks."""
    ref = ref.strip().lower()
    if not _HEX.match(ref):
        raise StudioError(f"{ref!r} is not a finding fingerprint (6 to 32 hex characters; see `secrets list`)")
    seen: dict[str, dict] = {}
    for snap in store.query("SELECT id, stats FROM snapshots ORDER BY created DESC, rowid DESC"):
        for f in (snap["stats"] or {}).get("secret_findings") or []:
            fp = f.get("fingerprint") or ""
            if fp.startswith(ref) and fp not in seen:
                seen[fp] = {**f, "snapshot": snap["id"]}
    for r in store.query("SELECT fingerprint FROM secret_marks WHERE fingerprint LIKE ?", [ref + "%"]):
        seen.setdefault(r["fingerprint"], None)
    if not seen:
        raise StudioError(f"no secret finding has the fingerprint {ref} (see `blackroad-studio secrets list`)")
    if len(seen) > 1:
        raise StudioError(f"{ref} matches {len(seen)} fingerprints; give more characters")
    fp, finding = next(iter(seen.items()))
    return fp, finding


def _each(ws: Workspace, refs: list[str], by: str | None, one) -> tuple[list, int]:
    """one(store, fingerprint, finding or None, by) for each reference, in order; (results, marks now)."""
    by = (by or "").strip() or getpass.getuser()
    store = ws.store()
    try:
        return [one(store, *_resolve(store, ref), by) for ref in refs], len(marked_fingerprints(store))
    finally:
        store.close()


def _mark_one(store, fp: str, finding: dict | None, by: str, note: str | None) -> dict:
    if finding is None or store.one("SELECT 1 AS x FROM secret_marks WHERE fingerprint = ?", [fp]):
        raise StudioError(f"{fp} is already marked")
    if finding["kind"] == "env-file":
        raise StudioError(f"{fp} is in a .env file ({finding['path']}); .env files never enter the data, "
                          "marked or not")
    row = {"fingerprint": fp, "kind": finding["kind"], "repo": finding.get("repo"), "path": finding.get("path"),
           "line": finding.get("line"), "masked": finding.get("masked"), "by": by, "note": note,
           "created": store.now()}
    store.insert("secret_marks", row)
    store.event("secret.marked", fingerprint=fp, kind=row["kind"], repo=row["repo"], path=row["path"], by=by,
                note=note)
    return row


def _unmark_one(store, fp: str, _finding, by: str) -> str:
    row = store.one("SELECT * FROM secret_marks WHERE fingerprint = ?", [fp])
    if row is None:
        raise StudioError(f"{fp} is not marked")
    with store.conn:
        store.conn.execute("DELETE FROM secret_marks WHERE fingerprint = ?", [fp])
    store.event("secret.unmarked", fingerprint=fp, kind=row["kind"], by=by)
    return fp


def mark(ws: Workspace, refs: list[str], by: str | None = None, note: str | None = None) -> dict:
    """Mark findings (by fingerprint) as false positives; the next curation keeps the code they flagged."""
    done, marks = _each(ws, refs, by, lambda store, fp, finding, who: _mark_one(store, fp, finding, who, note))
    return {"marked": done, "marks": marks,
            "next": "re-run `blackroad-studio curate`: marked findings no longer drop their code"}


def unmark(ws: Workspace, refs: list[str], by: str | None = None) -> dict:
    """Remove marks: the next curation treats those values as secrets again."""
    done, marks = _each(ws, refs, by, _unmark_one)
    return {"unmarked": done, "marks": marks}


def list_marks(ws: Workspace) -> dict:
    store = ws.store()
    try:
        return {"marks": store.query("SELECT * FROM secret_marks ORDER BY created, fingerprint")}
    finally:
        store.close()
