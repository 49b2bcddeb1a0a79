"""Per-sample scores in the store and what reads them: the checklist's no-regression (fails only on a significant
regression), thresholds whose interval straddles them, the too-few-samples warning, the Benchmarks pane's counts,
the steps a recipe gives, replay of general code, and the held-out split's size on a real curation."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from app import promotion
from app.intervals import describe, record_samples
from lineage_seed import BASE, RESEARCH, T0, pin_clock, record_evals, seed

NOW = T0 + dt.timedelta(days=1)


@pytest.fixture
def seeded(workspace):
    pin_clock(workspace)
    out = seed(workspace)
    record_evals(workspace, out)
    return out


def _items(workspace) -> dict:
    return {i["name"]: i for i in promotion.checklist(workspace, RESEARCH, "internal", now=NOW)["items"]}


def _rescore(workspace, suite: str, settings_hash: str, cand: list[float], base: list[float],
             category: str | None = "overall") -> None:
    """Record candidate and base numbers (the means) with their per-sample scores."""
    store = workspace.store()
    metric = "pass@1" if suite == "humaneval" else "score"
    field = "pass@1" if suite == "humaneval" else "edit_similarity"
    for model, values in ((BASE, base), (RESEARCH, cand)):
        store.add_eval_result(model, suite, metric, sum(values) / len(values), settings_hash, {"x": 1},
                              category=category, baseline_model_id=BASE if model == RESEARCH else None)
        record_samples(store, None, model, suite, settings_hash, [{"key": f"k{i}", field: v} for i, v in enumerate(values)])
    store.close()


def test_seeded_evidence_carries_intervals(workspace, seeded):
    items = _items(workspace)
    he = items["humaneval-pass@1"]["evidence"]
    assert "pass@1 = 0.75 ≥ 0.7" in he and "95% CI [0.657, 0.8245], n=100" in he  # Wilson, 75 of 100
    assert "straddles 0.7" in he  # passes on the point value, and says the data cannot decide
    internal = items["internal-benchmark"]["evidence"]
    assert "score = 0.84 ≥ 0.8" in internal and "n=256" in internal and "straddles" not in internal
    general = items["general-no-regression"]
    assert general["passed"] and "within noise" in general["evidence"] and "n=300" in general["evidence"]
    latency = items["latency-p95"]["evidence"]
    assert "no interval (per-sample scores not recorded)" in latency


def test_no_regression_fails_only_on_a_significant_regression(workspace, seeded):
    # 0.05 worse on average, but on 20 noisy samples: within noise, and too few to decide
    noisy_base = [0.3, 0.9] * 10
    noisy_cand = [v - 0.05 + (0.3 if i % 4 < 2 else -0.3) for i, v in enumerate(noisy_base)]
    _rescore(workspace, "general", "ge-noisy", noisy_cand, noisy_base)
    item = _items(workspace)["general-no-regression"]
    assert item["passed"], item
    assert "delta -0.05" in item["evidence"] and "within noise" in item["evidence"]
    assert "too few held-out samples to decide (n=20, fewer than 100)" in item["evidence"]
    # the same 0.05 loss on every one of 300 samples: significant and beyond the 0.02 margin
    steady_base = [0.3, 0.9] * 150
    _rescore(workspace, "general", "ge-steady", [v - 0.05 for v in steady_base], steady_base)
    item = _items(workspace)["general-no-regression"]
    assert not item["passed"] and "significantly worse" in item["evidence"], item
    # a significant loss within the margin passes and says so
    _rescore(workspace, "general", "ge-small", [v - 0.01 for v in steady_base], steady_base)
    item = _items(workspace)["general-no-regression"]
    assert item["passed"] and "significantly worse, within the margin" in item["evidence"], item


def test_point_values_without_samples_are_judged_as_before(workspace, seeded):
    store = workspace.store()
    store.add_eval_result(BASE, "general", "score", 0.60, "ge-nosamples", {}, category="overall")
    store.add_eval_result(RESEARCH, "general", "score", 0.50, "ge-nosamples", {}, category="overall",
                          baseline_model_id=BASE)
    store.close()
    item = _items(workspace)["general-no-regression"]
    assert not item["passed"] and "no paired interval (per-sample scores not recorded)" in item["evidence"]


def test_describe_a_row_and_its_base(workspace, seeded):
    store = workspace.store()
    row = store.one("SELECT * FROM eval_results WHERE model_id = ? AND suite = 'internal' AND category = 'overall'",
                    [RESEARCH])
    base = store.one("SELECT * FROM eval_results WHERE model_id = ? AND suite = 'internal'", [BASE])
    info = describe(store, row, base)
    store.close()
    assert info["n"] == 256 and info["method"] == "bootstrap" and info["ci95"][0] < 0.84 < info["ci95"][1]
    assert info["delta"] == pytest.approx(0.23) and info["significant"] and info["better"]
    assert info["delta_ci95"][0] > 0.2 and info["warning"] is None


def test_benchmarks_summary_counts_only_significant_differences():
    from app.ui.panes.benchmarks import summary

    rows = [{"delta": 0.2, "uncertainty": {"significant": True, "better": True}},
            {"delta": -0.1, "uncertainty": {"significant": True, "better": False}},
            {"delta": 0.01, "uncertainty": {"significant": False, "better": None,
                                            "warning": "too few held-out samples to decide (n=6, fewer than 100)"}},
            {"delta": 2.9, "uncertainty": {}}, {"delta": None, "uncertainty": {}}]
    text = summary(rows)
    assert text.startswith("1 better, 1 worse (significant), 1 within noise of 5 metrics, 1 without an interval")
    assert text.endswith("too few held-out samples to decide (n=6, fewer than 100)")


def test_steps_plan_and_the_too_few_steps_warning(tmp_path):
    from training.data import pack_groups, plan_steps, steps_message

    lengths = [40, 200, 120, 90, 250, 30] * 20
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"kind": "completion", "prompt": "p", "completion": "c", "tokens": n - 1}) + "\n"
                            for n in lengths))
    windows = len(pack_groups(lengths, 256))
    plan = plan_steps(path, seq_len=256, batch_size=16, micro_batch_size=4, epochs=3)
    assert plan["windows"] == windows and plan["samples"] == 120
    assert plan["steps"] == -(-3 * -(-windows // 4) // 4)  # ceil(epochs * ceil(windows / micro) / accumulation)
    line, warn = steps_message(plan)
    assert warn and f"gives {plan['steps']} optimizer steps" in line and "too few to move a LoRA" in line
    many = plan_steps(path, seq_len=256, batch_size=16, micro_batch_size=4, epochs=3, max_steps=400)
    assert many["steps"] == 400 and not steps_message(many)[1]


def test_replay_mixes_general_samples_in_the_base_format():
    from training import fim, general

    pool = sum(1 for _ in open(general.TRAIN, encoding="utf-8"))
    mixed = general.replay_samples(0.2, 400, fim.QWEN, seed=1)
    assert len(mixed) == min(pool, 100)
    fims = [s for s in mixed if s["kind"] == "fim"]
    assert fims and all(s["prompt"].startswith(fim.QWEN.prefix) and s["prompt"].endswith(fim.QWEN.middle)
                        for s in fims)
    plain = general.replay_samples(0.2, 400, None, seed=1)
    assert all(s["kind"] == "completion" and fim.QWEN.prefix not in s["prompt"] for s in plain)
    assert general.replay_samples(0.2, 400, fim.QWEN, seed=1) == mixed and general.replay_samples(0, 400, None) == []
    with pytest.raises(general.ReplayError):
        general.replay_samples(0.95, 400, None)
    held = {json.loads(line)["path"] for line in open(general.HELDOUT, encoding="utf-8")}
    trained = {json.loads(line)["path"] for line in open(general.TRAIN, encoding="utf-8")}
    assert held and trained and not held & trained  # held-out files are never replayed
    assert "MIT" in (general.ROOT / "PROVENANCE.md").read_text(encoding="utf-8")


def test_curation_holds_out_enough_samples(workspace, tiny_qwen2):
    from app.curation import curate
    from app.forks import fork

    fork(workspace, str(tiny_qwen2), "forkies/tiny@v1.0.0", prepare=False)
    root = Path(__file__).resolve().parent.parent / "assets" / "sample-repos"
    result = curate(workspace, paths=[str(root / "agent-hub"), str(root / "fleet-console")],
                    base_id="forkies/tiny@v1.0.0")
    samples = result["samples"]
    total = samples["train"] + samples["heldout"]
    # grown from 10% of the files towards 200 samples, stopping at the file that would pass a quarter of them
    assert min(200, total / 4) - 40 <= samples["heldout"] <= max(total / 4, 200 + 40)
    out = Path(result["output"])
    held = [json.loads(line) for line in (out / "heldout.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert not {(r["repo"], r["path"]) for r in held} & {(r["repo"], r["path"]) for r in train}
    assert all(r["category"] is None for r in train) and any(r["category"] for r in held)
    small = [c for c, n in result["heldout_categories"].items() if c != "overall" and n < 20]  # snippets
    assert set(result["heldout_indicative"]) <= set(small)  # fewer than 20 samples: fewer than 20 snippets too
