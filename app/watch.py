"""Watching registered repos with watchdog: every created, changed, moved or deleted file is marked in the
store (repo_changes), so `repos list` shows it and the next `curate` re-hashes it. The TUI starts and stops one
RepoWatcher; `repos watch` runs one in the foreground."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from app.workspace import Workspace


class RepoWatcher:
    """Start with start(), stop with stop() (idempotent). on_change(repo, relpath) is called on the observer thread."""

    def __init__(self, ws: Workspace, on_change: Callable[[str, str], None] | None = None):
        self.ws = ws
        self.on_change = on_change
        self._observer = None
        self._store = None
        self._lock = threading.Lock()
        self.watched: dict[str, Path] = {}

    @property
    def running(self) -> bool:
        return self._observer is not None

    def start(self) -> list[str]:
        """Watch every registered repo whose folder exists; returns their names."""
        from watchdog.observers import Observer

        if self._observer is not None:
            return sorted(self.watched)
        self._store = self.ws.store()
        observer = Observer()
        for row in self._store.query("SELECT name, path FROM repos ORDER BY name"):
            root = Path(row["path"])
            if root.is_dir():
                observer.schedule(_Handler(self, row["name"], root), str(root), recursive=True)
                self.watched[row["name"]] = root
        observer.daemon = True
        observer.start()
        self._observer = observer
        return sorted(self.watched)

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def mark(self, repo: str, relpath: str) -> None:
        with self._lock:
            if self._store is None:
                return
            with self._store.conn:
                self._store.conn.execute(
                    "INSERT OR REPLACE INTO repo_changes (repo, relpath, seen) VALUES (?, ?, ?)", [repo, relpath, self._store.now()])
        if self.on_change is not None:
            self.on_change(repo, relpath)

    def __enter__(self) -> "RepoWatcher":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler_base():
    from watchdog.events import FileSystemEventHandler

    return FileSystemEventHandler


class _Handler(_handler_base()):
    def __init__(self, watcher: RepoWatcher, repo: str, root: Path):
        super().__init__()
        self.watcher, self.repo, self.root = watcher, repo, root

    def on_any_event(self, event) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            raw = raw.decode() if isinstance(raw, bytes) else raw
            try:
                rel = Path(raw).relative_to(self.root).as_posix()
            except ValueError:
                continue
            if rel == ".git" or rel.startswith(".git/") or "/__pycache__/" in f"/{rel}":
                continue
            self.watcher.mark(self.repo, rel)
