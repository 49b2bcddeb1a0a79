"""The per-file curation cache: what processing a file gave, keyed by repo, path, content hash and config.

A file whose size and mtime are unchanged (and that no watcher marked) is taken from the cache without being
read; a changed one is re-hashed and reprocessed only when its content hash or the curation config changed.
The cache holds processed samples only (secrets already replaced) and findings without values.
"""
from __future__ import annotations

import pickle
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    repo TEXT NOT NULL, relpath TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, config_hash TEXT NOT NULL, result BLOB NOT NULL,
    PRIMARY KEY (repo, relpath)
);
"""
VERSION = 2


@dataclass
class FileResult:
    """What processing one file gave. Units are stored as packed arrays (one bytes object each), so loading two
    thousand cached results is a few memory copies rather than millions of small objects."""
    language: str | None
    reason: str | None                    # drop reason, or None when kept
    sha256: str = ""
    size: int = 0
    heldout: bool = False
    findings: list[tuple[int, int, str]] = field(default_factory=list)
    samples_dropped: dict = field(default_factory=dict)   # reason -> count (token limits, secrets)
    parse_error: bool = False
    lines: bytes = b""           # every unit's samples as JSONL lines, unit after unit
    unit_ends: bytes = b""       # int64 per unit: end offset of its lines in `lines`
    unit_samples: bytes = b""    # int32 per unit: how many lines (samples) it has
    unit_tokens: bytes = b""     # int64 per unit: tokens over its samples
    exact: bytes = b""           # 16 bytes per unit: hash of the normalised text
    signatures: bytes = b""      # NUM_PERM little-endian uint32 per unit: MinHash
    categories: list = field(default_factory=list)   # per unit (held-out files; else None)

    @property
    def n_units(self) -> int:
        return len(self.exact) // 16

    def pack_units(self, units: list[tuple[list[bytes], list[int], bytes, bytes, str | None]]) -> None:
        """units: (JSONL lines, token counts, exact key, signature, category) in file order."""
        import numpy as np

        self.lines = b"".join(b"".join(u[0]) for u in units)
        self.unit_ends = np.cumsum([sum(map(len, u[0])) for u in units], dtype=np.int64).tobytes()
        self.unit_samples = np.array([len(u[0]) for u in units], dtype=np.int32).tobytes()
        self.unit_tokens = np.array([sum(u[1]) for u in units], dtype=np.int64).tobytes()
        self.exact = b"".join(u[2] for u in units)
        self.signatures = b"".join(u[3] for u in units)
        self.categories = [u[4] for u in units]


@dataclass
class CacheRow:
    size: int
    mtime_ns: int
    sha256: str
    config_hash: str
    blob: bytes

    def result(self) -> FileResult:
        return unpack(self.blob)


def pack(result: FileResult) -> bytes:
    """A result as the cache stores it (and as a worker process hands it back: packed there, in parallel)."""
    return pickle.dumps(result, protocol=5)


def unpack(blob: bytes) -> FileResult:
    return pickle.loads(blob)


def source_key(name: str, root: str) -> str:
    """Cache rows belong to a source's name and folder together: two folders curated under the same name never
    share rows (a same-size, same-mtime file there could otherwise pass for cached)."""
    return f"{name}\x1f{root}"


class FileCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version != VERSION:
            self.conn.executescript(f"DROP TABLE IF EXISTS files; {SCHEMA} PRAGMA user_version = {VERSION};")
        else:
            self.conn.executescript(SCHEMA)

    def rows(self, repo: str) -> dict[str, CacheRow]:
        return {r[0]: CacheRow(*r[1:]) for r in self.conn.execute(
            "SELECT relpath, size, mtime_ns, sha256, config_hash, result FROM files WHERE repo = ?", [repo])}

    def stats(self, repo: str) -> dict[str, tuple[int, int]]:
        """relpath -> (size, mtime_ns), without the results (for counting changed files cheaply)."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute(
            "SELECT relpath, size, mtime_ns FROM files WHERE repo = ?", [repo])}

    def put_many(self, repo: str, items: list[tuple[str, int, int, str, str, bytes]]) -> None:
        """(relpath, size, mtime_ns, sha256, config_hash, packed result) rows, written in one transaction."""
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO files (repo, relpath, size, mtime_ns, sha256, config_hash, result) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [(repo, *item) for item in items])

    def touch_many(self, repo: str, items: list[tuple[str, int, int]]) -> None:
        """Record a new stat for files whose content turned out unchanged."""
        with self.conn:
            self.conn.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE repo = ? AND relpath = ?",
                                  [(size, mtime, repo, rel) for rel, size, mtime in items])

    def forget_missing(self, repo: str, present: set[str]) -> None:
        gone = [(repo, rel) for rel in self.stats(repo) if rel not in present]
        if gone:
            with self.conn:
                self.conn.executemany("DELETE FROM files WHERE repo = ? AND relpath = ?", gone)

    def forget_repo(self, name: str) -> None:
        """Drop every row of a source name, whatever folder it was curated from."""
        with self.conn:
            self.conn.execute("DELETE FROM files WHERE substr(repo, 1, ?) = ?", [len(name) + 1, name + "\x1f"])

    def close(self) -> None:
        self.conn.close()
