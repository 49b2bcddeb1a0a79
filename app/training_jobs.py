"""train(...) and merge(...): LoRA training as a recorded job, and adapter + base → merged HF model.

Everything a bad input can be caught by (ids, base, snapshot, seq-len, memory estimate, GPU lock) is checked
before the first row is written. The run row links base, snapshot and the research model; its metrics, the
checkpoints, the adapter and the merged model are recorded as the child reports them.
"""
from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Callable

from app import ids
from app.errors import StudioError
from app.jobs import Job, gpu_lock, pid_alive
from app.ids import folder_name
from app.workspace import Workspace

Progress = Callable[[dict], None] | None
DEFAULT_SEQ_LEN = 1024


def _base_dir(base: dict) -> Path:
    path = base.get("path")
    if not path or not (Path(path) / "config.json").is_file():
        raise StudioError(f"base model {base['id']} has no Hugging Face weights directory to train on"
                          + (f" ({path} is missing)" if path else ""))
    return Path(path)


def _train_file(snapshot: dict) -> Path:
    path = Path(snapshot["path"]) / "train.jsonl"
    if not path.is_file():
        raise StudioError(f"snapshot {snapshot['id']} has no train.jsonl at {path}")
    with open(path, encoding="utf-8", errors="replace") as fh:
        if not any(line.strip() for line in fh):
            raise StudioError(f"snapshot {snapshot['id']} has no training samples ({path} is empty)")
    return path


def _build_config(base: dict, base_dir: Path, train_path: Path, run_dir: Path, *, max_steps, epochs, seq_len, nproc,
                  overrides: dict):
    from training.config import ConfigError, TrainConfig

    context = base.get("context_length")
    if seq_len is None:
        seq_len = min(DEFAULT_SEQ_LEN, context or DEFAULT_SEQ_LEN)
    if context and seq_len > context:
        raise StudioError(f"--seq-len {seq_len} is beyond the context of {base['id']} ({context} tokens)")
    values = {"base_path": str(base_dir), "train_path": str(train_path), "output_dir": str(run_dir),
              "log_path": str(run_dir / "train.log"), "seq_len": seq_len, "nproc": nproc, "max_steps": max_steps,
              **{k: v for k, v in overrides.items() if v is not None}}
    if epochs is not None:
        values["epochs"] = epochs
    try:
        return TrainConfig(**values)
    except (ConfigError, TypeError) as exc:
        raise StudioError(str(exc)) from None


def _estimate(cfg) -> tuple[dict, str]:
    """Memory estimate against what is free (refuses when it will not fit); returns (estimate, device)."""
    from training import memory, trainer

    try:
        rt = trainer.resolve_runtime(cfg)
        model_cfg = memory.read_model_config(cfg.base_path)
        parts = trainer.plan_memory(cfg, rt, model_cfg, trainer.count_parameters(model_cfg, cfg.base_path))
    except (trainer.TrainError, memory.WontFitError) as exc:
        raise StudioError(str(exc)) from None
    return {**parts, "device": rt.device, "precision": rt.precision,
            "gradient_checkpointing": rt.gradient_checkpointing}, rt.device


def _resume_target(store, model_id: str, base_id: str | None, snapshot_id: str | None) -> dict:
    model = store.model(model_id)
    if model is None:
        raise StudioError(f"nothing to resume: no model {model_id!r} (start it without --resume)")
    run = store.run_row((model.get("details") or {}).get("run_id") or "")
    if run is None or run["kind"] != "train":
        raise StudioError(f"{model_id} has no training run to resume")
    if run["status"] == "finished":
        raise StudioError(f"the training run {run['id']} of {model_id} already finished")
    if run["status"] in ("running", "queued") and pid_alive(run.get("pid")) and run.get("host") == socket.gethostname():
        raise StudioError(f"the training run {run['id']} of {model_id} is still running (pid {run['pid']})")
    if base_id and base_id != run["base_id"]:
        raise StudioError(f"--base {base_id} differs from the run being resumed ({run['base_id']})")
    if snapshot_id:
        snap = store.require_snapshot(snapshot_id)
        if snap["id"] != run["snapshot_id"]:
            raise StudioError(f"--snapshot {snapshot_id} differs from the run being resumed ({run['snapshot_id']})")
    return run


