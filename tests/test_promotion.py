"""Promotion gates: checklists with evidence from a seeded store, sign-offs, expiry, tampering, immutability."""
import datetime as dt
import json
import sqlite3

import pytest

from app import promotion
from app.cards import write_cards
from app.checklists import load
from app.errors import StudioError
from lineage_seed import BASE, RESEARCH, T0, pin_clock, record_evals, seed, traffic

NOW = T0 + dt.timedelta(days=1)


@pytest.fixture
def seeded(workspace):
    pin_clock(workspace)
    return seed(workspace)


@pytest.fixture
def ready(workspace, seeded):
    """A research model whose internal checklist passes: evals recorded and cards written beside its artifacts."""
    record_evals(workspace, seeded)
    write_cards(workspace, RESEARCH, now=NOW)
    return seeded


def _items(result):
    return {i["name"]: i for i in result["items"]}


def test_default_checklists(workspace):
    internal = load(workspace, "internal")
    production = load(workspace, "production")
    names = [i["name"] for i in internal["items"]]
    assert names == ["humaneval-pass@1", "internal-benchmark", "humaneval-no-regression", "general-no-regression",
                     "latency-p95",
                     "secret-scan", "base-attribution", "artifacts-sha256", "not-expired"]
    assert [i["name"] for i in production["items"]] == names + ["legal-approval", "sla", "days-in-internal",
                                                                 "staging-days", "staging-requests", "staging-p95",
                                                                 "staging-acceptance"]
    assert internal["from_stages"] == ["research"] and production["from_stages"] == ["internal"]


def test_nothing_measured_fails_and_promotion_refused(workspace, seeded):
    result = promotion.checklist(workspace, RESEARCH, "internal", now=NOW)
    items = _items(result)
    assert not result["ready"]
    for name in ("humaneval-pass@1", "internal-benchmark", "humaneval-no-regression", "general-no-regression",
                 "latency-p95"):
        assert not items[name]["passed"] and items[name]["evidence"].startswith("not measured"), items[name]
    assert not items["base-attribution"]["passed"] and "card research/platform/coder" in items["base-attribution"]["evidence"]
    assert items["secret-scan"]["passed"] and "2 secret(s) found and dropped, 0 kept" in items["secret-scan"]["evidence"]
    assert items["artifacts-sha256"]["passed"] and items["not-expired"]["passed"]
    with pytest.raises(StudioError) as err:
        promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW)
    message = str(err.value)
    assert "\n" not in message and message.startswith("cannot promote research/platform/coder to internal: 6 item(s)")
    for name in result["failing"]:
        assert name in message
    store = workspace.store()
    assert store.model("internal/coder/v1") is None
    refused = [e for e in store.events(RESEARCH) if e["kind"] == "promotion.refused"]
    assert refused[-1]["payload"]["failing"] == result["failing"]


def test_gate_passes_once_satisfied_and_promotion_is_immutable(workspace, ready):
    result = promotion.checklist(workspace, RESEARCH, "internal", now=NOW)
    assert result["ready"], [i for i in result["items"] if not i["passed"]]
    items = _items(result)
    assert "pass@1 = 0.75 ≥ 0.7" in items["humaneval-pass@1"]["evidence"]
    assert "on gguf q8_0 artifacts/research__platform__coder/coder-q8_0.gguf" in items["humaneval-pass@1"]["evidence"]
    assert "0.75 vs 0.72 for " + BASE in items["humaneval-no-regression"]["evidence"]
    assert "p95_ms = 412 < 500" in items["latency-p95"]["evidence"]
    out = promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW)
    assert out["id"] == "internal/coder/v1"
    store = workspace.store()
    new = store.model("internal/coder/v1")
    assert new["parent_id"] == RESEARCH and new["relation"] == "promotion" and new["expires"] is None
    assert new["gguf_path"] == str(ready["gguf"])  # referenced, not copied
    refs = [a for a in store.artifacts("internal/coder/v1") if a["details"].get("referenced_from")]
    assert {a["path"] for a in refs} == {str(ready["gguf"]), str(ready["merged"]), str(ready["adapter"])}
    prom = store.one("SELECT * FROM promotions WHERE model_id = ?", ["internal/coder/v1"])
    assert prom["parent_id"] == RESEARCH and prom["to_stage"] == "internal" and prom["ready"] == 1
    frozen = store.query("SELECT * FROM promotion_items WHERE promotion_id = ?", [prom["id"]])
    assert len(frozen) == len(result["items"]) and all(r["passed"] for r in frozen)
    kinds = [e["kind"] for e in store.events()]
    assert "model.promoted" in kinds and "promotion.granted" in kinds
    assert store.model(RESEARCH)["relation"] == "lora-finetune"  # the parent is untouched
    again = promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW, write_cards=False)
    assert again["id"] == "internal/coder/v2"


