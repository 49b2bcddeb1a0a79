"""File helpers every part shares: sha256 of files and folders, atomic writes (temp file beside, then rename).

It lives in the first engine so that engines can use it without importing app/ (docs/ARCHITECTURE.md)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

CHUNK = 1 << 20


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(path: Path | str) -> str:
    """A folder's hash: relative paths and file hashes, sorted, so it names the content and nothing else."""
    root = Path(path)
    h = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(root).as_posix()}\0{sha256_file(file)}\n".encode())
    return h.hexdigest()


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def size_of(path: Path | str) -> int:
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it onto `target` only when the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path | str, text: str) -> str:
    """Write text atomically; return its sha256."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return sha256_file(target)


@contextlib.contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Yield a temp folder beside `target`; when the block succeeds it replaces `target` whole, else it is removed.

    A reader sees the old folder or the new one, never a half-written one.
    """
    target = Path(target)
    with staging_dir(target.parent, prefix=f".{target.name}.") as tmp:
        yield tmp
        publish_dir(tmp, target)


@contextlib.contextmanager
def staging_dir(parent: Path | str, prefix: str = ".staging.") -> Iterator[Path]:
    """Yield a temp folder in `parent` (for a folder whose name is known only once it is written); it is removed
    when the block ends, unless `publish_dir` moved it into place."""
    import shutil

    Path(parent).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_dir(tmp: Path, target: Path | str) -> None:
    """Move a staged folder onto `target`, replacing whatever is there."""
    import shutil

    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


class JsonLinesError(ValueError):
    """A line of a JSON-lines file that is not JSON (the message names the file and line)."""


def iter_jsonl(path: Path | str) -> Iterator[tuple[int, object]]:
    """(line number, value) for each non-blank line of a JSON-lines file; JsonLinesError names a line that is not JSON."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise JsonLinesError(f"{path.name} line {number} is not JSON ({exc})") from None
