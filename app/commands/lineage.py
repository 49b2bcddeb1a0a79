"""`lineage [ID]`: the derivation chain, runs, artifacts and evals."""
from __future__ import annotations

from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def register(app: typer.Typer) -> None:
    @app.command("lineage")
    def lineage_cmd(ctx: typer.Context,
                    model_id: Optional[str] = typer.Argument(None, help="A model id; all models when left out."),
                    as_json: bool = JSON_OPTION) -> None:
        """Show the derivation tree (and, for one model, its runs, artifacts, evals and events)."""
        from app.lineage import graph, render_tree

        with workspace(ctx).store() as store:
            result = graph(store, model_id)
            now = store.clock()
        emit(result, as_json, lambda r: render_tree(r, now))
