"""`repos add PATH [--name N]`, `repos list`, `repos remove N`, `repos watch`: the repos curation reads."""
from __future__ import annotations

import sys
import time
from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _table(result: dict) -> str:
    rows = result.get("repos", [])
    if not rows:
        return "no repos registered (blackroad-studio repos add PATH)"
    out = []
    for r in rows:
        changed = r.get("changed_files")
        state = "missing" if r.get("exists") is False else (f"{changed} changed" if changed is not None else "")
        commit = (r.get("head_commit") or "")[:12]
        out.append(f"{r['name']:<24} {r['kind']:<6} {commit:<12} {state:<12} {r['path']}")
    return "\n".join(out)


def register(app: typer.Typer) -> None:
    repos = typer.Typer(help="Manage the repos that curation reads.", no_args_is_help=True)
    app.add_typer(repos, name="repos")

    @repos.command("add")
    def add_cmd(ctx: typer.Context, path: str = typer.Argument(..., help="A git repo or a plain folder."),
                name: Optional[str] = typer.Option(None, "--name", help="Name in the workspace (default: folder name)."),
                as_json: bool = JSON_OPTION) -> None:
        """Register a repo (records its HEAD commit for git repos)."""
        from app.repos import add_repo

        result = add_repo(workspace(ctx), path, name)
        emit(result, as_json, lambda r: f"added {r['repo']['name']} ({r['repo']['kind']}) at {r['repo']['path']}")

    @repos.command("list")
    def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
        """The registered repos, their HEAD commit and how many files changed since the last curation."""
        from app.repos import list_repos

        emit(list_repos(workspace(ctx)), as_json, _table)

    @repos.command("remove")
    def remove_cmd(ctx: typer.Context, name: str = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
        """Forget a repo (its folder and earlier snapshots are untouched)."""
        from app.repos import remove_repo

        result = remove_repo(workspace(ctx), name)
        emit(result, as_json, lambda r: f"removed {r['removed']}")

    @repos.command("watch")
    def watch_cmd(ctx: typer.Context,
                  seconds: Optional[float] = typer.Option(None, "--seconds", help="Stop after this long (default: Ctrl-C)."),
                  as_json: bool = JSON_OPTION) -> None:
        """Watch the repos and mark changed files until interrupted."""
        from app.watch import RepoWatcher

        seen: list[tuple[str, str]] = []

        def changed(repo: str, relpath: str) -> None:
            seen.append((repo, relpath))
            print(f"changed {repo}/{relpath}", file=sys.stderr, flush=True)

        watcher = RepoWatcher(workspace(ctx), on_change=changed)
        names = watcher.start()
        print(f"watching {', '.join(names) or 'no repos'}; Ctrl-C to stop", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds if seconds is not None else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            watcher.stop()
        emit({"repos": names, "changes": len(seen), "files": sorted({f"{r}/{p}" for r, p in seen})}, as_json,
             lambda r: f"{r['changes']} changes seen")