def train(ws: Workspace, base_id: str | None, snapshot_id: str | None, model_id: str, *, max_steps: int | None = None,
          epochs: float | None = None, seq_len: int | None = None, nproc: int = 1, resume: bool = False,
          progress: Progress = None, cancel: threading.Event | None = None, dry_run: bool = False,
          **overrides) -> dict:
    """Train a LoRA adapter of `base_id` on `snapshot_id` as research model `model_id` (see CONVENTIONS.md)."""
    from training.config import TrainConfig

    ids.parse(model_id, stage="research")
    if nproc < 1:
        raise StudioError("--nproc must be at least 1")
    store = ws.store()
    try:
        if resume:
            run = _resume_target(store, model_id, base_id, snapshot_id)
            run_id, run_dir = run["id"], Path(run["log_path"]).parent
            cfg = TrainConfig.load(run_dir / "config.json")
            if max_steps is not None:
                cfg.max_steps = max_steps
            cfg.validate()
            base, snapshot = store.require_model(run["base_id"]), store.require_snapshot(run["snapshot_id"])
        else:
            if not base_id or not snapshot_id:
                raise StudioError("train needs --base and --snapshot (or --resume for an interrupted run)")
            if store.model(model_id) is not None:
                raise StudioError(f"model {model_id} already exists; ids are immutable, pick a new one "
                                  "(or --resume an interrupted run)")
            base = store.require_model(base_id)
            snapshot = store.require_snapshot(snapshot_id)
            run_id = store.new_run_id("train")
            run_dir = ws.dir("runs") / run_id
            cfg = _build_config(base, _base_dir(base), _train_file(snapshot), run_dir, max_steps=max_steps,
                                epochs=epochs, seq_len=seq_len, nproc=nproc, overrides=overrides)
        _base_dir(base)
        _train_file(snapshot)
        config_hash = cfg.hash(snapshot["content_hash"], base.get("source_sha256"))
        estimate, device = _estimate(cfg)
        plan = _steps_plan(cfg, progress)
        if dry_run:
            return {"run": None, "model": model_id, "dry_run": True, "config": cfg.to_dict(),
                    "config_hash": config_hash, "memory_estimate": estimate, "steps_plan": plan}
        with (gpu_lock(ws.dir("cache") / "gpu.lock", f"training run {run_id} ({model_id})") if device == "cuda"
              else _no_lock()) as lock_fd:
            if not resume:
                run_dir.mkdir(parents=True, exist_ok=True)
                cfg.save(run_dir / "config.json")
                _create_model(store, cfg, base, snapshot, model_id, run_id)
            else:
                cfg.save(run_dir / "config.json")
            with store.run("train", run_id=run_id, resume=run_id if resume else None, model_id=model_id,
                           base_id=base["id"], snapshot_id=snapshot["id"], config=cfg.to_dict(),
                           config_hash=config_hash, seed=cfg.seed, log_path=cfg.log_path) as run:
                return _run_job(run, store, cfg, model_id, resume, progress, cancel, lock_fd)
    finally:
        store.close()


def _steps_plan(cfg, progress: Progress) -> dict:
    """How many optimizer steps the recipe gives on the snapshot; says it (a warning when too few to learn)."""
    from training.data import DataError, plan_steps, steps_message

    try:
        plan = plan_steps(cfg.train_path, seq_len=cfg.seq_len, batch_size=cfg.batch_size,
                          micro_batch_size=cfg.micro_batch_size, epochs=cfg.epochs, max_steps=cfg.max_steps,
                          pack_samples=cfg.pack, replay=cfg.replay, seed=cfg.seed)
    except DataError as exc:
        raise StudioError(str(exc)) from None
    plan["message"], plan["warning"] = steps_message(plan)
    if progress is not None:
        progress({"event": "log", "level": "warning" if plan["warning"] else "info", "message": plan["message"]})
    return plan


class _no_lock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _create_model(store, cfg, base: dict, snapshot: dict, model_id: str, run_id: str) -> None:
    store.add_model({
        "id": model_id, "parent_id": base["id"], "relation": "lora-finetune", "license": base.get("license"),
        "architecture": base.get("architecture"), "parameters": base.get("parameters"),
        "context_length": base.get("context_length"), "vocab_size": base.get("vocab_size"),
        "source": f"lora of {base['id']} on snapshot {snapshot['id']}", "path": None,
        "details": {"run_id": run_id, "snapshot_id": snapshot["id"], "adapter_path": None, "merged_path": None,
                    "lora": {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout,
                             "target_modules": cfg.target_modules}}})