def test_thresholds_regression_and_gguf_requirement(workspace, seeded):
    store = workspace.store()
    hf_art = store.artifacts(RESEARCH, kind="merged")[0]["id"]
    store.close()
    record_evals(workspace, seeded, pass1=0.65, base_pass1=0.71, internal=0.79, p95=640.0)
    items = _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))
    assert not items["humaneval-pass@1"]["passed"] and "0.65 not ≥ 0.7" in items["humaneval-pass@1"]["evidence"]
    assert not items["internal-benchmark"]["passed"]
    assert not items["humaneval-no-regression"]["passed"] and "delta -0.06" in items["humaneval-no-regression"]["evidence"]
    assert not items["latency-p95"]["passed"] and "640 not < 500" in items["latency-p95"]["evidence"]
    # a later, good pass@1 measured on the merged HF weights does not count for the GGUF gate
    record_evals(workspace, seeded, pass1=0.9, artifact_id=hf_art)
    items = _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))
    assert not items["humaneval-pass@1"]["passed"]
    assert "measured on merged, not on a gguf artifact" in items["humaneval-pass@1"]["evidence"]
    assert items["humaneval-no-regression"]["passed"]


def test_tampered_artifact_caught(workspace, ready):
    gguf = ready["gguf"]
    data = bytearray(gguf.read_bytes())
    data[-1] ^= 0xFF
    gguf.write_bytes(bytes(data))
    items = _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))
    assert not items["artifacts-sha256"]["passed"]
    assert "coder-q8_0.gguf: sha256 mismatch" in items["artifacts-sha256"]["evidence"]
    with pytest.raises(StudioError, match="artifacts-sha256"):
        promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW)


def test_folder_artifact_tamper_caught_but_cards_inside_allowed(workspace, ready):
    # write_cards put README.md and LINEAGE.md inside the merged folder: that alone verifies
    assert (ready["merged"] / "README.md").is_file()
    assert _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))["artifacts-sha256"]["passed"]
    (ready["merged"] / "extra.bin").write_bytes(b"smuggled")
    evidence = _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))["artifacts-sha256"]
    assert not evidence["passed"] and "merged" in evidence["evidence"]


def test_missing_artifact_fails(workspace, ready):
    ready["gguf"].unlink()
    items = _items(promotion.checklist(workspace, RESEARCH, "internal", now=NOW))
    assert not items["artifacts-sha256"]["passed"] and "missing on disk" in items["artifacts-sha256"]["evidence"]


def test_expired_model_refused(workspace, ready):
    late = T0 + dt.timedelta(days=91)
    items = _items(promotion.checklist(workspace, RESEARCH, "internal", now=late))
    assert not items["not-expired"]["passed"] and items["not-expired"]["evidence"].startswith("expired 2027-01-30")
    with pytest.raises(StudioError, match="not-expired"):
        promotion.promote(workspace, RESEARCH, "internal", "coder", now=late)


