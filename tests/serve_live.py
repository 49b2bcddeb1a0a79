"""A live `blackroad-studio serve` for tests, and the workspace it serves: the embedded SmolLM2 GGUF (also as
internal/coder/v1: chat template, no FIM tokens) and a tiny Qwen2 exported to GGUF (FIM tokens, 512-token context)."""
from __future__ import annotations

import json
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOL = "forkies/smollm2-135m-instruct@v1.0.0"
INTERNAL = "internal/coder/v1"
TINY = "forkies/tiny@v0.1.0"


class Live:
    """`blackroad-studio serve --port 0 --json ...` in a subprocess; the ready line gives the URL."""

    def __init__(self, ws_root: Path, *args: str, log: Path):
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--workspace", str(ws_root), "serve", "--port", "0", "--json", *args],
            stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, cwd=ROOT)
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {log.read_text()}")
        self.info = json.loads(line)
        self.url = self.info["url"]

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the server did not stop on SIGTERM: {self.log.read_text()}") from None


def make_serve_workspace(root: Path, tiny_qwen2: Path):
    """SmolLM2 forked (and the same GGUF recorded as internal/coder/v1), the tiny Qwen2 forked and exported (F32)."""
    from app.exporting import export
    from app.forks import fork
    from app.workspace import Workspace

    ws = Workspace.open(root)
    fork(ws, "embedded:smollm2-135m", SMOL, prepare=False)
    with ws.store() as store:
        art = store.artifacts(SMOL, "gguf")[0]
        store.add_model({"id": INTERNAL, "parent_id": SMOL, "relation": "promotion", "license": "apache-2.0",
                         "gguf_path": art["path"], "source": SMOL})
        store.add_artifact("gguf", art["path"], art["sha256"], art["size_bytes"], model_id=INTERNAL,
                           quant_type=art["quant_type"], referenced_from=art["id"])
    fork(ws, str(tiny_qwen2), TINY)
    export(ws, TINY, types=("f32",), verify="none")
    return ws


def db_rows(ws, sql="SELECT * FROM serve_requests ORDER BY id", params=()) -> list[dict]:
    conn = sqlite3.connect(str(ws.db_path))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def wait_rows(ws, n, sql="SELECT * FROM serve_requests ORDER BY id", timeout=10.0) -> list[dict]:
    """The rows once at least n are written (the server writes them off the request path)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = db_rows(ws, sql)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{n} rows expected, {len(db_rows(ws, sql))} recorded")


def cli_json(ws, *args) -> dict:
    """The real CLI with --json on the workspace; its one JSON object (the command must succeed)."""
    from cli_runner import run_cli

    out = run_cli("--workspace", str(ws.root), *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
