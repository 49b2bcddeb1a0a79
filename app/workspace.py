"""A workspace: one folder holding the lineage store (studio.db) and the files it points at."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from app.errors import StudioError

SUBDIRS = ("models", "datasets", "runs", "artifacts", "cache")
ENV_HOME = "BLACKROAD_STUDIO_HOME"


def default_root() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("blackroad-studio", appauthor=False))


def _system_clock():
    from app.store import system_clock

    return system_clock()


@dataclass
class Workspace:
    """`clock` is handed to every store opened here: the one source of time (tests pin it)."""

    root: Path
    clock: Callable = field(default=_system_clock, compare=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.root / "studio.db"

    def dir(self, name: str) -> Path:
        """One of the workspace's folders (models, datasets, runs, artifacts, cache)."""
        return self.root / name

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    @classmethod
    def open(cls, root: Path | str | None = None, create: bool = True, clock: Callable | None = None) -> "Workspace":
        """Resolve the workspace folder; create its folders and store when missing and `create` is set."""
        ws = cls(Path(root).expanduser().resolve() if root else default_root().resolve())
        if clock is not None:
            ws.clock = clock
        if not ws.exists:
            if not create:
                raise StudioError(f"no workspace at {ws.root} (run `blackroad-studio init`)")
            ws._create()
        return ws

    def _create(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StudioError(f"cannot create a workspace at {self.root}: it is a file, not a folder")
        try:
            for sub in SUBDIRS:
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise StudioError(f"cannot create a workspace at {self.root}: {exc.strerror or exc}") from None
        self.store().close()

    def store(self):
        """A new connection to the lineage store (one per thread or process)."""
        from app.store import Store

        return Store(self.db_path, clock=self.clock)
