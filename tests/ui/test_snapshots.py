"""Snapshots (pytest-textual-snapshot) of every pane on the seeded studio workspace: fixed path, pinned clock,
fixed hardware, so the SVGs are the same on every run. Update with `pytest tests/ui --snapshot-update`."""
from __future__ import annotations

import pytest
from pilot import settle_pane
from studio_seed import HARDWARE, NOW

from app.ui.studio import PANES, StudioApp
from app.workspace import Workspace


@pytest.mark.parametrize("number,key", [(n, key) for n, (key, _, _) in enumerate(PANES, 1)])
def test_pane_snapshot(snap_compare, studio_fixture_root, number, key):
    app = StudioApp(Workspace.open(studio_fixture_root), seed=False, now=NOW, hardware=HARDWARE)

    async def visit(pilot):
        await pilot.press(str(number))
        await settle_pane(pilot, key)
        assert app.query_one("#panes").active == key

    assert snap_compare(app, terminal_size=(140, 42), run_before=visit)