def test_production_needs_signoffs_and_14_days(workspace, ready, monkeypatch):
    internal = promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW)["id"]
    with pytest.raises(StudioError, match="from-stage"):
        promotion.promote(workspace, RESEARCH, "production", "coder", now=NOW)
    items = _items(promotion.checklist(workspace, internal, "production", now=NOW))
    assert [n for n, i in items.items() if not i["passed"]] == ["legal-approval", "sla", "days-in-internal",
                                                                "staging-days", "staging-requests", "staging-p95",
                                                                "staging-acceptance"]
    traffic(workspace, internal, NOW, 14, 1000, 300)  # 14 days of staging, 30% accepted
    assert items["humaneval-pass@1"]["passed"]  # evidence of the promoted-from model counts
    with pytest.raises(StudioError, match="sign-off items: legal-approval, sla"):
        promotion.approve(workspace, internal, "latency-p95", by="ops")
    with pytest.raises(StudioError, match="--by"):
        promotion.approve(workspace, internal, "legal-approval", by="  ")
    promotion.approve(workspace, internal, "legal-approval", by="dana (legal)", note="OSS review LEG-88")
    promotion.approve(workspace, internal, "sla", by="sre")
    later = NOW + dt.timedelta(days=15)
    items = _items(promotion.checklist(workspace, internal, "production", now=later))
    assert items["legal-approval"]["passed"] and "signed by dana (legal)" in items["legal-approval"]["evidence"]
    assert not items["sla"]["passed"] and "without a note" in items["sla"]["evidence"]
    assert items["days-in-internal"]["passed"] and items["staging-acceptance"]["passed"]
    promotion.approve(workspace, internal, "sla", by="sre", note="99.5% availability, p95 < 500 ms")
    out = promotion.promote(workspace, internal, "production", "coder", now=later)
    assert out["id"] == "production/coder/v1.0"
    store = workspace.store()
    rows = store.query("SELECT item, by, note FROM approvals WHERE model_id = ? ORDER BY id", [internal])
    assert [r["item"] for r in rows] == ["legal-approval", "sla", "sla"]
    assert len([e for e in store.events(internal) if e["kind"] == "approval.recorded"]) == 3
    store.close()
    # a second internal model of the same base promoted later: a minor step
    internal2 = promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW, write_cards=False)["id"]
    traffic(workspace, internal2, NOW, 14, 1000, 300, prefix="b")
    for item, note in (("legal-approval", "ok"), ("sla", "same SLA")):
        promotion.approve(workspace, internal2, item, by="dana", note=note)
    assert promotion.promote(workspace, internal2, "production", "coder", now=later + dt.timedelta(days=1),
                             write_cards=False)["id"] == "production/coder/v1.1"


def test_event_log_immutable(workspace, ready):
    promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW, write_cards=False)
    store = workspace.store()
    before = store.events()
    for sql in ("UPDATE events SET kind = 'rewritten' WHERE kind = 'model.promoted'",
                "DELETE FROM events WHERE kind = 'promotion.granted'"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute(sql)
    assert store.events() == before
    with pytest.raises(StudioError, match="already exists"):
        store.add_model({"id": "internal/coder/v1", "parent_id": RESEARCH, "relation": "promotion"})


def test_workspace_override(workspace, ready):
    override = workspace.root / "checklists"
    override.mkdir()
    (override / "internal.toml").write_text(
        'stage = "internal"\nfrom_stages = ["research"]\n\n[[items]]\nname = "latency"\ncheck = "metric"\n'
        'suite = "latency"\nmetric = "p95_ms"\nbelow = 300\n')
    result = promotion.checklist(workspace, RESEARCH, "internal", now=NOW)
    assert [i["name"] for i in result["items"]] == ["from-stage", "latency"] and not result["ready"]
    # production includes the workspace's internal checklist
    assert [i["name"] for i in load(workspace, "production")["items"]][0] == "latency"
    (override / "internal.toml").write_text(
        'stage = "internal"\nfrom_stages = ["research"]\n[[items]]\nname = "x"\ncheck = "metric"\n'
        'suite = "latency"\nmetric = "p95_ms"\nbelow_ms = 300\n')
    with pytest.raises(StudioError, match="unknown below_ms"):
        promotion.checklist(workspace, RESEARCH, "internal", now=NOW)
    (override / "internal.toml").write_text("stage = [")
    with pytest.raises(StudioError, match="cannot read checklist"):
        promotion.checklist(workspace, RESEARCH, "internal", now=NOW)


def test_cli_checklist_approve_promote(cli, ws_root, workspace, monkeypatch):
    # the CLI runs on the real clock: seed two days ago so the research model is far from expiry
    pin_clock(workspace, dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=2))
    record_evals(workspace, seed(workspace))
    write_cards(workspace, RESEARCH)
    out = cli("checklist", RESEARCH, "--to", "internal", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["ready"] is True and all({"name", "passed", "evidence"} <= i.keys() for i in result["items"])
    bad = cli("promote", RESEARCH, "--to", "production", "--name", "coder")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "from-stage" in bad.stderr
    done = cli("promote", RESEARCH, "--to", "internal", "--name", "coder", "--json")
    assert done.returncode == 0, done.stderr
    new_id = json.loads(done.stdout)["id"]
    signed = cli("approve", new_id, "legal-approval", "--by", "dana", "--json")
    assert signed.returncode == 0 and json.loads(signed.stdout)["by"] == "dana"
    text = cli("checklist", new_id, "--to", "production")
    assert "NOT READY" in text.stdout and "[x] legal-approval: signed by dana" in text.stdout
