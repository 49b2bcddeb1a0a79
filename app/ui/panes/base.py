"""What every pane shares: loading from the store in a thread worker, and running actions without blocking."""
from __future__ import annotations

from typing import Any, Callable

from textual.containers import Vertical
from textual.widgets import DataTable, Static

from app.ui.entry import one_line
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

        def work() -> None:
            try:
                result = fn()
            except Exception as exc:
                reason = one_line(exc)
                self.post_message(WorkFailed(action, reason))
                if failed is not None:
                    self._on_ui(failed, reason)
                return
            if done is not None:
                self._on_ui(done, result)
            if changes_lineage:
                self.post_message(LineageChanged(action))

        self.run_worker(work, thread=True, group=group or f"act-{self.id}", exit_on_error=False,
                        name=action)


def fill_table(table: DataTable, rows: list[tuple], keys: list[str] | None = None) -> None:
    """Replace a table's rows, keeping the cursor where it was when the row count allows."""
    row = table.cursor_row
    table.clear()
    for n, cells in enumerate(rows):
        table.add_row(*cells, key=keys[n] if keys else None)
    if rows and 0 <= row < len(rows):
        table.move_cursor(row=row, animate=False)


def empty_state(text: str, id: str) -> Static:
    return Static(text, id=id, classes="empty")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
