"""Seeding the demo workspace: the embedded SmolLM2 fork (and, once they exist, the sample repos)."""
from __future__ import annotations

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
    return {"base": DEMO_BASE_ID}
