"""What every pane shares: loading from the store in a thread worker, and running actions without blocking."""
from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from app.errors import one_line
from app.ui.messages import LineageChanged, WorkFailed


class Pane(Vertical):
    """A pane renders `load(store)`'s result in `show(data)`; `load` runs in a thread with its own connection."""

    title = "pane"

    def reload(self) -> None:
        if not self.app.ready:  # the app reloads every built pane once the workspace exists
            return
        self.run_worker(self._load_in_thread, thread=True, exclusive=True, group=f"load-{self.id}",
                        exit_on_error=False)

    def _load_in_thread(self) -> None:
        try:
            store = self.app.workspace.store()
            try:
                data = self.load(store)
            finally:
                store.close()
        except Exception as exc:  # a bad row or file must not take the studio down
            self.post_message(WorkFailed(f"{self.title}: loading", one_line(exc)))
            return
        self._on_ui(self.show, data)

    def _on_ui(self, fn: Callable, *args: Any) -> None:
        try:
            self.app.call_from_thread(fn, *args)
        except RuntimeError:  # the app is closing
            pass

    def load(self, store) -> Any:  # pragma: no cover - every pane defines it
        raise NotImplementedError

    def show(self, data: Any) -> None:  # pragma: no cover - every pane defines it
        raise NotImplementedError

    def commands(self) -> list[tuple[str, str, Callable[[], None]]]:
        """(title, help, callback) for the command palette."""
        return []

    def act(self, action: str, fn: Callable[[], Any], done: Callable[[Any], None] | None = None,
            changes_lineage: bool = True, group: str | None = None,
            failed: Callable[[str], None] | None = None) -> None:
        """Run `fn` in a thread worker; a failure becomes a toast with its one-line reason (and `failed(reason)`),
        success calls `done(result)`; both on the UI thread."""
        run_job(self, action, fn, done, changes_lineage, group or f"act-{self.id}", failed)


def run_job(widget, action: str, fn: Callable[[], Any], done: Callable[[Any], None] | None = None,
            changes_lineage: bool = True, group: str = "act", failed: Callable[[str], None] | None = None) -> None:
    """`fn` in a thread worker of `widget`; its result to `done`, its failure to a toast and `failed(reason)`, both
    on the UI thread; LineageChanged afterwards when it wrote to the store."""

    def on_ui(callback: Callable, *args: Any) -> None:
        try:
            widget.app.call_from_thread(callback, *args)
        except RuntimeError:  # the app is closing
            pass

    def work() -> None:
        try:
            result = fn()
        except Exception as exc:
            reason = one_line(exc)
            widget.post_message(WorkFailed(action, reason))
            if failed is not None:
                on_ui(failed, reason)
            return
        if done is not None:
            on_ui(done, result)
        if changes_lineage:
            widget.post_message(LineageChanged(action))

    widget.run_worker(work, thread=True, group=group, exit_on_error=False, name=action)


def fill_table(table: DataTable, rows: list[tuple], keys: list[str] | None = None) -> None:
    """Replace a table's rows, keeping the cursor where it was when the row count allows. Text cells are plain text:
    an evidence line's "[overall]" or a path's "[id]" is not Rich markup."""
    row = table.cursor_row
    table.clear()
    for n, cells in enumerate(rows):
        table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), key=keys[n] if keys else None)
    if rows and 0 <= row < len(rows):
        table.move_cursor(row=row, animate=False)


SEEDING = ("seeding the demo workspace: forking the embedded SmolLM2 and adding the sample repos (about 30 s the "
           "first time); this pane fills in when it is done…")


class EmptyState(Static):
    """What a pane says when it has nothing to show; while the demo is being seeded it says that instead."""

    def __init__(self, text: str, id: str) -> None:
        super().__init__(text, id=id, classes="empty")
        self.idle_text = text

    def show_if(self, empty: bool) -> None:
        self.display = empty
        if empty:
            self.update(SEEDING if getattr(self.app, "seeding", False) else self.idle_text)


def empty_state(text: str, id: str) -> EmptyState:
    return EmptyState(text, id=id)


def progress_text(event: dict) -> str:
    """One line for an engine's progress event: its message, else its counters (`tensor 12/30 model.layers.0…`)."""
    if event.get("message"):
        return str(event["message"])
    if event.get("index") is not None and event.get("count"):
        return f"{event.get('event', '')} {event['index']}/{event['count']} {event.get('name', '')}".strip()
    skip = {"event", "run", "pipeline", "sha256"}
    return " ".join([str(event.get("event", ""))] + [f"{k}={v}" for k, v in event.items()
                                                       if k not in skip and not isinstance(v, (dict, list))])


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
