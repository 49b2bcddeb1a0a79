"""`checklist ID --to STAGE`, `approve ID ITEM --by NAME [--note ...]`, `promote ID --to STAGE --name NAME`."""
from __future__ import annotations

from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _render_checklist(r: dict) -> str:
    lines = [f"checklist {r['id']} -> {r['to']}: {'READY' if r['ready'] else 'NOT READY'}"]
    for item in r["items"]:
        lines.append(f"  [{'x' if item['passed'] else ' '}] {item['name']}: {item['evidence']}")
    lines.append(("promote with: " if r["ready"] else "when every item passes: ") + r["command"])
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("checklist")
    def checklist_cmd(ctx: typer.Context,
                      model_id: str = typer.Argument(..., help="The model to review."),
                      to: str = typer.Option(..., "--to", help="Target stage: internal or production."),
                      as_json: bool = JSON_OPTION) -> None:
        """The promotion checklist with evidence for every item."""
        from app.promotion import checklist

        emit(checklist(workspace(ctx), model_id, to), as_json, _render_checklist)

    @app.command("approve")
    def approve_cmd(ctx: typer.Context,
                    model_id: str = typer.Argument(...),
                    item: str = typer.Argument(..., help="A sign-off item of a checklist (legal-approval, sla)."),
                    by: str = typer.Option(..., "--by", help="Who signs off."),
                    note: Optional[str] = typer.Option(None, "--note", help="What was agreed, or where it lives."),
                    as_json: bool = JSON_OPTION) -> None:
        """Record a manual sign-off for a checklist item."""
        from app.promotion import approve

        emit(approve(workspace(ctx), model_id, item, by, note), as_json,
             lambda r: f"{r['item']} of {r['model_id']} signed by {r['by']} at {r['created']}")

    @app.command("promote")
    def promote_cmd(ctx: typer.Context,
                    model_id: str = typer.Argument(...),
                    to: str = typer.Option(..., "--to", help="internal or production"),
                    name: str = typer.Option(..., "--name", help="The promoted model's name (internal/NAME/vN)."),
                    as_json: bool = JSON_OPTION) -> None:
        """Promote a model when its checklist is ready; refuses with the failing items otherwise."""
        from app.promotion import promote

        emit(promote(workspace(ctx), model_id, to, name), as_json,
             lambda r: f"promoted {r['parent_id']} to {r['id']}")
