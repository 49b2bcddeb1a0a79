"""Seeding the demo workspace: the embedded SmolLM2 fork and the sample repos of assets/sample-repos."""
from __future__ import annotations

from pathlib import Path

from app.forks import DEMO_BASE_ID, fork
from app.workspace import Workspace


def seed_demo(ws: Workspace) -> dict:
    """Register what the demo needs; whatever is already there is kept. Returns what it registered."""
    store = ws.store()
    try:
        have_base = store.model(DEMO_BASE_ID) is not None
    finally:
        store.close()
    if not have_base:
        fork(ws, "embedded:smollm2-135m", DEMO_BASE_ID)
    return {"base": DEMO_BASE_ID, "repos": seed_sample_repos(ws)}


SAMPLE_REPOS = Path(__file__).resolve().parent.parent / "assets" / "sample-repos"


def seed_sample_repos(ws: Workspace) -> list[str]:
    """Register each folder of assets/sample-repos that is not registered yet; returns the names registered."""
    from app.repos import add_repo

    if not SAMPLE_REPOS.is_dir():
        return []
    store = ws.store()
    try:
        known = {r["name"] for r in store.query("SELECT name FROM repos")} | \
                {r["path"] for r in store.query("SELECT path FROM repos")}
    finally:
        store.close()
    added = []
    for folder in sorted(p for p in SAMPLE_REPOS.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in known and str(folder.resolve()) not in known:
            add_repo(ws, folder, folder.name)
            added.append(folder.name)
    return added
