"""The pipeline end to end on a tiny Qwen2: real curation, training, merge, export, llama.cpp evals, checklist,
cards; then an interrupted run resumed, a run with nothing left to do, and a tampered output redone."""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from app.errors import StudioError
from app.pipeline import PipelineCancelled, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
BASE = "forkies/tiny-qwen2@v1.0.0"
MODEL = "research/test/tiny-pipeline"
FAST = {"max_steps": 2, "seq_len": 64, "train_options": {"batch_size": 2, "micro_batch_size": 2},
        "humaneval_limit": 1, "internal_limit": 2, "general_limit": 2, "latency_samples": 2}


def _runs(ws, kind):
    store = ws.store()
    try:
        return store.query("SELECT * FROM runs WHERE kind = ? ORDER BY created, id", [kind])
    finally:
        store.close()


@pytest.fixture(scope="module")
def tiny_ws(tmp_path_factory, tiny_qwen2):
    """A workspace with the tiny Qwen2 forked and the agent-hub sample repo curated into a snapshot."""
    from app.curation import curate
    from app.forks import fork
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("pipeline") / "ws")
    fork(ws, str(tiny_qwen2), BASE)
    snap = curate(ws, paths=[str(ROOT / "assets" / "sample-repos" / "agent-hub")], base_id=BASE, heldout_rate=0.2)
    assert snap["snippets"] > 0
    return ws, snap["snapshot"]


def test_bad_input_is_refused_and_records_nothing(workspace):
    with pytest.raises(StudioError, match="research/OWNER/NAME"):
        run_pipeline(workspace, "internal/x/v1", base_id="b", snapshot_id="s")
    with pytest.raises(StudioError, match="give --base and --snapshot"):
        run_pipeline(workspace, MODEL)
    with pytest.raises(StudioError, match="unknown eval suite"):
        run_pipeline(workspace, MODEL, base_id=BASE, snapshot_id="snap-x", suites=("internal", "mbpp"))
    with pytest.raises(StudioError, match="no model"):
        run_pipeline(workspace, MODEL, base_id=BASE, snapshot_id="snap-x")
    assert _runs(workspace, "pipeline") == []


@pytest.mark.slow
def test_pipeline_end_to_end_then_resume(tiny_ws):
    ws, snapshot = tiny_ws
    cancel = threading.Event()
    seen: list[tuple[str, str]] = []

    def progress(event):
        if event.get("event") == "pipeline":
            seen.append((event["step"], event["status"]))
            if (event["step"], event["status"]) == ("export", "finished"):
                cancel.set()  # interrupt once export is done: evals must not have started

    with pytest.raises(PipelineCancelled, match="resume"):
        run_pipeline(ws, MODEL, base_id=BASE, snapshot_id=snapshot, progress=progress, cancel=cancel, **FAST)
    assert [s for s, status in seen if status == "finished"] == ["train", "merge", "export"]
    first = _runs(ws, "pipeline")[-1]
    assert first["status"] == "cancelled"
    assert {k: v["status"] for k, v in first["result"]["steps"].items()} == \
        {"train": "done", "merge": "done", "export": "done"}

    seen.clear()
    result = run_pipeline(ws, MODEL, progress=progress, **FAST)  # base and snapshot come from the model
    status = {s["name"]: s["status"] for s in result["steps"]}
    assert status == {"train": "skipped", "merge": "skipped", "export": "skipped", "eval-internal": "done",
                      "eval-general": "done", "eval-humaneval": "done", "eval-latency": "done", "cards": "done", "checklist": "done"}
    assert len(_runs(ws, "train")) == 1 and len(_runs(ws, "merge")) == 1  # nothing finished was redone
    types = sorted(a["type"] for a in result["artifacts"] if a["kind"] == "gguf")
    assert types == ["q4_k_m", "q8_0"]
    assert set(result["metrics"]) == {"internal", "general", "humaneval", "latency"}
    assert result["metrics"]["latency"]["p95_ms"] > 0
    assert result["baseline_metrics"]["humaneval"] is not None  # the base was scored beside it
    assert result["checklist"]["ready"] is False  # a 2-step tiny model does not pass HumanEval >= 0.70
    assert "humaneval-pass@1" in result["checklist"]["failing"]
    lineage = [p for p in result["cards"] if p.endswith("LINEAGE.md")]
    assert lineage and MODEL in Path(lineage[0]).read_text()
    assert _runs(ws, "pipeline")[-1]["status"] == "finished"


@pytest.mark.slow
def test_rerun_skips_everything_and_redoes_a_tampered_output(tiny_ws, cli):
    ws, _ = tiny_ws
    if not any(r["status"] == "finished" for r in _runs(ws, "pipeline")):
        pytest.skip("needs the end-to-end test's workspace")
    runs_before = len(_runs(ws, "pipeline"))
    with pytest.raises(StudioError, match="trained with other settings"):
        run_pipeline(ws, MODEL, max_steps=3)  # never retrain (or overwrite) a model under the same id
    assert len(_runs(ws, "pipeline")) == runs_before  # refused before anything was recorded

    # no training options: the CLI resumes the model as it was trained; nothing is left to do but the checklist
    proc = cli("--workspace", str(ws.root), "pipeline", MODEL, "--json", "--humaneval-limit", "1",
               "--internal-limit", "2", "--general-limit", "2", "--latency-samples", "2")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {s["name"]: s["status"] for s in out["steps"]} == {
        "train": "skipped", "merge": "skipped", "export": "skipped", "eval-internal": "skipped",
        "eval-general": "skipped", "eval-humaneval": "skipped", "eval-latency": "skipped", "cards": "skipped", "checklist": "done"}
    assert "checklist: started" in proc.stderr

    again = run_pipeline(ws, MODEL, **FAST)
    assert {s["name"]: s["status"] for s in again["steps"]} == {
        "train": "skipped", "merge": "skipped", "export": "skipped", "eval-internal": "skipped",
        "eval-general": "skipped", "eval-humaneval": "skipped", "eval-latency": "skipped", "cards": "skipped", "checklist": "done"}

    q4 = next(a["path"] for a in again["artifacts"] if a["type"] == "q4_k_m")
    Path(q4).write_bytes(b"not a gguf any more")
    redone = run_pipeline(ws, MODEL, **FAST)
    status = {s["name"]: s["status"] for s in redone["steps"]}
    assert status["train"] == status["merge"] == "skipped"
    assert status["export"] == "done"
    fresh = [a["path"] for a in redone["artifacts"] if a["type"] == "q4_k_m" and a["path"] != q4]
    assert len(fresh) == 1 and Path(fresh[0]).read_bytes()[:4] == b"GGUF"
    assert Path(q4).read_bytes() == b"not a gguf any more"  # a recorded file is never overwritten
