"""`route set CAPABILITY MODEL_OR_ALIAS`, `route list`, `route remove CAPABILITY`: the capability map."""
from __future__ import annotations

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _table(result: dict) -> str:
    rows = result["routes"]
    if not rows:
        return "no routes (blackroad-studio route set code-generation internal/NAME)"
    return "\n".join(f"{r['capability']:<24} → {r['target']:<32} ({r['resolves_to'] or 'nothing: no such model'})"
                     for r in rows)


def register(app: typer.Typer) -> None:
    route = typer.Typer(help="The capability map: which model answers a capability such as code-generation.",
                        no_args_is_help=True)
    app.add_typer(route, name="route")

    @route.command("set")
    def set_cmd(ctx: typer.Context, capability: str = typer.Argument(..., help="e.g. code-generation"),
                target: str = typer.Argument(..., help="A model id or alias (internal/NAME, production/NAME)."),
                as_json: bool = JSON_OPTION) -> None:
        """Route a capability to a model (a running server follows it from its next request on)."""
        from app.routes import set_route

        emit(set_route(workspace(ctx), capability, target), as_json,
             lambda r: f"{r['capability']} → {r['target']} ({r['resolves_to']})")

    @route.command("list")
    def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
        """List the capability map."""
        from app.routes import list_routes

        emit(list_routes(workspace(ctx)), as_json, _table)

    @route.command("remove")
    def remove_cmd(ctx: typer.Context, capability: str = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
        """Remove a capability's route."""
        from app.routes import remove_route

        emit(remove_route(workspace(ctx), capability), as_json, lambda r: f"removed {r['capability']}")
