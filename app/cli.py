"""The `blackroad-studio` command line: global options, the command modules, and the error contract.

Contract (docs/CONVENTIONS.md): `--json` prints exactly one JSON object on stdout; diagnostics go to stderr; exit 0 on
success, 1 on a user error with a one-line reason, 2 on a usage error. Command modules stay light at import time
so `--help` never loads torch, transformers or llama_cpp.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from typer._click import exceptions as click_exc  # typer 0.29 vendors click

from app.errors import StudioError

from app.commands import (card, complete, curate, demo, export, fork, init, keys, lineage, pipeline, promote, repos,
                          route, secrets, serve, train, tui)
from app.commands import eval as eval_command

# Each module in app/commands/ defines register(app). Add a module here to add its commands.
COMMAND_MODULES = (init, fork, lineage, repos, curate, secrets, promote, card, eval_command, complete, train, export,
                   pipeline, demo, serve, keys, route, tui)

app = typer.Typer(
    name="blackroad-studio",
    help="A terminal studio that turns your repositories into your own code model, and keeps the record of how.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback(invoke_without_command=True)
def _global(
    ctx: typer.Context,
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", "-w", envvar="BLACKROAD_STUDIO_HOME",
        help="Workspace folder (default: the platform's user data dir; env BLACKROAD_STUDIO_HOME)."),
) -> None:
    ctx.obj = {"workspace": workspace}
    if ctx.invoked_subcommand is None:
        from app.commands.tui import open_studio

        open_studio(workspace)


for _module in COMMAND_MODULES:
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="blackroad-studio", standalone_mode=False)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except click_exc.ClickException as exc:  # usage errors: exit 2, click's own wording
        exc.show()
        return exc.exit_code
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return rv if isinstance(rv, int) else 0  # typer returns the code of an explicit Exit (--help: 0)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
