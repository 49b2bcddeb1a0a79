"""Repos: the watched repos, their language mix and files changed since the last snapshot; add, remove, curate."""
from __future__ import annotations


from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Static

from app import views
from app.ui.messages import CurationFinished
from app.ui.panes.base import Pane, empty_state, fill_table


class ReposPane(Pane):
    title = "Repos"

    def compose(self) -> ComposeResult:
        yield Static("Watched repos: what curation reads. Changes since the last snapshot are counted by the watcher.",
                     classes="intro")
        yield empty_state("no repos watched yet — add a local repo or folder below", id="repos-empty")
        table = DataTable(id="repos-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "kind", "languages", "changed", "path")
        yield table
        with Horizontal(classes="form"):
            yield Input(placeholder="path of a local repo or folder", id="repo-path")
            yield Input(placeholder="name (optional)", id="repo-name", classes="short")
            yield Button("Add", id="repo-add", variant="primary")
            yield Button("Remove selected", id="repo-remove", variant="error")
            yield Button("Curate all", id="repo-curate", variant="success")
        yield Static("", id="curate-status", classes="status")

    def load(self, store) -> list[dict]:
        ws = self.app.workspace
        from app.repos import changed_files
        return views.repos_overview(store, changed=lambda row: changed_files(ws, store, row))

    def show(self, repos: list[dict]) -> None:
        self.query_one("#repos-empty").show_if(not repos)
        table = self.query_one("#repos-table", DataTable)
        table.display = bool(repos)
        fill_table(table, [(r["name"], r["kind"], views.format_mix(r["languages"]),
                            str(r["changed"]), r["path"] + ("  (missing)" if r["missing"] else ""))
                           for r in repos], [r["name"] for r in repos])

    def selected_repo(self) -> str | None:
        table = self.query_one("#repos-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # -- actions ------------------------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        handlers = {"repo-add": self.add_repo, "repo-remove": self.remove_repo, "repo-curate": self.curate}
        if event.button.id in handlers:
            event.stop()
            handlers[event.button.id]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("repo-path", "repo-name"):
            event.stop()
            self.add_repo()

    def add_repo(self) -> None:
        path = self.query_one("#repo-path", Input).value.strip()
        name = self.query_one("#repo-name", Input).value.strip() or None
        if not path:
            self.app.notify("give the path of a local repo or folder", severity="warning")
            return
        ws = self.app.workspace

        def done(result: dict) -> None:
            self.query_one("#repo-path", Input).value = ""
            self.query_one("#repo-name", Input).value = ""
            self.app.notify(f"watching {path}")

        from app.repos import add_repo
        self.act("add repo", lambda: add_repo(ws, path, name=name), done)

    def remove_repo(self) -> None:
        name = self.selected_repo()
        if name is None:
            self.app.notify("no repo selected", severity="warning")
            return
        ws = self.app.workspace
        from app.repos import remove_repo
        self.act("remove repo", lambda: remove_repo(ws, name),
                 lambda _: self.app.notify(f"stopped watching {name}"))

    def curate(self, repos: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> None:
        """Build a snapshot from the watched repos (all of them when `repos` is empty)."""
        ws = self.app.workspace
        status = self.query_one("#curate-status", Static)
        status.update("curating…")

        def progress(event: dict) -> None:
            text = event.get("message") or " ".join(f"{k}={v}" for k, v in event.items() if k != "event")
            self._on_ui(status.update, f"curating… {text}")

        def work() -> dict:
            from app.curation import curate

            return curate(ws, repos=tuple(repos), progress=progress, exclude=tuple(exclude))

        def done(result: dict) -> None:
            status.update(f"snapshot {result.get('snapshot')}: {result.get('files_kept')} of "
                          f"{result.get('files_scanned')} files kept, {result.get('snippets')} snippets, "
                          f"{result.get('secrets_found')} secrets found and left out")
            self.post_message(CurationFinished(result))

        self.act("curate", work, done, group="curate", failed=lambda reason: status.update(f"curation failed: {reason}"))

    def commands(self):
        return [("Curate all repos", "build a dataset snapshot from every watched repo", self.curate)]
