"""A small dataset snapshot in the CONVENTIONS format, written and registered by training tests
(until curation's snapshots are available to them)."""
from __future__ import annotations

import json
from pathlib import Path

from training.fileio import sha256_file
from training.fim import QWEN
from tiny_models import CORPUS


def samples(n: int = 48) -> list[dict]:
    """Completion and FIM samples cut from the tiny models' corpus (what their tokenizer knows)."""
    texts = list(dict.fromkeys(CORPUS))
    out = []
    for i in range(n):
        text = texts[i % len(texts)]
        cut = max(1, (len(text) * (1 + i % 3)) // 5)
        if i % 4 == 3:
            mid = cut + (len(text) - cut) // 2
            prompt = QWEN.psm(text[:cut], text[mid:])
            out.append({"id": f"s{i}", "kind": "fim", "prompt": prompt, "completion": text[cut:mid],
                        "language": "python", "repo": "tiny", "path": f"f{i}.py", "tokens": 0, "category": None})
        else:
            out.append({"id": f"s{i}", "kind": "completion", "prompt": text[:cut], "completion": text[cut:],
                        "language": "python", "repo": "tiny", "path": f"f{i}.py", "tokens": 0, "category": None})
    return out


def write_snapshot(ws, snapshot_id: str = "snap-test", rows: list[dict] | None = None) -> Path:
    """datasets/<id>/train.jsonl + heldout.jsonl + manifest.json, registered in the store."""
    folder = ws.dir("datasets") / snapshot_id
    folder.mkdir(parents=True, exist_ok=True)
    rows = samples() if rows is None else rows
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "heldout.jsonl").write_text("")
    (folder / "manifest.json").write_text(json.dumps({"id": snapshot_id, "train": len(rows)}))
    store = ws.store()
    try:
        store.add_snapshot(snapshot_id, sha256_file(folder / "train.jsonl"), folder, {}, {"train": len(rows)}, [])
    finally:
        store.close()
    return folder
