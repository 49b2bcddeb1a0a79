"""Training as a recorded job (app.training_jobs through app.jobs, real child processes), the CLI, merge, DDP."""
import json
import os
import signal
import threading

import pytest

from train_snapshot import write_snapshot

BASE = "forkies/tiny@v0.1.0"
KNOBS = dict(seq_len=128, batch_size=4, micro_batch_size=2, learning_rate=3e-3, checkpoint_every=2, lora_dropout=0.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_qwen2):
    """A workspace with the tiny base, a snapshot, and one uninterrupted 10-step run (the reference losses)."""
    from app.forks import fork
    from app.training_jobs import train
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("trainws") / "ws")
    fork(ws, str(tiny_qwen2), BASE)
    write_snapshot(ws)
    result = train(ws, BASE, "snap-test", "research/me/full", max_steps=10, **KNOBS)
    store = ws.store()
    losses = [m["loss"] for m in store.metrics(result["run"])]
    store.close()
    return ws, result, losses


def _losses(ws, model_id):
    store = ws.store()
    try:
        run_id = store.model(model_id)["details"]["run_id"]
        return store.run_row(run_id), [m["loss"] for m in store.metrics(run_id)]
    finally:
        store.close()


def test_train_records_lineage(trained):
    ws, result, losses = trained
    assert result["status"] == "finished" and result["steps"] == 10 and len(losses) == 10
    assert result["final_loss"] == pytest.approx(losses[-1]) and result["tokens_per_second"] > 0
    store = ws.store()
    model = store.model("research/me/full")
    assert model["parent_id"] == BASE and model["relation"] == "lora-finetune" and model["expires"]
    assert model["details"]["adapter_path"] == result["adapter"] and model["details"]["snapshot_id"] == "snap-test"
    run = store.run_row(result["run"])
    assert (run["status"], run["base_id"], run["snapshot_id"], run["model_id"]) == \
        ("finished", BASE, "snap-test", "research/me/full")
    assert run["config"]["lora_r"] == 16 and len(run["config_hash"]) == 64 and run["seed"] == 42
    kinds = [a["kind"] for a in store.artifacts("research/me/full")]
    assert kinds.count("checkpoint") == 5 and kinds.count("adapter") == 1
    assert all(len(a["sha256"]) == 64 for a in store.artifacts("research/me/full"))
    store.close()
    lines = [json.loads(x) for x in open(run["log_path"])]
    assert lines[0]["event"] == "started" and lines[-1]["event"] == "finished"
    assert {"step", "loss", "lr", "grad_norm", "tokens_per_second", "memory_bytes", "eta_s"} <= set(lines[1])


@pytest.mark.slow
def test_cancel_and_kill9_then_resume_reproduce_losses(trained):
    from app.errors import StudioError
    from app.training_jobs import train

    ws, _result, reference = trained
    cancel = threading.Event()

    def cancel_at_step_3(event):
        if event["event"] == "step" and event["step"] >= 3:
            cancel.set()

    stopped = train(ws, BASE, "snap-test", "research/me/cancelled", max_steps=10, progress=cancel_at_step_3,
                    cancel=cancel, **KNOBS)
    assert stopped["status"] == "cancelled" and 3 <= stopped["step"] < 10
    assert _losses(ws, "research/me/cancelled")[0]["status"] == "cancelled"
    resumed = train(ws, None, None, "research/me/cancelled", resume=True)
    run, losses = _losses(ws, "research/me/cancelled")
    assert resumed["status"] == "finished" and run["status"] == "finished"
    assert losses == pytest.approx(reference, rel=1e-6)

    pid = {}

    def kill_after_checkpoint(event):
        if event["event"] == "started":
            pid["job"] = event["pid"]
        if event["event"] == "checkpoint" and event["step"] == 2:
            os.kill(pid["job"], signal.SIGKILL)

    with pytest.raises(StudioError, match="stopped without finishing.*--resume"):
        train(ws, BASE, "snap-test", "research/me/killed", max_steps=10, progress=kill_after_checkpoint, **KNOBS)
    assert _losses(ws, "research/me/killed")[0]["status"] == "interrupted"
    resumed = train(ws, BASE, "snap-test", "research/me/killed", resume=True)
    assert "step-0000000" in resumed["resumed_from"]
    run, losses = _losses(ws, "research/me/killed")
    assert run["status"] == "finished" and losses == pytest.approx(reference, rel=1e-6)
    with pytest.raises(StudioError, match="already finished"):
        train(ws, None, None, "research/me/killed", resume=True)


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one(trained):
    """torchrun + gloo, 2 processes x 1 micro batch = the 1-process run's 2 accumulated micro batches."""
    from app.training_jobs import train

    ws, _result, reference = trained
    result = train(ws, BASE, "snap-test", "research/me/ddp", max_steps=10, nproc=2, **KNOBS)
    run, losses = _losses(ws, "research/me/ddp")
    assert result["status"] == "finished" and run["config"]["nproc"] == 2
    assert losses == pytest.approx(reference, rel=1e-4)


