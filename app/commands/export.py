"""`export SOURCE [--type f16,q8_0,q4_k_m] [--out DIR] [--adapter] [--verify logits|tensors|none]`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, progress_to_stderr, workspace


def _human(result: dict) -> str:
    lines = [f"exported {result['model'] or result['out']} (verify: {result['verify']})"]
    for a in result["artifacts"]:
        lines.append(f"  {a['type']:7} {a['size_bytes']:>14,} bytes  {a['path']}  sha256 {a['sha256'][:16]}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(ctx: typer.Context,
                   source: str = typer.Argument(..., help="A model id of this workspace or a HF model directory "
                                                          "(with --adapter: a model id or a PEFT adapter directory)."),
                   types: str = typer.Option("f16", "--type", "-t",
                                             help="Comma-separated: f32, f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k "
                                                  "(adapters: f32, f16)."),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: the "
                                                                                "workspace's artifacts/)."),
                   adapter: bool = typer.Option(False, "--adapter", help="Export the model's LoRA adapter as a "
                                                                        "GGUF adapter for llama.cpp."),
                   verify: str = typer.Option("logits", "--verify", help="Parity check after each file: logits, "
                                                                         "tensors or none."),
                   as_json: bool = JSON_OPTION) -> None:
        """Write GGUF files (our own writer; K-quants through llama.cpp), each checked against its source."""
        from app.exporting import export

        ws = workspace(ctx)
        result = export(ws, source, types=types, out=out, adapter=adapter, verify=verify,
                        progress=progress_to_stderr)
        emit(result, as_json, _human)
