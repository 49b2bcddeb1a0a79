"""`card ID`: print LINEAGE.md, and write it (with the HF card and Modelfiles) beside the model's artifacts."""
from __future__ import annotations

import sys

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def register(app: typer.Typer) -> None:
    @app.command("card")
    def card_cmd(ctx: typer.Context,
                 model_id: str = typer.Argument(...),
                 write: bool = typer.Option(True, "--write/--no-write",
                                            help="Also write the cards beside the artifacts (default) or only print."),
                 as_json: bool = JSON_OPTION) -> None:
        """Print the model's LINEAGE.md (every value from the lineage store)."""
        from app.cards import lineage_card, write_cards

        ws = workspace(ctx)
        if write:
            result = write_cards(ws, model_id)
            for f in result["files"]:
                print(f"wrote {f['kind']} {f['path']}", file=sys.stderr)
        else:
            result = {"id": model_id, "markdown": lineage_card(ws, model_id), "files": []}
        emit(result, as_json, lambda r: r["markdown"])
