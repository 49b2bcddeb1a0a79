"""`init [--demo]`: create a workspace; --demo registers the embedded base model and the sample repos."""
from __future__ import annotations

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(ctx: typer.Context,
             demo: bool = typer.Option(False, "--demo", help="Seed the demo workspace: embedded SmolLM2 fork and sample repos."),
             as_json: bool = JSON_OPTION) -> None:
        """Create a workspace (studio.db and its folders)."""
        ws = workspace(ctx)
        result = {"workspace": str(ws.root), "db": str(ws.db_path)}
        if demo:
            from app.demo_seed import seed_demo

            result.update(seed_demo(ws))
        emit(result, as_json, lambda r: f"workspace ready at {r['workspace']}")
