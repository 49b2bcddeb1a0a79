"""Writing a dataset snapshot: train.jsonl, heldout.jsonl and manifest.json, named by a content hash.

The content hash covers the two JSONL files and the curation config, so the same inputs and config give the same
hash (and the same snapshot id, `snap-<first 12 hex>`). Nothing time- or machine-dependent goes into it. When a
snapshot with that hash already exists, nothing is rewritten.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from training.fileio import atomic_dir, atomic_write_bytes, atomic_write_text, sha256_json


def snapshot_id(content_hash: str) -> str:
    return f"snap-{content_hash[:12]}"


def content_hash(train_sha256: str, heldout_sha256: str, config: dict) -> str:
    return sha256_json({"train": train_sha256, "heldout": heldout_sha256, "config": config})


def false_positives(config: dict, manifest: dict) -> list[dict]:
    """The reviewers' false-positive marks this snapshot applied (fingerprints, never values), each with how many
    of its findings it covered."""
    covered: dict[str, int] = {}
    for f in (manifest.get("stats") or {}).get("secret_findings") or []:
        if f.get("false_positive"):
            covered[f["fingerprint"]] = covered.get(f["fingerprint"], 0) + 1
    return [{"fingerprint": fp, "findings": covered.get(fp, 0)} for fp in config.get("secret_false_positives") or []]


def _manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _existing_hash(folder: Path) -> str | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("content_hash")
    except (OSError, ValueError):
        return None


def write(datasets_dir: Path, train: bytes, heldout: bytes, config: dict, manifest: dict,
          out: Path | None = None) -> tuple[str, Path, dict]:
    """Write the snapshot (into `out`, or datasets_dir/<id>); returns (content hash, folder, file info)."""
    files = {"train.jsonl": {"sha256": hashlib.sha256(train).hexdigest(), "size_bytes": len(train),
                             "lines": train.count(b"\n")},
             "heldout.jsonl": {"sha256": hashlib.sha256(heldout).hexdigest(), "size_bytes": len(heldout),
                               "lines": heldout.count(b"\n")}}
    digest = content_hash(files["train.jsonl"]["sha256"], files["heldout.jsonl"]["sha256"], config)
    full = {**manifest, "snapshot": snapshot_id(digest), "content_hash": digest, "config": config, "files": files,
            "secret_false_positives": false_positives(config, manifest)}
    text = _manifest_text(full)
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"{out} exists and is not a folder")
        if _existing_hash(out) != digest:
            atomic_write_bytes(out / "train.jsonl", train)
            atomic_write_bytes(out / "heldout.jsonl", heldout)
            atomic_write_text(out / "manifest.json", text)
        return digest, out, files
    final = Path(datasets_dir) / snapshot_id(digest)
    if _existing_hash(final) == digest:
        return digest, final, files
    with atomic_dir(final) as tmp:  # replaces a damaged earlier write with the same id
        (tmp / "train.jsonl").write_bytes(train)
        (tmp / "heldout.jsonl").write_bytes(heldout)
        (tmp / "manifest.json").write_text(text, encoding="utf-8")
    return digest, final, files
