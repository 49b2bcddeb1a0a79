"""The Staging pane (key 8) over a real store: empty until something is served, then the models with their
acceptance interval, the split's verdict and the latest errors; it reads new rows on its own while shown."""
from __future__ import annotations

import datetime as dt

from pilot import settle, wait_for
from studio_seed import HARDWARE

from app.ui.studio import StudioApp
from lineage_seed import T0, traffic

SIZE = (160, 48)
SPLIT = "code-generation=internal/a/v1:0.5,internal/b/v1:0.5"


def cells(app, table_id: str) -> list[list[str]]:
    table = app.query_one(table_id)
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def test_staging_pane_shows_traffic_split_and_errors(workspace):
    workspace.clock = lambda: T0 + dt.timedelta(days=2)  # a clock that stands still
    app = StudioApp(workspace, seed=False, hardware=HARDWARE, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot, 1)
        assert app.query_one("#panes").active == "staging"
        await wait_for(pilot, lambda: app.query("#staging-empty") and app.query_one("#staging-empty").display)
        assert "nothing served yet" in str(app.query_one("#staging-empty").render())

        # a serve process elsewhere records traffic: the pane picks it up by itself
        traffic(workspace, "internal/a/v1", T0 + dt.timedelta(days=1), 0.9, 200, 30, prefix="a", split=SPLIT)
        traffic(workspace, "internal/b/v1", T0 + dt.timedelta(days=1), 0.9, 200, 90, prefix="b", split=SPLIT)
        with workspace.store() as store:
            store.conn.execute("INSERT INTO serve_requests (time, endpoint, model_id, status, http_status, error) "
                               "VALUES (?, '/infill', 'internal/b/v1', 'rejected', 503, 'overloaded')",
                               [(T0 + dt.timedelta(days=1, hours=5)).isoformat()])
            store.conn.commit()
        await wait_for(pilot, lambda: app.query_one("#staging-body").display, timeout=15)
        summary = str(app.query_one("#staging-summary").render())
        assert "401 requests" in summary and "1 rejected" in summary
        models = {row[0]: row for row in cells(app, "#staging-models")}
        assert models["internal/a/v1"][8].startswith("15.0% [") and models["internal/a/v1"][8].endswith("of 200")
        splits = cells(app, "#staging-splits")
        assert splits[0][0] == "code-generation" and splits[1][1] == "internal/b/v1"
        assert splits[1][7] == "internal/b/v1 is accepted more often"
        assert cells(app, "#staging-errors")[0][5] == "overloaded"
