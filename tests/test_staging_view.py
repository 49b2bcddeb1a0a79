"""The Staging pane's numbers (app.staging_view.snapshot) from serve rows in a real store under a pinned clock:
the rate now, the window, acceptance against a reference Wilson computation, a split's arms and its verdict, and
the latest errors."""
import datetime as dt
import math

from app.staging_view import snapshot
from lineage_seed import T0, pin_clock, traffic

SPLIT = "code-generation=internal/a/v1:0.5,internal/b/v1:0.5"


def wilson(x, n, z=1.959963984540054):
    """Reference Wilson score interval, written out from its formula."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_snapshot_rate_window_acceptance_split_and_errors(workspace):
    now = T0 + dt.timedelta(days=2)
    workspace.clock = lambda: now  # a clock that stands still: "the last 60 s" is exact
    # two arms of a split over the past day: a accepted 30 of 200, b 90 of 200
    traffic(workspace, "internal/a/v1", T0 + dt.timedelta(days=1), 0.9, 200, 30, prefix="a", split=SPLIT)
    traffic(workspace, "internal/b/v1", T0 + dt.timedelta(days=1), 0.9, 200, 90, prefix="b", split=SPLIT)
    # older traffic, outside a 1-day window
    traffic(workspace, "internal/a/v1", T0, 0.5, 50, 50, prefix="old")
    with workspace.store() as store:
        for i in range(3):  # three errors in the last minute, one rejection earlier
            store.conn.execute("INSERT INTO serve_requests (time, endpoint, key_name, model_id, status, http_status, "
                               "error) VALUES (?, '/v1/completions', 'ed', 'internal/a/v1', 'error', 500, "
                               "'internal_error')", [(now - dt.timedelta(seconds=10 + i)).isoformat()])
        store.conn.execute("INSERT INTO serve_requests (time, endpoint, status, http_status, error) VALUES (?, "
                           "'/infill', 'rejected', 503, 'overloaded')", [(now - dt.timedelta(hours=3)).isoformat()])
        store.conn.commit()

    with workspace.store() as store:
        day = snapshot(store, "1d")
        everything = snapshot(store, "all")
    assert day["rate_per_minute"] == 3.0  # the three errors are the only requests in the last 60 s
    assert day["total"]["requests"] == 404 and everything["total"]["requests"] == 454
    a = day["by_model"]["internal/a/v1"]["acceptance"]
    assert (a["shown"], a["accepted"]) == (200, 30)
    assert a["ci95"] == [round(v, 4) for v in wilson(30, 200)]
    assert everything["by_model"]["internal/a/v1"]["acceptance"]["accepted"] == 80

    [split] = day["splits"]
    assert split["capability"] == "code-generation"
    assert [arm["model_id"] for arm in split["arms"]] == ["internal/a/v1", "internal/b/v1"]
    [cmp] = split["comparisons"]
    assert (cmp["a"], cmp["b"]) == ("internal/b/v1", "internal/a/v1")
    assert cmp["difference"] == 0.3 and cmp["ci95"][0] > 0
    assert cmp["verdict"] == "internal/b/v1 is accepted more often"

    assert [e["error"] for e in day["errors"]] == ["overloaded", "internal_error", "internal_error", "internal_error"]


def test_a_split_too_small_to_call(workspace):
    pin_clock(workspace, T0 + dt.timedelta(days=2))
    traffic(workspace, "internal/a/v1", T0 + dt.timedelta(days=1), 1, 10, 3, prefix="a", split=SPLIT)
    traffic(workspace, "internal/b/v1", T0 + dt.timedelta(days=1), 1, 10, 5, prefix="b", split=SPLIT)
    with workspace.store() as store:
        [split] = snapshot(store, "1d")["splits"]
    [cmp] = split["comparisons"]
    assert cmp["ci95"][0] < 0 < cmp["ci95"][1] and cmp["verdict"] == "not enough evidence"
