"""What every command shares: the workspace from the global option, and the --json output contract."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

import typer

from app.workspace import Workspace

JSON_OPTION = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")


def workspace(ctx: typer.Context, create: bool = True) -> Workspace:
    root = (ctx.find_root().obj or {}).get("workspace")
    return Workspace.open(root, create=create)


def emit(result: dict, as_json: bool, human: Callable[[dict], str] | str | None = None) -> None:
    """Print a command's result: one JSON object with --json, else the human rendering."""
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    if callable(human):
        text = human(result)
    elif isinstance(human, str):
        text = human
    else:
        text = "\n".join(f"{k}: {v}" for k, v in result.items())
    if text:
        sys.stdout.write(text.rstrip("\n") + "\n")


def progress_to_stderr(event: dict[str, Any]) -> None:
    """The default progress callback of engines when run from the CLI: one line per event on stderr."""
    message = event.get("message") or " ".join(f"{k}={v}" for k, v in event.items())
    print(message, file=sys.stderr, flush=True)
