"""`demo [--max-steps N]`: the whole loop on the embedded SmolLM2 and the sample repos, CPU-sized."""
from __future__ import annotations

import typer

from app.commands.common import JSON_OPTION, emit, progress_to_stderr, workspace
from app.demo import DEFAULT_MAX_STEPS


def render(result: dict) -> str:
    from app.commands.pipeline import render as render_pipeline

    t = result["timings"]
    lines = [result["note"], "",
             f"workspace  {result['workspace']}",
             f"base       {result['base']}",
             f"repos      {', '.join(result['repos'])}",
             f"snapshot   {result['snapshot']} ({result['curation'].get('snippets')} snippets, "
             f"{result['curation'].get('secrets_found')} secrets found and kept out)  {result['snapshot_path'] or ''}",
             f"seed {t.get('seed', 0):.1f} s, curate {t.get('curate', 0):.1f} s", "",
             render_pipeline(result["pipeline"]), "",
             f"LINEAGE.md {result['lineage_card'] or '(not written)'}",
             f"total      {t['total']:.0f} s", "", "next:"]
    lines += [f"  {cmd}" for cmd in result["next"]]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(ctx: typer.Context,
                 max_steps: int = typer.Option(DEFAULT_MAX_STEPS, "--max-steps", help="LoRA steps of the CPU-sized training."),
                 as_json: bool = JSON_OPTION) -> None:
        """Seed the demo workspace, curate the sample repos and run the pipeline (resumes when run again)."""
        from app.demo import run_demo

        result = run_demo(workspace(ctx), max_steps=max_steps, progress=progress_to_stderr)
        emit(result, as_json, render)
