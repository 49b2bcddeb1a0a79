"""`fork SOURCE --id forkies/NAME@vX.Y.Z`: register a base model."""
from __future__ import annotations

from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def register(app: typer.Typer) -> None:
    @app.command("fork")
    def fork_cmd(ctx: typer.Context,
                 source: str = typer.Argument(..., help="A HF model dir, a hub id, a .gguf file, or embedded:smollm2-135m."),
                 model_id: str = typer.Option(..., "--id", help="forkies/NAME@vX.Y.Z"),
                 license: Optional[str] = typer.Option(None, "--license", help="Override the detected license."),
                 as_json: bool = JSON_OPTION) -> None:
        """Register a base model (Qwen2 and Llama families)."""
        from app.forks import fork

        ws = workspace(ctx)
        row = fork(ws, source, model_id, license=license)
        result = {"id": row["id"], "architecture": row["architecture"], "parameters": row["parameters"],
                  "license": row["license"], "context_length": row["context_length"],
                  "vocab_size": row["vocab_size"], "source": row["source"], "source_sha256": row["source_sha256"],
                  "path": row["path"], "gguf_path": row["gguf_path"]}
        emit(result, as_json, lambda r: (f"forked {r['id']}: {r['architecture']}, {r['parameters']:,} parameters, "
                                         f"context {r['context_length']}, license {r['license']}"))
