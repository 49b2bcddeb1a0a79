"""`keys create NAME`, `keys list`, `keys revoke NAME`: API keys of the serve endpoint (only hashes are stored)."""
from __future__ import annotations

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _table(result: dict) -> str:
    rows = result["keys"]
    if not rows:
        return "no keys (blackroad-studio keys create NAME)"
    return "\n".join(f"{r['name']:<24} {r['prefix']}…  created {r['created']}  "
                     + (f"revoked {r['revoked']}" if r["revoked"] else f"last used {r['last_used'] or 'never'}")
                     for r in rows)


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="API keys of `serve` (the key is shown once; the store keeps its hash).",
                       no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="Who or what the key is for."),
                   as_json: bool = JSON_OPTION) -> None:
        """Create a key and print it (once: only its hash is kept)."""
        from app.keys import create_key

        emit(create_key(workspace(ctx), name), as_json,
             lambda r: f"{r['key']}\n(key {r['name']}: shown once, only its hash is stored)")

    @keys.command("list")
    def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
        """List keys: name, first characters, created, revoked or last used."""
        from app.keys import list_keys

        emit(list_keys(workspace(ctx)), as_json, _table)

    @keys.command("revoke")
    def revoke_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="The key's name."),
                   as_json: bool = JSON_OPTION) -> None:
        """Revoke a key; a running server refuses it from its next request on."""
        from app.keys import revoke_key

        emit(revoke_key(workspace(ctx), name), as_json, lambda r: f"revoked {r['name']}")
