"""`pipeline ID`: train → merge → export → eval → checklist → cards as one resumable action."""
from __future__ import annotations

from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, progress_to_stderr, workspace
from eval.suites import SUITES


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def render(result: dict) -> str:
    """The human summary: one line per step (with its time), the metrics, the checklist and where things are."""
    lines = [f"pipeline {result['pipeline']} for {result['model']} ({result['seconds']:.0f} s)"]
    for step in result["steps"]:
        took = (f"{step['seconds']:.1f} s" if step["status"] != "skipped"
                else f"skipped, done earlier in {step.get('original_seconds') or 0:.1f} s")
        lines.append(f"  {step['name']:<16} {step['status']:<8} {took}")
    for suite, metrics in (result.get("metrics") or {}).items():
        if metrics:
            shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in list(_flat(metrics).items())[:6])
            lines.append(f"  {suite}: {shown}")
    check = result.get("checklist") or {}
    if check.get("ready") is not None:
        lines.append(f"  checklist to {check['to']}: " + ("ready" if check["ready"]
                                                         else "not ready (" + ", ".join(check["failing"]) + ")"))
    for art in result.get("artifacts", []):
        lines.append(f"  {art['kind']:<12} {art['type'] or '':<7} {art['path']}")
    return "\n".join(lines)


def _flat(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def register(app: typer.Typer) -> None:
    @app.command("pipeline")
    def pipeline_cmd(
        ctx: typer.Context,
        model_id: str = typer.Argument(..., help="The research model to produce (research/OWNER/NAME)."),
        base: Optional[str] = typer.Option(None, "--base", help="Base model id (default: the model's own base)."),
        snapshot: Optional[str] = typer.Option(None, "--snapshot", help="Dataset snapshot (default: the model's own)."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop training after N optimizer steps."),
        epochs: Optional[int] = typer.Option(None, "--epochs"),
        seq_len: Optional[int] = typer.Option(None, "--seq-len"),
        nproc: int = typer.Option(1, "--nproc", help="Training processes (torchrun)."),
        types: str = typer.Option("q8_0,q4_k_m", "--type", help="GGUF types to export, comma-separated."),
        suites: str = typer.Option(",".join(SUITES), "--suites", help="Eval suites, comma-separated."),
        humaneval_limit: Optional[int] = typer.Option(20, "--humaneval-limit", help="HumanEval tasks to run."),
        internal_limit: Optional[int] = typer.Option(None, "--internal-limit", help="Held-out snippets to score."),
        general_limit: Optional[int] = typer.Option(None, "--general-limit",
                                                    help="Snippets of the shipped general-code held-out set to score."),
        latency_samples: Optional[int] = typer.Option(None, "--latency-samples"),
        no_baseline: bool = typer.Option(False, "--no-baseline", help="Do not evaluate the base beside the model."),
        to_stage: str = typer.Option("internal", "--to", help="Checklist target stage."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Run (or resume) the whole loop for a model; finished steps whose outputs verify are skipped."""
        from app.pipeline import run_pipeline

        result = run_pipeline(workspace(ctx), model_id, base_id=base, snapshot_id=snapshot, max_steps=max_steps,
                              epochs=epochs, seq_len=seq_len, nproc=nproc, types=_csv(types), suites=_csv(suites),
                              humaneval_limit=humaneval_limit, internal_limit=internal_limit,
                              general_limit=general_limit,
                              latency_samples=latency_samples, baseline=not no_baseline, to_stage=to_stage,
                              progress=progress_to_stderr)
        emit(result, as_json, render)
