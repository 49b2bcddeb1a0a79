"""Writing a dataset snapshot: train.jsonl, heldout.jsonl and manifest.json, named by a content hash.

The content hash covers the two JSONL files and the curation config, so the same inputs and config give the same
hash (and the same snapshot id, `snap-<first 12 hex>`). Nothing time- or machine-dependent goes into it. When a
snapshot with that hash already exists, nothing is rewritten.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from training.fileio import atomic_path, atomic_write_text, publish_dir, sha256_json, staging_dir


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


def _describe(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data), "lines": data.count(b"\n")}


def write(datasets_dir: Path, train: bytes, heldout: bytes, config: dict, manifest: dict,
          out: Path | None = None) -> tuple[str, Path, dict]:
    """Write the snapshot (into `out`, or datasets_dir/<id>); returns (content hash, folder, file info).

    Into datasets_dir the JSONL files are written to a staging folder while a thread hashes them (hashlib lets go
    of the GIL, and so does the write): the content hash that names the folder is known once both are done."""
    data = {"train.jsonl": train, "heldout.jsonl": heldout}
    if out is not None:
        files = {name: _describe(blob) for name, blob in data.items()}
        digest, text = _manifest(files, config, manifest)
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"{out} exists and is not a folder")
        if _existing_hash(out) != digest:
            for name, blob in data.items():
                with atomic_path(out / name) as tmp:
                    tmp.write_bytes(blob)
            atomic_write_text(out / "manifest.json", text)
        return digest, out, files
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool, staging_dir(datasets_dir) as tmp:
        described = pool.submit(lambda: {name: _describe(blob) for name, blob in data.items()})
        for name, blob in data.items():
            (tmp / name).write_bytes(blob)
        files = described.result()
        digest, text = _manifest(files, config, manifest)
        final = Path(datasets_dir) / snapshot_id(digest)
        if _existing_hash(final) == digest:     # the same snapshot is there already: the staging folder goes
            return digest, final, files
        (tmp / "manifest.json").write_text(text, encoding="utf-8")
        publish_dir(tmp, final)                 # replaces a damaged earlier write with the same id
    return digest, final, files


def _manifest(files: dict, config: dict, manifest: dict) -> tuple[str, str]:
    """(the content hash, the manifest's text)."""
    digest = content_hash(files["train.jsonl"]["sha256"], files["heldout.jsonl"]["sha256"], config)
    full = {**manifest, "snapshot": snapshot_id(digest), "content_hash": digest, "config": config, "files": files,
            "secret_false_positives": false_positives(config, manifest)}
    return digest, _manifest_text(full)
