"""A small dataset snapshot for training and eval tests, written by curation's own snapshot writer
(training.curation.snapshot) from the tiny models' corpus, and registered under a name the tests choose."""
from __future__ import annotations

import json
from pathlib import Path

from training.curation import snapshot
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


def write_snapshot(ws, snapshot_id: str = "snap-test", rows: list[dict] | None = None,
                   heldout: list[dict] | None = None) -> Path:
    """datasets/<id>/ (train.jsonl, heldout.jsonl, manifest.json) as curation writes it, registered in the store."""
    rows = samples() if rows is None else rows
    heldout = heldout or []
    encode = lambda items: "".join(json.dumps(r) + "\n" for r in items).encode()  # noqa: E731
    config = {"source": "tests/tiny_models.CORPUS"}
    stats = {"train": len(rows), "heldout": len(heldout)}
    digest, folder, files = snapshot.write(ws.dir("datasets"), encode(rows), encode(heldout), config,
                                           {"stats": stats}, out=ws.dir("datasets") / snapshot_id)
    with ws.store() as store:
        store.add_snapshot(snapshot_id, digest, folder, config, stats, [])
    return folder
