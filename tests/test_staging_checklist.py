"""The production checklist's staging items, judged on serve_requests / completion_events rows seeded through the
Store under a pinned clock: each item passing and failing, and "not measured" failing."""
import datetime as dt

import pytest

from app import promotion
from app.cards import write_cards
from app.usage import newcombe
from lineage_seed import RESEARCH, T0, pin_clock, record_evals, seed, traffic

NOW = T0 + dt.timedelta(days=1)
STAGING = ("staging-days", "staging-requests", "staging-p95", "staging-acceptance")


@pytest.fixture
def internal(workspace):
    pin_clock(workspace)
    record_evals(workspace, seed(workspace))
    write_cards(workspace, RESEARCH, now=NOW)
    return promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW, write_cards=False)["id"]


def staging_items(workspace, model_id, now):
    result = promotion.checklist(workspace, model_id, "production", now=now)
    return {i["name"]: i for i in result["items"] if i["name"] in STAGING}


def test_not_measured_fails(workspace, internal):
    items = staging_items(workspace, internal, NOW)
    assert set(items) == set(STAGING)
    for item in items.values():
        assert not item["passed"] and item["evidence"].startswith("not measured"), item


def test_each_staging_item_passes_and_fails(workspace, internal):
    # 3 days, 40 requests, slow, 10% accepted: every item fails on its number
    traffic(workspace, internal, NOW, 3, 40, 4, total_ms=700.0)
    items = staging_items(workspace, internal, NOW + dt.timedelta(days=3, hours=1))
    assert not any(i["passed"] for i in items.values()), items
    assert "3 of 14 days" in items["staging-days"]["evidence"]
    assert "40 ok request(s) of 40 served not ≥ 1000" in items["staging-requests"]["evidence"]
    assert "p95 1400 ms not < 500 ms" in items["staging-p95"]["evidence"]
    assert "acceptance 0.100" in items["staging-acceptance"]["evidence"]
    assert "not ≥ the floor 0.2 (no production model named coder)" in items["staging-acceptance"]["evidence"]
    # 12 more days of fast traffic, 45% accepted: each passes
    traffic(workspace, internal, NOW + dt.timedelta(days=3), 12, 1000, 450, total_ms=150.0, prefix="d")
    items = staging_items(workspace, internal, NOW + dt.timedelta(days=15))
    assert all(i["passed"] for i in items.values()), items
    assert f"served since {NOW.date().isoformat()} (first request, {internal}): 15 of 14 days" in \
        items["staging-days"]["evidence"]
    assert "1040 ok request(s)" in items["staging-requests"]["evidence"]
    assert "acceptance 0.437" in items["staging-acceptance"]["evidence"]
    assert "p95 300 ms < 500 ms over 1040 ok request(s)" in items["staging-p95"]["evidence"]


def test_acceptance_against_production_of_the_same_name(workspace, internal):
    for item, note in (("legal-approval", "ok"), ("sla", "99.5%")):
        promotion.approve(workspace, internal, item, by="ops", note=note)
    traffic(workspace, internal, NOW, 15, 1200, 600)  # 50% accepted
    later = NOW + dt.timedelta(days=16)
    prod = promotion.promote(workspace, internal, "production", "coder", now=later, write_cards=False)["id"]
    # a second internal model, accepted 40% of the time: significantly below production's 50%
    second = promotion.promote(workspace, RESEARCH, "internal", "coder", now=later, write_cards=False)["id"]
    traffic(workspace, second, later, 15, 1200, 480, prefix="s")
    items = staging_items(workspace, second, later + dt.timedelta(days=15))
    acc = items["staging-acceptance"]
    lo, hi = newcombe((480, 1200), (600, 1200))
    assert not acc["passed"] and hi < 0
    assert f"vs 0.500 for {prod}" in acc["evidence"] and "significantly below it" in acc["evidence"]
    assert f"[{lo:+.3f}, {hi:+.3f}]" in acc["evidence"]
    assert all(items[n]["passed"] for n in ("staging-days", "staging-requests", "staging-p95")), items
    # 47% is above the floor and within noise of production: it passes
    third = promotion.promote(workspace, RESEARCH, "internal", "coder", now=later, write_cards=False)["id"]
    traffic(workspace, third, later, 15, 1200, 564, prefix="t")
    acc = staging_items(workspace, third, later + dt.timedelta(days=15))["staging-acceptance"]
    assert acc["passed"] and "within noise of it" in acc["evidence"], acc
