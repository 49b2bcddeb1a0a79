"""`tui` (and the bare `blackroad-studio`): open the studio; a new workspace is seeded as the demo workspace."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def open_studio(root: Optional[Path]) -> None:
    from app.workspace import Workspace

    ws = Workspace.open(root)
    from app.ui.studio import StudioApp

    StudioApp(ws).run()


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui_cmd(ctx: typer.Context) -> None:
        """Open the studio (the default command)."""
        open_studio((ctx.find_root().obj or {}).get("workspace"))