def _argv(cfg, run_dir: Path, resume: bool) -> list[str]:
    job = ["-m", "training.job", str(run_dir / "config.json")] + (["--resume"] if resume else [])
    if cfg.nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={cfg.nproc}", *job]
    return [sys.executable, *job]


def _run_job(run, store, cfg, model_id, resume, progress, cancel, lock_fd) -> dict:
    """Run the training child inside the run's lifecycle; its final event decides how the run ended."""
    run_id, run_dir = run.id, Path(cfg.output_dir)
    job = Job(_argv(cfg, run_dir, resume), log_dir=run_dir, pass_fds=(lock_fd,) if lock_fd is not None else ())
    job.start()
    run.update(pid=job.pid)  # the process whose death means the run was interrupted
    started: dict = {}

    def on_event(event: dict) -> None:
        kind = event.get("event")
        if kind == "started":
            started.update(event)
        elif kind == "step":
            store.add_metric(run_id, int(event["step"]), **{k: v for k, v in event.items() if k != "step"})
        elif kind == "checkpoint":
            store.add_artifact("checkpoint", event["path"], event["sha256"], event["size_bytes"], model_id=model_id,
                               run_id=run_id, step=event["step"])
        if progress is not None:
            progress({**event, "run": run_id})

    result = job.run(on_event, cancel)
    final = result.final or {}
    common = {"run": run_id, "model": model_id, "status": result.status, "log": cfg.log_path,
              "resumed_from": started.get("resumed_from"), "data": started.get("data")}
    if result.status == "finished":
        store.add_artifact("adapter", final["adapter"], final["adapter_sha256"], final["adapter_size_bytes"],
                           model_id=model_id, run_id=run_id)
        store.set_model_details(model_id, adapter_path=final["adapter"])
        out = {**common, "adapter": final["adapter"], "final_loss": final["final_loss"],
               "tokens_per_second": final["tokens_per_second"], "steps": final["steps"]}
        run.result = out
        return out
    if result.status == "cancelled":
        out = {**common, "adapter": None, "final_loss": None, "tokens_per_second": None, "step": final.get("step"),
               "checkpoint": final.get("checkpoint")}
        run.end("cancelled", result=out)
        return out
    if result.status == "failed":
        run.end("failed", error=str(final.get("error")))
        raise StudioError(f"training failed: {final.get('error')} (run {run_id})")
    last = [line for line in result.stderr_tail.splitlines() if line.strip()][-1:] or [f"exit code {result.returncode}"]
    run.end("interrupted", error=last[0][:500])
    raise StudioError(f"training run {run_id} stopped without finishing ({last[0][:200]}); "
                      f"continue it with `train --id {model_id} --resume`")


def merge(ws: Workspace, model_id: str, progress: Progress = None) -> dict:
    """Merge a research model's adapter into its base (in the base's dtype), check logits, record it."""
    from training.merge import MergeError, merge_adapter
    from training.fileio import size_of

    store = ws.store()
    try:
        model = store.require_model(model_id)
        details = model.get("details") or {}
        adapter = details.get("adapter_path")
        if model["stage"] != "research" or not adapter:
            raise StudioError(f"{model_id} has no trained adapter to merge (train it first)")
        if not Path(adapter).is_dir():
            raise StudioError(f"the adapter of {model_id} is missing at {adapter}")
        base = store.require_model(model["parent_id"])
        base_dir = _base_dir(base)
        out_dir = ws.dir("models") / folder_name(model_id) / "merged"
        with store.run("merge", model_id=model_id, base_id=base["id"], snapshot_id=details.get("snapshot_id"),
                       config={"adapter": adapter}) as run:
            try:
                info = merge_adapter(base_dir, adapter, out_dir, progress=progress)
            except MergeError as exc:
                raise StudioError(str(exc)) from None
            store.add_artifact("merged", info["path"], info["sha256"], size_of(info["path"]), model_id=model_id,
                               run_id=run.id, dtype=info["dtype"], max_abs_logit_diff=info["max_abs_diff"])
            store.update("models", "id", model_id, {"path": info["path"]})
            store.set_model_details(model_id, merged_path=info["path"])
            run.result = {"model": model_id, "run": run.id, **info}
        return run.result
    finally:
        store.close()
