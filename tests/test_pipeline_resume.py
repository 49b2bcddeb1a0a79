"""The pipeline's skip-and-verify rule on its own (no training): a step is skipped only when an earlier record of
the same step, for the same model, had the same inputs and every output still verifies."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.pipeline import Pipeline, PipelineConfig
from training.fileio import sha256_file

MODEL = "research/me/coder"


@pytest.fixture
def seeded(workspace):
    """A finished pipeline run whose export step made one GGUF and whose eval step recorded two rows."""
    gguf = workspace.dir("artifacts") / "coder-q8_0.gguf"
    gguf.parent.mkdir(parents=True, exist_ok=True)
    gguf.write_bytes(b"GGUF pretend q8_0")
    with workspace.store() as store:
        store.add_model({"id": "forkies/base@v1.0.0", "relation": "fork"})
        store.add_model({"id": MODEL, "parent_id": "forkies/base@v1.0.0", "relation": "lora-finetune"})
        art = store.add_artifact("gguf", gguf, sha256_file(gguf), gguf.stat().st_size, model_id=MODEL,
                                 quant_type="q8_0")
        rows = [store.add_eval_result(MODEL, "internal", m, 0.5, "h") for m in ("score", "exact_match")]
        steps = {"export": {"status": "done", "inputs": "in-export", "outputs": [{"artifact": art}]},
                 "eval-internal": {"status": "done", "inputs": "in-eval", "outputs": [{"eval_rows": rows}]},
                 "cards": {"status": "done", "inputs": "in-cards", "outputs": [{"path": str(gguf),
                                                                                 "sha256": sha256_file(gguf)}]}}
        with store.run("pipeline", config={"model_id": MODEL}) as run:
            run.result = {"steps": steps}
    return workspace, gguf, run.id, rows


def _previous(ws, name, inputs, model=MODEL):
    pipe = Pipeline(ws, PipelineConfig(base_id="forkies/base@v1.0.0", snapshot_id="s", model_id=model))
    with ws.store() as store:
        return pipe._previous(store, name, inputs)


def test_same_inputs_and_verified_outputs_are_skipped(seeded):
    ws, _, run_id, _ = seeded
    for name, inputs in (("export", "in-export"), ("eval-internal", "in-eval"), ("cards", "in-cards")):
        found = _previous(ws, name, inputs)
        assert found is not None and found["from_run"] == run_id, name


def test_other_inputs_or_another_model_are_done_again(seeded):
    ws, *_ = seeded
    assert _previous(ws, "export", "in-export-changed") is None
    assert _previous(ws, "export", "in-export", model="research/me/other") is None
    assert _previous(ws, "merge", "anything") is None  # no record of that step


def test_a_changed_file_or_missing_rows_are_done_again(seeded):
    ws, gguf, _, rows = seeded
    gguf.write_bytes(b"GGUF tampered")
    assert _previous(ws, "export", "in-export") is None  # the artifact's sha256 no longer matches
    assert _previous(ws, "cards", "in-cards") is None    # nor does the recorded path's
    assert _previous(ws, "eval-internal", "in-eval") is not None
    with ws.store() as store:
        store.conn.execute("DELETE FROM eval_results WHERE id = ?", [rows[0]])
        store.conn.commit()
    assert _previous(ws, "eval-internal", "in-eval") is None


def test_a_missing_file_is_done_again(seeded):
    ws, gguf, *_ = seeded
    Path(gguf).unlink()
    assert _previous(ws, "export", "in-export") is None