def test_merge_parity_and_record(trained, cli):
    ws, result, _ = trained
    out = cli("--workspace", str(ws.root), "merge", "research/me/full", "--json")
    assert out.returncode == 0, out.stderr
    merged = json.loads(out.stdout)
    assert merged["max_abs_diff"] <= merged["tolerance"] and merged["dtype"] == "float32"
    names = set(os.listdir(merged["path"]))
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json", "README.md"} <= names
    assert any(n.startswith("chat_template") for n in names) or "chat_template" in open(
        os.path.join(merged["path"], "tokenizer_config.json")).read()
    store = ws.store()
    model = store.model("research/me/full")
    assert model["path"] == merged["path"] and model["details"]["merged_path"] == merged["path"]
    art = [a for a in store.artifacts("research/me/full", kind="merged")]
    assert len(art) == 1 and art[0]["sha256"] == merged["sha256"]
    base_path = store.model(BASE)["path"]
    store.close()
    # the merged weights differ from the base's (the adapter was folded in)
    from safetensors.numpy import load_file

    base_w = load_file(os.path.join(base_path, "model.safetensors"))
    merged_w = load_file(os.path.join(merged["path"], "model.safetensors"))
    key = "model.layers.0.self_attn.q_proj.weight"
    assert abs(base_w[key] - merged_w[key]).max() > 0


def _fails(result, fragment):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert result.stdout == ""


