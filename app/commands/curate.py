"""`curate [--repo N]... [--path DIR]... [--out DIR] [--base ID] [--exclude PATTERN]...`: build a dataset snapshot."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


class _StderrProgress:
    """A tqdm bar on stderr for the processing stage; other events as one line each."""

    def __init__(self):
        self.bar = None

    def __call__(self, event: dict) -> None:
        if event.get("stage") == "process" and event.get("total"):
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=event["total"], unit="file", desc="curating", file=sys.stderr,
                                disable=event["total"] < 20)
            self.bar.n = event["done"]
            self.bar.refresh()
            return
        if event.get("message"):
            self.close()
            print(event["message"], file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _human(r: dict) -> str:
    dropped = ", ".join(f"{k} {v}" for k, v in r["dropped"].items()) or "none"
    langs = ", ".join(f"{k} {v['snippets']}" for k, v in r["languages"].items()) or "none"
    return (f"snapshot {r['snapshot']} at {r['output']}\n"
            f"files: {r['files_scanned']} scanned, {r['files_kept']} kept (dropped: {dropped})\n"
            f"snippets: {r['snippets']} ({langs}); samples: {r['samples']['train']} train, "
            f"{r['samples']['heldout']} held out"
            + (f" (categories of fewer than 20 samples, indicative only: {', '.join(r['heldout_indicative'])})"
               if r.get("heldout_indicative") else "") + "\n"
            f"secrets found: {r['secrets_found']}; duplicates removed: {r['duplicates_removed']}"
            + (f"\n{r['feedback']['summary']}" if r.get("feedback") else ""))


def register(app: typer.Typer) -> None:
    @app.command("curate")
    def curate_cmd(ctx: typer.Context,
                   repo: List[str] = typer.Option([], "--repo", help="A registered repo (repeatable; default: all)."),
                   path: List[str] = typer.Option([], "--path", help="A folder to curate without registering it."),
                   out: Optional[Path] = typer.Option(None, "--out", help="Write the snapshot here instead."),
                   base: Optional[str] = typer.Option(None, "--base", help="The base model whose tokenizer counts."),
                   heldout: float = typer.Option(0.10, "--heldout", min=0.0, max=0.9,
                                                 help="Held-out share of files (0: none held out)."),
                   heldout_min: int = typer.Option(200, "--heldout-min-samples", min=0,
                                                   help="Grow the held-out split to this many samples (capped at a "
                                                        "quarter of all samples)."),
                   fim_rate: float = typer.Option(0.5, "--fim-rate", min=0.0, max=1.0, help="Units that also give a FIM sample."),
                   exclude: List[str] = typer.Option([], "--exclude", help="Leave out files (gitignore syntax, repo-relative; repeatable)."),
                   feedback: Optional[str] = typer.Option(None, "--feedback", metavar="MODEL",
                                                          help="Add the accepted completions `serve --capture` kept "
                                                               "for MODEL to the train split."),
                   as_json: bool = JSON_OPTION) -> None:
        """Curate repos into a hashed dataset snapshot (secrets out, duplicates out, held-out split)."""
        from app.curation import curate

        progress = _StderrProgress()
        try:
            result = curate(workspace(ctx), repos=repo, paths=path, out=out, base_id=base, progress=progress,
                            heldout_rate=heldout, fim_rate=fim_rate, exclude=exclude,
                            heldout_min_samples=heldout_min, feedback_model=feedback)
        finally:
            progress.close()
        emit(result, as_json, _human)
