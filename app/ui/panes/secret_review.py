"""The review of a snapshot's secret findings, for the Snippets pane: one row per finding (kind, file, line, the
masked value, whether it is marked) and buttons that mark the highlighted finding a false positive or remove the
mark (app.secret_marks: stored by fingerprint, never the value; the next curation applies it)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from app.ui.panes.base import fill_table, run_job


def finding_rows(findings: list[dict]) -> list[tuple[str, ...]]:
    return [(f["kind"], f"{f['repo']}/{f['path']}", str(f["line"]), f.get("masked") or "",
             "false positive" if f.get("marked") else "") for f in findings]


class SecretReview(Vertical):
    """Load with `show_snapshot(snapshot_id)`; marks run in a worker and reload the rows."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.findings: list[dict] = []
        self.snapshot_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("secret findings: mark false positives for the next curation (values never shown)",
                     classes="caption")
        table = DataTable(id="secret-review-table", cursor_type="row")
        table.add_columns("kind", "file", "line", "value (masked)", "marked")
        yield table
        with Horizontal(classes="form"):
            yield Button("Mark false positive", id="secret-mark")
            yield Button("Unmark", id="secret-unmark")
        yield Static("", id="secret-review-status", classes="status")

    def show_snapshot(self, snapshot_id: str | None) -> None:
        from app.secret_marks import findings

        self.snapshot_id = snapshot_id
        if snapshot_id is None:
            self._fill({"findings": []})
            return
        run_job(self, "secret findings", lambda: findings(self.app.workspace, snapshot_id), self._fill,
                changes_lineage=False, group="secret-review-load")

    def _fill(self, result: dict) -> None:
        self.findings = result["findings"]
        fill_table(self.query_one("#secret-review-table", DataTable), finding_rows(self.findings))
        marked = sum(bool(f.get("marked")) for f in self.findings)
        self.query_one("#secret-review-status", Static).update(
            f"{len(self.findings)} finding(s), {marked} marked false positive" if self.findings else
            "no secret findings in this snapshot")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id not in ("secret-mark", "secret-unmark"):
            return
        event.stop()
        row = self.query_one("#secret-review-table", DataTable).cursor_row
        if not 0 <= row < len(self.findings):
            return
        finding = self.findings[row]
        from app.secret_marks import mark, unmark

        if event.button.id == "secret-mark":
            work = lambda: mark(self.app.workspace, [finding["fingerprint"]])  # noqa: E731
            said = f"marked {finding['kind']} at {finding['path']}:{finding['line']} a false positive; re-curate"
        else:
            work = lambda: unmark(self.app.workspace, [finding["fingerprint"]])  # noqa: E731
            said = f"removed the mark on {finding['path']}:{finding['line']}; re-curate"

        def done(_result) -> None:
            self.app.notify(said, timeout=4)
            self.show_snapshot(self.snapshot_id)

        run_job(self, "mark secret finding", work, done, changes_lineage=True, group="secret-review-mark")
