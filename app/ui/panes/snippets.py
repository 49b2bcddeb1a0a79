"""Snippets: a snapshot's samples with highlighting, why files were dropped, secret findings (never their values),
and exclusions of files or folders for the next curation."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Select, Static, TextArea

from app import views
from app.ui.code import show_code
from app.ui.panes.base import Pane, empty_state, fill_table
from app.ui.panes.secret_review import SecretReview


class SnippetsPane(Pane):
    title = "Snippets"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.samples: list[dict] = []
        self.snapshot_id: str | None = None
        self.exclusions: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([], prompt="snapshot", id="snapshot-select", allow_blank=True)
            yield Static("", id="snapshot-summary", classes="summary")
        yield empty_state("no snapshot yet — curate from the Repos pane", id="snippets-empty")
        with Horizontal(id="snippets-body"):
            samples = DataTable(id="samples-table", cursor_type="row", zebra_stripes=True)
            samples.add_columns("split", "path", "language", "kind", "tokens")
            yield samples
            with Vertical(id="sample-box"):
                yield Static("", id="sample-detail", classes="status")
                yield TextArea("", id="sample-code", read_only=True, show_line_numbers=True)
        with Horizontal(id="snippets-report"):
            with Vertical():
                yield Static("dropped files, by reason", classes="caption")
                dropped = DataTable(id="dropped-table", cursor_type="row")
                dropped.add_columns("reason", "files")
                yield dropped
            with Vertical():
                yield Static("secret findings (left out; values never shown)", classes="caption")
                secrets = DataTable(id="secrets-table", cursor_type="row")
                secrets.add_columns("repo", "file", "kind", "count")
                yield secrets
        with Horizontal(classes="form"):
            yield Input(placeholder="file or folder to leave out (repo-relative, gitignore syntax)", id="exclude-path")
            yield Button("Exclude", id="exclude-add")
            yield Button("Include", id="exclude-remove")
            yield Button("Re-curate", id="recurate", variant="success")
        yield Static("", id="exclusions", classes="status")
        review = SecretReview(id="secret-review")
        review.display = False  # opened from the command palette: "Review secret findings"
        yield review

    # -- data ---------------------------------------------------------------------------------------------------
    def load(self, store) -> dict:
        snaps = views.snapshots(store)
        chosen = next((s for s in snaps if s["id"] == self.snapshot_id), snaps[0] if snaps else None)
        if chosen is None:
            return {"snapshots": [], "chosen": None}
        return {"snapshots": snaps, "chosen": chosen, "samples": views.read_samples(chosen),
                "report": views.snapshot_report(chosen)}

    def show(self, data: dict) -> None:
        snaps, chosen = data["snapshots"], data["chosen"]
        self.query_one("#snippets-empty").show_if(chosen is None)
        for widget in ("#snippets-body", "#snippets-report"):
            self.query_one(widget).display = chosen is not None
        select = self.query_one("#snapshot-select", Select)
        with select.prevent(Select.Changed):
            select.set_options([(s["id"], s["id"]) for s in snaps])
            if chosen is not None:
                select.value = chosen["id"]
        if chosen is None:
            self.query_one("#snapshot-summary", Static).update("")
            return
        self.snapshot_id = chosen["id"]
        if self.query_one(SecretReview).display:
            self.query_one(SecretReview).show_snapshot(self.snapshot_id)
        stats = data["report"]["stats"]
        self.query_one("#snapshot-summary", Static).update(
            f"{stats.get('snippets', len(data['samples']))} snippets · {stats.get('files_kept', '?')} of "
            f"{stats.get('files_scanned', '?')} files kept · {stats.get('secrets_found', 0)} secrets found · "
            f"{stats.get('duplicates_removed', 0)} duplicates removed")
        self.samples = data["samples"]
        fill_table(self.query_one("#samples-table", DataTable),
                   [(s["split"], s.get("path", "?"), s.get("language", "?"), s.get("kind", "?"),
                     str(s.get("tokens", "?"))) for s in self.samples])
        self.show_sample(0)
        report = data["report"]
        fill_table(self.query_one("#dropped-table", DataTable), [(r, str(n)) for r, n in report["dropped"].items()])
        fill_table(self.query_one("#secrets-table", DataTable),
                   [(f["repo"], f["path"], f["kind"], str(f["count"])) for f in report["secrets"]])
        if not self.exclusions and report["excluded"]:
            self.exclusions = [str(e) for e in report["excluded"]]
        self._show_exclusions()

    def show_sample(self, index: int) -> None:
        area = self.query_one("#sample-code", TextArea)
        detail = self.query_one("#sample-detail", Static)
        if not 0 <= index < len(self.samples):
            area.load_text("")
            detail.update("")
            return
        sample = self.samples[index]
        detail.update(f"{sample.get('repo', '?')}/{sample.get('path', '?')} · {sample.get('split')} · "
                      f"{sample.get('language', '?')} · {sample.get('kind', '?')} · {sample.get('tokens', '?')} tokens")
        text = sample.get("prompt", "") + sample.get("completion", "")
        if sample.get("kind") == "fim":
            text = f"{sample.get('prompt', '')}\n⟶ middle:\n{sample.get('completion', '')}"
        show_code(area, text, sample.get("language"))

    # -- events -------------------------------------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "snapshot-select" and isinstance(event.value, str):
            event.stop()
            self.snapshot_id = event.value
            self.reload()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "samples-table":
            event.stop()
            self.show_sample(event.cursor_row)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        pattern = self.query_one("#exclude-path", Input).value.strip()
        if event.button.id == "exclude-add" and pattern:
            if pattern not in self.exclusions:
                self.exclusions.append(pattern)
        elif event.button.id == "exclude-remove" and pattern:
            if pattern in self.exclusions:
                self.exclusions.remove(pattern)
            else:
                self.exclusions.append(f"!{pattern}")  # gitignore negation: bring it back in
        elif event.button.id == "recurate":
            event.stop()
            self.recurate()
            return
        else:
            return
        event.stop()
        self.query_one("#exclude-path", Input).value = ""
        self._show_exclusions()

    def _show_exclusions(self) -> None:
        text = ", ".join(self.exclusions) if self.exclusions else "nothing excluded beyond the repos' own ignore files"
        self.query_one("#exclusions", Static).update(f"excluded next time: {text}")

    def recurate(self) -> None:
        self.app.query_one("#repos-pane").curate(exclude=tuple(self.exclusions))
        self.app.notify("re-curating with the exclusions; progress shows on the Repos pane", timeout=4)

    def review_secrets(self) -> None:
        review = self.query_one(SecretReview)
        review.display = not review.display
        if review.display:
            review.show_snapshot(self.snapshot_id)
            review.query_one("#secret-review-table").focus()

    def commands(self):
        return [("Re-curate", "build a new snapshot with this pane's exclusions", self.recurate),
                ("Review secret findings", "list this snapshot's findings (kind, file, line, masked value) and mark "
                                           "false positives for the next curation", self.review_secrets)]
