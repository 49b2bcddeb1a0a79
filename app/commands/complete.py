"""`complete ID [--file F --line L --column C | --prefix TEXT]`: one fill-in-the-middle completion."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace
from app.errors import StudioError


def split_at(text: str, line: int | None, column: int | None) -> tuple[str, str]:
    """(prefix, suffix) at 1-based line and column (column 1 = start of the line); the end when line is None."""
    if line is None:
        return text, ""
    lines = text.splitlines(keepends=True) or [""]
    if not 1 <= line <= len(lines):
        raise StudioError(f"line {line} is outside the file (1..{len(lines)})")
    body = lines[line - 1].rstrip("\r\n")
    column = len(body) + 1 if column is None else column
    if not 1 <= column <= len(body) + 1:
        raise StudioError(f"column {column} is outside line {line} (1..{len(body) + 1})")
    offset = sum(len(part) for part in lines[:line - 1]) + column - 1
    return text[:offset], text[offset:]


def register(app: typer.Typer) -> None:
    @app.command("complete")
    def complete_cmd(ctx: typer.Context,
                     model_id: str = typer.Argument(..., help="The model to complete with."),
                     file: Optional[Path] = typer.Option(None, "--file", help="The file to complete in."),
                     line: Optional[int] = typer.Option(None, "--line", help="Cursor line (1-based); default: end."),
                     column: Optional[int] = typer.Option(None, "--column", help="Cursor column (1-based); default: end of line."),
                     prefix: Optional[str] = typer.Option(None, "--prefix", help="Text before the cursor (else stdin)."),
                     suffix: str = typer.Option("", "--suffix", help="Text after the cursor (with --prefix)."),
                     max_tokens: int = typer.Option(32, "--max-tokens", help="At most this many tokens."),
                     as_json: bool = JSON_OPTION) -> None:
        """Complete the code at the cursor with a model (its GGUF through llama.cpp, else its HF weights)."""
        if file is not None:
            if prefix is not None:
                raise StudioError("give either --file or --prefix, not both")
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise StudioError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
            before, after = split_at(text, line, column)
        else:
            if line is not None or column is not None:
                raise StudioError("--line and --column need --file")
            before, after = (prefix if prefix is not None else sys.stdin.read()), suffix
        from app.evaluating import complete

        result = complete(workspace(ctx), model_id, before, after, max_tokens=max_tokens)
        emit(result, as_json, lambda r: r["text"])
