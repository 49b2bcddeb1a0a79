"""`secrets list`, `secrets mark FP... [--by N] [--note T]`, `secrets unmark FP...`, `secrets marks`: review the
secret findings of a snapshot and mark false positives (by fingerprint; values are never stored or shown)."""
from __future__ import annotations

from typing import List, Optional

import typer

from app.commands.common import JSON_OPTION, emit, workspace


def _findings_table(result: dict) -> str:
    rows = result["findings"]
    if result["snapshot"] is None:
        return "no snapshot yet (blackroad-studio curate)"
    if not rows:
        return f"{result['snapshot']}: no secret findings to show"
    out = [f"{result['snapshot']}: {len(rows)} finding(s); mark a false positive with "
           "`blackroad-studio secrets mark FINGERPRINT`",
           f"{'fingerprint':<12} {'kind':<28} {'where':<48} {'value (masked)':<28} marked"]
    for r in rows:
        where = f"{r['repo']}/{r['path']}:{r['line']}"
        out.append(f"{(r['fingerprint'] or '')[:12]:<12} {r['kind']:<28} {where:<48} {r['masked'] or '':<28} "
                   f"{'yes' if r['marked'] else ''}")
    return "\n".join(out)


def _marks_table(result: dict) -> str:
    rows = result["marks"]
    if not rows:
        return "no findings marked as false positives"
    return "\n".join(f"{r['fingerprint'][:12]:<12} {r['kind']:<28} {r['repo']}/{r['path']}:{r['line']}  "
                     f"by {r['by']} {r['created']}{'  ' + r['note'] if r['note'] else ''}" for r in rows)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Review secret findings and mark false positives.", no_args_is_help=True)
    app.add_typer(group, name="secrets")

    @group.command("list")
    def list_cmd(ctx: typer.Context,
                 snapshot: Optional[str] = typer.Option(None, "--snapshot",
                                                        help="A snapshot id (default: the latest)."),
                 marked: Optional[bool] = typer.Option(None, "--marked/--unmarked",
                                                       help="Only the marked, or only the unmarked, findings."),
                 as_json: bool = JSON_OPTION) -> None:
        """A snapshot's secret findings: kind, file, line, the masked value, its fingerprint, whether it is marked."""
        from app.secret_marks import findings

        emit(findings(workspace(ctx), snapshot, marked), as_json, _findings_table)

    @group.command("mark")
    def mark_cmd(ctx: typer.Context,
                 fingerprints: List[str] = typer.Argument(...,
                                                          help="Fingerprints (or unique prefixes) from `secrets list`."),
                 by: Optional[str] = typer.Option(None, "--by", help="Who reviewed it (default: the OS user)."),
                 note: Optional[str] = typer.Option(None, "--note", help="Why it is not a secret."),
                 as_json: bool = JSON_OPTION) -> None:
        """Mark findings as false positives: later curations keep the code they flagged."""
        from app.secret_marks import mark

        emit(mark(workspace(ctx), fingerprints, by, note), as_json,
             lambda r: "\n".join([f"marked {m['fingerprint'][:12]} ({m['kind']}, {m['repo']}/{m['path']}:{m['line']})"
                                  for m in r["marked"]] + [r["next"]]))

    @group.command("unmark")
    def unmark_cmd(ctx: typer.Context, fingerprints: List[str] = typer.Argument(...),
                   by: Optional[str] = typer.Option(None, "--by", help="Who removed the mark (default: the OS user)."),
                   as_json: bool = JSON_OPTION) -> None:
        """Remove false-positive marks: later curations treat those values as secrets again."""
        from app.secret_marks import unmark

        emit(unmark(workspace(ctx), fingerprints, by), as_json,
             lambda r: "\n".join(f"unmarked {fp[:12]}" for fp in r["unmarked"]))

    @group.command("marks")
    def marks_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
        """Every false-positive mark: fingerprint, kind, where it was marked, by whom and when."""
        from app.secret_marks import list_marks

        emit(list_marks(workspace(ctx)), as_json, _marks_table)
