"""`eval ID --suite humaneval|internal|general|latency` and `eval --suite humaneval --completions FILE.jsonl`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, progress_to_stderr, workspace
from app.errors import StudioError


def _human(result: dict) -> str:
    lines = [f"{result['suite']}" + (f" on {result['model']}" if result.get("model") else "")]
    if result.get("scores"):
        lines += _interval_lines(result)
    else:  # a completions file: the numbers alone
        for key, value in (result.get("metrics") or {}).items():
            if value is not None and not isinstance(value, dict):
                lines.append(f"  {key}: {value:.4g}")
    if result.get("sandbox"):
        active = [k for k, v in result["sandbox"].items() if v not in (False, None) and not str(v).startswith("unavailable")]
        lines.append(f"  sandbox layers: {', '.join(active)}")
    return "\n".join(lines)


def _interval_lines(result: dict) -> list[str]:
    """Each metric with its 95% interval and n, and its paired delta against the baseline with the verdict."""
    from app.intervals import delta_cell, fmt_ci

    deltas = {(c["metric"], c["category"]): c for c in result.get("comparisons") or []}
    lines = []
    for s in result["scores"]:
        if s["value"] is None:
            continue
        name = s["metric"] + (f" [{s['category']}]" if s["category"] else "")
        line = f"  {name}: {s['value']:.4g} {fmt_ci(s['ci95'], '.3g')} n={s['n']}"
        if (s["metric"], s["category"]) in deltas:
            line += f"; vs {result['baseline']}: {delta_cell(deltas[(s['metric'], s['category'])])}"
        lines.append(line + (" (indicative only)" if s.get("indicative") else ""))
    return lines + [f"  warning: {w}" for w in result.get("warnings") or []]


def check_file(path: Path, progress=None) -> dict:
    from eval import humaneval

    try:
        problems = humaneval.load_problems()
        rows = humaneval.read_completions(path, problems)
    except humaneval.HumanEvalError as exc:
        raise StudioError(str(exc)) from None
    out = humaneval.check_completions(rows, problems, progress=progress)
    return {"suite": "humaneval", "completions": str(path), **out["metrics"], "metrics": out["metrics"],
            "tasks": out["tasks"], "samples": out["samples"], "sandbox": out["sandbox"], "results": out["results"]}


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(ctx: typer.Context,
                 model_id: Optional[str] = typer.Argument(None, help="The model to evaluate."),
                 suite: str = typer.Option(..., "--suite", help="humaneval, internal, general or latency."),
                 limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N tasks / held-out samples."),
                 samples: Optional[int] = typer.Option(None, "--samples",
                                                       help="HumanEval: samples per task (pass@k); latency: contexts."),
                 baseline: Optional[str] = typer.Option(None, "--baseline", help="Also run this model, same settings."),
                 completions: Optional[Path] = typer.Option(None, "--completions",
                                                            help="Check a JSONL of {task_id, completion} instead."),
                 as_json: bool = JSON_OPTION) -> None:
        """Run an evaluation suite on a model's GGUF (or HF weights) and record the numbers."""
        if completions is not None:
            if suite != "humaneval":
                raise StudioError("--completions works with --suite humaneval only")
            if model_id is not None:
                raise StudioError("give either a model id or --completions, not both")
            result = check_file(completions, progress=None if as_json else progress_to_stderr)
            emit(result, as_json, _human)
            return
        if model_id is None:
            raise StudioError("give the model id to evaluate (or --completions FILE.jsonl)")
        from app.evaluating import evaluate

        result = evaluate(workspace(ctx), model_id, suite, limit=limit, samples=samples, baseline_id=baseline,
                          progress=progress_to_stderr)
        emit(result, as_json, _human)
