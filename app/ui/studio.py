"""The studio app shell. The panes grow with the engines they show."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from app.workspace import Workspace


class StudioApp(App):
    TITLE = "blackroad-studio"
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def __init__(self, workspace: Workspace):
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="models")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace.root)
        table = self.query_one("#models", DataTable)
        table.add_columns("model", "stage", "architecture", "parameters", "license")
        store = self.workspace.store()
        try:
            for m in store.models():
                table.add_row(m["id"], m["stage"], m["architecture"] or "", f"{m['parameters'] or 0:,}", m["license"] or "")
        finally:
            store.close()
