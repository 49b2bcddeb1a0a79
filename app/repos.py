"""Watched repositories: register git repos and plain folders, list them with what changed, remove them."""
from __future__ import annotations

import re
from pathlib import Path

from app.errors import StudioError
from app.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def cache_path(ws: Workspace) -> Path:
    """The per-file curation cache of the workspace."""
    return ws.dir("cache") / "curation" / "files.db"


def _git_dir(path: Path) -> Path | None:
    dot = path / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            return target if target.is_absolute() else (path / target).resolve()
    return None


def git_head(path: Path | str) -> str | None:
    """The commit HEAD points at, read from the git files (no git binary needed); None without commits."""
    git_dir = _git_dir(Path(path))
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for base in (git_dir, common):
        ref_file = base / ref
        if ref_file.is_file():
            return ref_file.read_text(encoding="utf-8").strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0]
    return None


def _row_out(row: dict) -> dict:
    return {k: row[k] for k in ("name", "path", "kind", "head_commit", "added")}


def add_repo(ws: Workspace, path: str | Path, name: str | None = None) -> dict:
    """Register a folder (git or plain) under a unique name; returns {"repo": row, "repos": [...]}."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise StudioError(f"{path} does not exist")
    if not folder.is_dir():
        raise StudioError(f"{path} is not a folder")
    folder = folder.resolve()
    name = name or folder.name
    if not _NAME.match(name):
        raise StudioError(f"repo name {name!r} must be letters, digits, . _ - (up to 64); pass --name")
    kind = "git" if _git_dir(folder) is not None else "folder"
    store = ws.store()
    try:
        if store.one("SELECT name FROM repos WHERE name = ?", [name]):
            raise StudioError(f"a repo named {name!r} is already registered; pass --name to pick another")
        same = store.one("SELECT name FROM repos WHERE path = ?", [str(folder)])
        if same:
            raise StudioError(f"{folder} is already registered as {same['name']!r}")
        row = {"name": name, "path": str(folder), "kind": kind, "head_commit": git_head(folder) if kind == "git" else None,
               "added": store.now(), "details": {}}
        store.insert("repos", row)
        store.event("repo.added", repo=name, path=str(folder), kind=kind, head_commit=row["head_commit"])
        return {"repo": _row_out(row), "repos": _list(store, ws, count_changes=False)}
    finally:
        store.close()


def require_repo(store, name: str) -> dict:
    row = store.one("SELECT * FROM repos WHERE name = ?", [name])
    if row is None:
        known = ", ".join(r["name"] for r in store.query("SELECT name FROM repos ORDER BY name")) or "none"
        raise StudioError(f"no repo named {name!r} (registered: {known})")
    return row


def changed_files(ws: Workspace, store, row: dict) -> int:
    """Files added, changed or removed since the last curation: a watcher's marks plus a stat check of every
    file the walk sees against the curation cache."""
    from training.curation import files
    from training.curation.file_cache import FileCache, source_key

    root = Path(row["path"])
    if not root.is_dir():
        return 0
    cache = FileCache(cache_path(ws))
    try:
        known = cache.stats(source_key(row["name"], str(root)))
    finally:
        cache.close()
    marked = {r["relpath"] for r in store.query("SELECT relpath FROM repo_changes WHERE repo = ?", [row["name"]])}
    seen, changed = set(), 0
    for entry in files.walk(root):
        if entry.is_symlink or files.drop_reason_by_path(entry.relpath) not in (None, "env_file"):
            continue
        seen.add(entry.relpath)
        if entry.stat is None:
            continue
        if entry.relpath in marked or known.get(entry.relpath) != entry.stat:
            changed += 1
    return changed + len(set(known) - seen)


def _list(store, ws: Workspace, count_changes: bool = True) -> list[dict]:
    out = []
    for row in store.query("SELECT * FROM repos ORDER BY name"):
        item = _row_out(row)
        exists = Path(row["path"]).is_dir()
        item["exists"] = exists
        if exists and row["kind"] == "git":
            item["head_commit"] = git_head(row["path"])
        if count_changes:
            item["changed_files"] = changed_files(ws, store, row) if exists else None
        out.append(item)
    return out


def list_repos(ws: Workspace) -> dict:
    """{"repos": [...]}, each with whether its folder still exists and how many files changed since curation."""
    store = ws.store()
    try:
        return {"repos": _list(store, ws)}
    finally:
        store.close()


def remove_repo(ws: Workspace, name: str) -> dict:
    """Forget a repo (its folder is untouched; snapshots made from it stay)."""
    from training.curation.file_cache import FileCache

    store = ws.store()
    try:
        require_repo(store, name)
        with store.conn:
            store.conn.execute("DELETE FROM repo_changes WHERE repo = ?", [name])
            store.conn.execute("DELETE FROM repos WHERE name = ?", [name])
        store.event("repo.removed", repo=name)
        cache = FileCache(cache_path(ws))
        try:
            cache.forget_repo(name)
        finally:
            cache.close()
        return {"removed": name, "repos": _list(store, ws, count_changes=False)}
    finally:
        store.close()
