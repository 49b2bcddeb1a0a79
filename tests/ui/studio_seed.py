"""A studio workspace for UI tests and screenshots: the promotion tests' lineage seed (tests/lineage_seed.py) plus
watched repos, changed files, a snapshot with real samples, secret findings and a longer loss curve.

The clock is pinned and the workspace lives at a fixed path, so every pane renders the same on every run."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lineage_seed import BASE, RESEARCH, SNAPSHOT, T0, pin_clock, record_evals, seed, traffic  # noqa: E402

NOW = T0 + dt.timedelta(days=10)
HARDWARE = {"gpus": [], "ram_bytes": 32 * 1024 ** 3}
FIXED_ROOT = Path(tempfile.gettempdir()) / "blackroad-ui-fixture" / "ws"

SAMPLES = [
    {"id": "a1", "kind": "completion", "language": "python", "repo": "agent-hub", "path": "agent_hub/agents/base.py",
     "prompt": 'class Agent:\n    """A unit of work the supervisor spawns."""\n\n    def __init__(self, name: str):\n',
     "completion": "        self.name = name\n        self.tasks: list[str] = []\n", "tokens": 42},
    {"id": "a2", "kind": "fim", "language": "python", "repo": "agent-hub", "path": "agent_hub/events/bus.py",
     "prompt": "<|fim_prefix|>def publish(self, event):\n<|fim_suffix|>\n    return len(handlers)\n<|fim_middle|>",
     "completion": "    handlers = self.handlers.get(event.kind, [])\n    for h in handlers:\n        h(event)",
     "tokens": 37},
    {"id": "f1", "kind": "completion", "language": "typescript", "repo": "fleet-console",
     "path": "src/services/fleet.ts", "prompt": "export async function listVehicles(api: Api): Promise<Vehicle[]> {\n",
     "completion": "  const res = await api.get('/vehicles');\n  return res.data;\n}\n", "tokens": 31},
]
HELDOUT = [{"id": "h1", "kind": "completion", "language": "python", "repo": "agent-hub",
            "path": "agent_hub/worker/app.py", "prompt": "@app.get('/health')\ndef health():\n",
            "completion": "    return {'status': 'ok'}\n", "tokens": 18, "category": "python"}]
SECRETS = [{"repo": "agent-hub", "path": "deploy/settings.py", "kind": "AWS Access Key", "line": 12},
           {"repo": "agent-hub", "path": "deploy/settings.py", "kind": "Secret Keyword", "line": 14},
           {"repo": "fleet-console", "path": ".env.example", "kind": "Base64 High Entropy String", "line": 3}]


def build(root: Path) -> Path:
    """Write the workspace at `root` (replacing what is there); returns the root."""
    from app.workspace import Workspace

    if root.exists():
        shutil.rmtree(root)
    ws = Workspace.open(root)
    pin_clock(ws)
    seeded = seed(ws)
    record_evals(ws, seeded)
    store = ws.store()
    try:
        for name, files in (("agent-hub", ["agent_hub/__init__.py", "agent_hub/bus.py", "README.md"]),
                            ("fleet-console", ["src/app.tsx", "src/api.ts", "src/types.ts", "package.json"])):
            repo = root / "repos" / name
            for rel in files:
                (repo / rel).parent.mkdir(parents=True, exist_ok=True)
                (repo / rel).write_text("x = 1\n")
            store.insert("repos", {"name": name, "path": str(repo), "kind": "folder",
                                   "added": T0.isoformat(), "details": {}})
        for rel in ("agent_hub/bus.py", "README.md"):
            store.insert("repo_changes", {"repo": "agent-hub", "relpath": rel, "seen": NOW.isoformat()})
        for step in range(1, 301, 15):
            store.add_metric("train-1", step, loss=round(0.6 + 0.85 * 0.985 ** step, 4), lr=2e-4,
                             tokens_per_second=5400.0)
    finally:
        store.close()
    # a day of staging traffic under an A/B split, and one overloaded request, for the Staging pane
    split = f"code-generation={BASE}:0.5,{RESEARCH}:0.5"
    day = NOW - dt.timedelta(days=1)
    traffic(ws, BASE, day, 0.9, 120, 30, total_ms=180.0, prefix="s", split=split)
    traffic(ws, RESEARCH, day, 0.9, 120, 54, total_ms=150.0, prefix="s", split=split)
    with ws.store() as store:
        store.conn.execute("INSERT INTO serve_requests (time, endpoint, key_name, model_id, status, http_status, "
                           "error) VALUES (?, '/infill', 'ed', ?, 'rejected', 503, 'overloaded')",
                           [(NOW - dt.timedelta(hours=2)).isoformat(), RESEARCH])
        store.conn.commit()
    snap = root / "datasets" / SNAPSHOT
    (snap / "train.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    (snap / "heldout.jsonl").write_text("".join(json.dumps(s) + "\n" for s in HELDOUT))
    (snap / "manifest.json").write_text(json.dumps({"id": SNAPSHOT, "secrets": SECRETS}))
    return root