def test_cli_bad_inputs_leave_store_untouched(cli, ws_root, tiny_qwen2, tmp_path):
    from app.workspace import Workspace

    assert cli("fork", str(tiny_qwen2), "--id", BASE).returncode == 0
    ws = Workspace.open(ws_root)
    write_snapshot(ws, "snap-empty", rows=[])
    write_snapshot(ws, "snap-ok")
    args = ["train", "--id", "research/me/x", "--max-steps", "1"]
    _fails(cli(*args, "--base", "forkies/nope@v1.0.0", "--snapshot", "snap-ok"), "no model 'forkies/nope@v1.0.0'")
    _fails(cli(*args, "--base", BASE, "--snapshot", "snap-missing"), "no dataset snapshot 'snap-missing'")
    _fails(cli(*args, "--base", BASE, "--snapshot", "snap-empty"), "has no training samples")
    _fails(cli(*args, "--base", BASE, "--snapshot", "snap-ok", "--seq-len", "4096"), "beyond the context")
    _fails(cli("train", "--id", "forkies/x@v1.0.0", "--base", BASE, "--snapshot", "snap-ok"), "must be of the form")
    _fails(cli("train", "--id", "research/me/x", "--resume"), "nothing to resume")
    _fails(cli("merge", "research/me/x"), "no model 'research/me/x'")
    store = ws.store()
    assert [m["id"] for m in store.models()] == [BASE]
    assert store.query("SELECT * FROM runs") == []
    store.close()
    assert os.listdir(ws.dir("runs")) == []
    dry = cli(*args, "--base", BASE, "--snapshot", "snap-ok", "--seq-len", "64", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert shown["config"]["lora_alpha"] == 32 and shown["memory_estimate"]["total"] > 0 and shown["config_hash"]
    assert Workspace.open(ws_root).store().query("SELECT * FROM runs") == []


def test_gpu_lock_is_exclusive(tmp_path):
    from app.errors import StudioError
    from app.jobs import gpu_lock

    with gpu_lock(tmp_path / "gpu.lock", "training run A"):
        with pytest.raises(StudioError, match="GPU is busy with training run A"):
            with gpu_lock(tmp_path / "gpu.lock", "training run B"):
                pass
    with gpu_lock(tmp_path / "gpu.lock", "training run B"):
        pass


def test_job_runner_streams_and_cancels(tmp_path):
    import sys

    from app.jobs import Job

    code = ("import json, signal, sys, time\n"
            "stop = []\n"
            "signal.signal(signal.SIGTERM, lambda *a: stop.append(1))\n"
            "print('not json', flush=True)\n"
            "for i in range(600):\n"
            "    print(json.dumps({'event': 'step', 'step': i}), flush=True)\n"
            "    if stop:\n"
            "        print(json.dumps({'event': 'cancelled', 'step': i}), flush=True)\n"
            "        sys.exit(0)\n"
            "    time.sleep(0.05)\n")
    cancel, seen = threading.Event(), []

    def on_event(e):
        seen.append(e)
        if e.get("step") == 2:
            cancel.set()

    result = Job([sys.executable, "-c", code], log_dir=tmp_path).run(on_event, cancel)
    assert seen[0] == {"event": "log", "message": "not json"}
    assert result.status == "cancelled" and result.cancelled and result.returncode == 0
    assert 2 <= result.final["step"] < 50


@pytest.mark.slow
def test_embedded_smollm2_two_steps(embedded_workspace, tmp_path):
    """The real default base (SmolLM2-135M, Llama architecture) trains through the same job path."""
    import math
    import shutil

    from app.forks import DEMO_BASE_ID
    from app.training_jobs import train
    from app.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(embedded_workspace, root)
    ws = Workspace.open(root)
    write_snapshot(ws)
    result = train(ws, DEMO_BASE_ID, "snap-test", "research/me/smol", max_steps=2, seq_len=64, batch_size=2,
                   micro_batch_size=2)
    run, losses = _losses(ws, "research/me/smol")
    assert result["status"] == "finished" and run["status"] == "finished" and len(losses) == 2
    assert all(math.isfinite(x) and 0 < x < 20 for x in losses)
    assert os.path.isfile(os.path.join(result["adapter"], "adapter_model.safetensors"))


def test_corrupt_snapshot_is_refused_before_launch(trained):
    """A corrupt line is found when the steps are planned, before anything is recorded."""
    from app.errors import StudioError
    from app.training_jobs import train

    ws, _result, _ = trained
    folder = write_snapshot(ws, "snap-corrupt")
    with open(folder / "train.jsonl", "a") as fh:
        fh.write("{broken\n")
    with pytest.raises(StudioError, match=r"^train.jsonl line 49 is not JSON"):
        train(ws, BASE, "snap-corrupt", "research/me/corrupt", max_steps=2, **KNOBS)
    with ws.store() as store:
        assert store.model("research/me/corrupt") is None


def test_failing_job_is_recorded_and_reported(trained, tiny_qwen2, tmp_path):
    """Weights that break inside the child (a truncated safetensors file the parent only reads the header of) fail
    the run in one line; nothing is half-recorded."""
    import shutil

    from app.errors import StudioError
    from app.forks import fork
    from app.training_jobs import train

    ws, _result, _ = trained
    broken = shutil.copytree(tiny_qwen2, tmp_path / "broken")
    weights = broken / "model.safetensors"
    data = weights.read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    weights.write_bytes(data[:header + (len(data) - header) // 2])
    fork(ws, str(broken), "forkies/broken@v0.1.0")
    with pytest.raises(StudioError, match=r"^training failed: .*\(run train-"):
        train(ws, "forkies/broken@v0.1.0", "snap-test", "research/me/broken", max_steps=2, **KNOBS)
    run, losses = _losses(ws, "research/me/broken")
    assert run["status"] == "failed" and run["error"] and losses == []
    with ws.store() as store:
        assert store.artifacts("research/me/broken") == []
        assert store.model("research/me/broken")["details"]["adapter_path"] is None
