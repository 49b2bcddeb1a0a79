"""`tui` (and the bare `blackroad-studio`): open the studio; a new workspace is seeded as the demo workspace."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def open_studio(root: Optional[Path]) -> None:
    """Open the studio on `root` (default: the platform's data dir). A new workspace is created after the first
    frame, by the app; only a path that cannot be a folder is refused here, with the one-line reason."""
    from app.errors import StudioError
    from app.workspace import Workspace, default_root

    ws = Workspace(Path(root).expanduser().resolve() if root else default_root().resolve())
    if ws.root.exists() and not ws.root.is_dir():
        raise StudioError(f"cannot open a workspace at {ws.root}: it is a file, not a folder")
    from app.ui.studio import StudioApp

    StudioApp(ws).run()


def register(app: typer.Typer) -> None:
    @app.command("tui")
    def tui_cmd(ctx: typer.Context) -> None:
        """Open the studio (the default command)."""
        open_studio((ctx.find_root().obj or {}).get("workspace"))
