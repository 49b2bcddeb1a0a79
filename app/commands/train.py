"""`train` (LoRA training job) and `merge` (adapter + base → merged HF model)."""
from __future__ import annotations

import json
from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _step_line(event: dict) -> str | None:
    kind = event.get("event")
    if kind == "step":
        mem = (event.get("memory_bytes") or 0) / 2**30
        return (f"step {event['step']}/{event['total_steps']}  loss {event['loss']:.4f}  lr {event['lr']:.2e}  "
                f"grad {event['grad_norm']:.3f}  {event['tokens_per_second']:.0f} tok/s  {mem:.2f} GiB  "
                f"eta {event['eta_s']:.0f}s")
    if kind == "started":
        d = event.get("data") or {}
        return (f"run {event.get('run')}: {event['total_steps']} steps from step {event['start_step']} on "
                f"{event['device']} ({event['precision']}), {d.get('windows')} windows of "
                f"{d.get('tokens')} tokens, {event['trainable_parameters']:,} LoRA parameters")
    if kind == "checkpoint":
        return f"checkpoint {event['path']}"
    if kind in ("cancelled", "failed", "finished"):
        return f"{kind}: " + " ".join(f"{k}={v}" for k, v in event.items() if k not in ("event", "run"))
    if kind == "log":
        return ("warning: " if event.get("level") == "warning" else "") + str(event.get("message"))
    return None


def _stderr_progress(event: dict) -> None:
    import sys

    line = _step_line(event)
    if line:
        print(line, file=sys.stderr, flush=True)


def _human(result: dict) -> str:
    if result.get("dry_run"):
        est = result["memory_estimate"]
        return (json.dumps(result["config"], indent=2, sort_keys=True) + f"\nconfig hash {result['config_hash']}\n"
                f"memory estimate: {est['total'] / 2**30:.2f} GiB of {est['free'] / 2**30:.1f} GiB free on "
                f"{est['device']} ({est['precision']}, gradient checkpointing "
                f"{'on' if est['gradient_checkpointing'] else 'off'})")
    if result["status"] == "cancelled":
        return f"cancelled {result['model']} at step {result.get('step')}; resume with --resume"
    return (f"trained {result['model']} (run {result['run']}): final loss {result['final_loss']:.4f}, "
            f"{result['tokens_per_second']:.0f} tokens/s; adapter {result['adapter']}")


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(ctx: typer.Context,
                  base: Optional[str] = typer.Option(None, "--base", help="Base model id (forkies/NAME@vX.Y.Z)."),
                  snapshot: Optional[str] = typer.Option(None, "--snapshot", help="Dataset snapshot id."),
                  model_id: str = typer.Option(..., "--id", help="research/OWNER/NAME"),
                  max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
                  epochs: Optional[float] = typer.Option(None, "--epochs", help="Epochs (default 3)."),
                  seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Packed window length (default 1024)."),
                  nproc: int = typer.Option(1, "--nproc", help="Processes (torchrun, DDP)."),
                  resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of --id."),
                  batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Effective batch (default 16)."),
                  micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size", help="Per forward pass."),
                  learning_rate: Optional[float] = typer.Option(None, "--lr", help="AdamW learning rate (2e-4)."),
                  checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps (50)."),
                  qlora: bool = typer.Option(False, "--qlora", help="4-bit base through bitsandbytes (CUDA)."),
                  replay: Optional[float] = typer.Option(None, "--replay", min=0.0, max=0.9,
                                                         help="Share of general-code samples mixed into training "
                                                              "(0..0.9), against forgetting."),
                  dry_run: bool = typer.Option(False, "--dry-run", help="Show the full config and memory estimate."),
                  as_json: bool = JSON_OPTION) -> None:
        """Train a LoRA adapter as a job: live metrics on stderr, SIGTERM/Ctrl-C checkpoints and stops."""
        from app.training_jobs import train

        result = train(workspace(ctx), base, snapshot, model_id, max_steps=max_steps, epochs=epochs, seq_len=seq_len,
                       nproc=nproc, resume=resume, progress=_stderr_progress, dry_run=dry_run, batch_size=batch_size,
                       micro_batch_size=micro_batch_size, learning_rate=learning_rate,
                       checkpoint_every=checkpoint_every, qlora=qlora or None, replay=replay)
        emit(result, as_json, _human)

    @app.command("merge")
    def merge_cmd(ctx: typer.Context, model_id: str = typer.Argument(..., help="research/OWNER/NAME"),
                  as_json: bool = JSON_OPTION) -> None:
        """Merge a trained adapter into its base (base dtype), verified on a probe batch."""
        from app.training_jobs import merge

        result = merge(workspace(ctx), model_id, progress=_stderr_progress)
        emit(result, as_json, lambda r: f"merged {r['model']} into {r['path']} (max |logit diff| {r['max_abs_diff']:.2e})")
