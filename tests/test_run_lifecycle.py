"""One run lifecycle (Store.run): every kind of run ends recorded, whatever stops it, and a run whose process
is gone is marked interrupted when a store opens."""
from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import threading

import pytest

from app.errors import StudioError
from app.store import Store
from training.cancel import Cancelled, check

T0 = dt.datetime(2026, 12, 1, 8, 30, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db", clock=lambda: T0) as s:
        yield s


def _status(store, run_id):
    row = store.run_row(run_id)
    return row["status"], row["error"]


def test_finished_run_records_result_time_pid_and_one_id_format(store):
    with store.run("merge", config={"adapter": "a"}) as run:
        run.result = {"path": "/m"}
    row = store.run_row(run.id)
    assert re.fullmatch(r"merge-20261201T083000-[0-9a-f]{6}", run.id)
    assert row["status"] == "finished" and row["result"] == {"path": "/m"}
    assert row["started"] == row["finished"] == "2026-12-01T08:30:00+00:00"
    assert row["host"] == socket.gethostname() and row["pid"] is not None
    kinds = [e["kind"] for e in store.events() if e["run_id"] == run.id]
    assert kinds == ["run.created", "run.running", "run.finished"]


@pytest.mark.parametrize("raised, status, error", [
    (Cancelled("export cancelled"), "cancelled", "export cancelled"),
    (KeyboardInterrupt(), "interrupted", "interrupted (Ctrl-C)"),
    (ValueError("bad tensor"), "failed", "ValueError: bad tensor"),
    (StudioError("no adapter"), "failed", "no adapter"),
    (SystemExit(3), "interrupted", "SystemExit: 3"),
])
def test_each_way_out_is_recorded_by_type(store, raised, status, error):
    with pytest.raises(type(raised)):
        with store.run("eval") as run:
            raise raised
    assert _status(store, run.id) == (status, error)


def test_cancel_is_judged_by_type_not_by_message(store):
    with pytest.raises(RuntimeError, match="cancelled"):
        with store.run("export") as run:
            raise RuntimeError("user cancelled nothing; the disk is full")
    assert _status(store, run.id)[0] == "failed"
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled, match="training cancelled"):
        with store.run("export") as run2:
            check(event, "training")
    assert _status(store, run2.id)[0] == "cancelled"


def test_body_chooses_its_ending_once(store):
    with store.run("train") as run:
        run.end("cancelled", result={"step": 3})
        run.result = {"ignored": True}
    row = store.run_row(run.id)
    assert row["status"] == "cancelled" and row["result"] == {"step": 3}


def test_resume_reenters_the_same_row(store):
    with pytest.raises(KeyboardInterrupt):
        with store.run("train") as run:
            raise KeyboardInterrupt
    with store.run("train", resume=run.id) as again:
        again.result = {"steps": 4}
    assert again.id == run.id
    assert _status(store, run.id) == ("finished", None)
    with pytest.raises(StudioError, match="no run 'nope' to resume"):
        with store.run("train", resume="nope"):
            pass


def test_runs_whose_process_is_gone_are_interrupted_on_open(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    with Store(tmp_path / "s.db") as store:
        for kind in ("train", "merge", "export", "eval", "pipeline"):
            store.add_run(f"{kind}-gone", kind, status="running", pid=dead.pid, host=socket.gethostname())
        store.add_run("eval-alive", "eval", status="running", pid=os.getpid(),
                      host=socket.gethostname())
        store.add_run("eval-elsewhere", "eval", status="running", pid=dead.pid, host="another-machine")
    with Store(tmp_path / "s.db") as store:
        status = {r["id"]: r["status"] for r in store.query("SELECT id, status FROM runs")}
    assert all(status[f"{k}-gone"] == "interrupted" for k in ("train", "merge", "export", "eval", "pipeline"))
    assert status["eval-alive"] == "running" and status["eval-elsewhere"] == "running"


def test_ctrl_c_during_eval_leaves_the_run_interrupted(embedded_workspace, tmp_path):
    """The bug: evaluate() caught Exception only, so a Ctrl-C left its run `running` forever."""
    import shutil

    from app.evaluating import evaluate
    from app.forks import DEMO_BASE_ID
    from app.workspace import Workspace

    ws = Workspace.open(shutil.copytree(embedded_workspace, tmp_path / "ws"))

    def ctrl_c(event):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(ws, DEMO_BASE_ID, "latency", samples=1, progress=ctrl_c)
    with ws.store() as store:
        rows = store.query("SELECT status, error FROM runs WHERE kind = 'eval'")
    assert rows == [{"status": "interrupted", "error": "interrupted (Ctrl-C)"}]


def test_workspace_clock_reaches_every_store(tmp_path):
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", clock=lambda: T0)
    with ws.store() as store:
        assert store.now() == "2026-12-01T08:30:00+00:00"
        assert store.new_run_id("eval").startswith("eval-20261201T083000-")
