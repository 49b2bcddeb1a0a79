"""curate --feedback MODEL: a staged model's captured accepted completions become train samples of the next
snapshot, tagged with their provenance; the manifest and the recorded stats say how many from how many."""
import json
import shutil
from pathlib import Path

import pytest

from app.curation import curate
from app.errors import StudioError
from app.forks import fork
from app.repos import add_repo
from app.workspace import Workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "curation" / "repo"
MODEL = "forkies/tiny@v0.1.0"
BODY = "    total = 0\n    for item in items:\n        total += item.price * item.quantity\n    return total\n"


@pytest.fixture
def ws(tmp_path, tiny_qwen2):
    w = Workspace.open(tmp_path / "ws")
    fork(w, str(tiny_qwen2), MODEL)
    shutil.copytree(FIXTURES, tmp_path / "shop")
    add_repo(w, tmp_path / "shop")
    return w


def capture(ws, cid, prompt, accepted, suffix=""):
    with ws.store() as store:
        now = store.now()
        store.conn.execute("INSERT INTO serve_requests (time, completion_id, endpoint, model_id, status, http_status) "
                           "VALUES (?, ?, '/v1/completions', ?, 'ok', 200)", [now, cid, MODEL])
        store.conn.execute("INSERT INTO feedback_captures (completion_id, model_id, prompt, suffix, accepted, language, "
                           "time) VALUES (?, ?, ?, ?, ?, 'python', ?)", [cid, MODEL, prompt, suffix, accepted, now])
        store.conn.commit()


def test_feedback_samples_in_snapshot_with_provenance(ws):
    with pytest.raises(StudioError, match="no accepted completions captured"):
        curate(ws, feedback_model=MODEL)
    capture(ws, "cmpl-1", "def order_total(items):\n", BODY)
    capture(ws, "cmpl-2", "def order_total(items):\n    total = 0\n", BODY[14:], suffix="\n\nprint(1)\n")
    capture(ws, "cmpl-3", "def order_total(items):\n", BODY)      # the same accepted text again: one sample
    capture(ws, "cmpl-4", "x = ", "1")                               # under the 10-token floor: dropped
    plain = curate(ws)
    result = curate(ws, feedback_model=MODEL)
    assert result["feedback"]["summary"] == f"feedback from the staging of {MODEL}: 2 samples from 4 accepted completions"
    assert result["feedback"]["dropped"] == {"duplicate": 1, "too_short": 1}
    assert result["samples"]["train"] == plain["samples"]["train"] + 2
    assert result["samples"]["heldout"] == plain["samples"]["heldout"]
    assert result["content_hash"] != plain["content_hash"]
    out = Path(result["output"])
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    fed = [r for r in rows if r.get("provenance")]
    assert [r["provenance"] for r in fed] == [{"source": "feedback", "model": MODEL, "completion_id": c}
                                              for c in ("cmpl-1", "cmpl-2")]
    assert fed[0]["kind"] == "completion" and fed[0]["completion"] == BODY
    assert fed[1]["kind"] == "fim" and "<|fim_suffix|>\n\nprint(1)\n" in fed[1]["prompt"]
    assert not any("provenance" in json.loads(l) for l in (out / "heldout.jsonl").read_text().splitlines())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feedback"] == result["feedback"]["summary"]
    assert manifest["config"]["feedback"] == {"model": MODEL}
    with ws.store() as store:
        assert store.snapshot(result["snapshot"])["stats"]["feedback"]["samples"] == 2
    with pytest.raises(StudioError, match="neither a model id"):
        curate(ws, feedback_model="internal/nobody")
