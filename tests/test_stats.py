"""Intervals and paired deltas (eval.stats) against references: scipy's Wilson interval, the exact bootstrap
distribution enumerated by brute force, scipy's percentile bootstrap; the held-out split's size rule."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from eval import stats
from eval.stats import Statistic, bootstrap_ci, paired_delta, summarize, wilson

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (7, 20), (82, 164), (163, 164)])
def test_wilson_matches_scipy(k, n):
    ref = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)


def test_wilson_refuses_nonsense():
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        wilson(5, 4)


def _exact_bootstrap_quantiles(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Every one of the n^n equally likely resamples, its mean, and the distribution's quantiles."""
    n = len(values)
    means = np.array([values[list(idx)].mean() for idx in itertools.product(range(n), repeat=n)])
    return tuple(np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2]))


def test_bootstrap_mean_converges_to_the_exact_bootstrap():
    values = np.array([0.1, 0.35, 0.4, 0.8, 0.95, 0.6])
    exact = _exact_bootstrap_quantiles(values)
    ours = bootstrap_ci(values, resamples=20000)
    spread = values.max() - values.min()
    assert ours[0] == pytest.approx(exact[0], abs=0.02 * spread) and ours[1] == pytest.approx(exact[1], abs=0.02 * spread)
    # the default (2000 resamples) is close too, and the same every time (seeded)
    default = bootstrap_ci(values)
    assert abs(default[0] - exact[0]) < 0.05 * spread and abs(default[1] - exact[1]) < 0.05 * spread
    assert bootstrap_ci(values) == default and bootstrap_ci(values, seed=1) != default


def test_bootstrap_percentile_statistic_matches_scipy():
    rng = np.random.default_rng(3)
    latencies = rng.lognormal(5, 0.4, size=60)
    p95 = Statistic("ms", "percentile", q=95)
    ours = bootstrap_ci(latencies, p95, resamples=20000)
    ref = scipy_stats.bootstrap((latencies,), lambda x, axis: np.percentile(x, 95, axis=axis), method="percentile",
                                n_resamples=20000, random_state=7).confidence_interval
    width = ref.high - ref.low
    assert ours[0] == pytest.approx(ref.low, abs=0.1 * width) and ours[1] == pytest.approx(ref.high, abs=0.1 * width)


def test_summarize_picks_the_method():
    passed = [{"key": str(i), "ok": float(i % 3 == 0)} for i in range(30)]
    out = summarize(passed, Statistic("ok"))
    assert out["method"] == "wilson" and out["n"] == 30 and out["value"] == pytest.approx(10 / 30)
    assert out["ci95"] == pytest.approx(list(wilson(10, 30)))
    scores = [{"key": str(i), "s": i / 29} for i in range(30)]
    out = summarize(scores, Statistic("s"))
    assert out["method"] == "bootstrap" and out["ci95"][0] < out["value"] < out["ci95"][1]
    # tokens per second: a ratio of sums, samples without a denominator left out
    tps = [{"tokens": 30, "s": 1.0}, {"tokens": 10, "s": 0.5}, {"tokens": 5, "s": None}]
    out = summarize(tps, Statistic("tokens", "ratio", denominator="s"))
    assert out["n"] == 2 and out["value"] == pytest.approx(40 / 1.5)
    assert summarize([], Statistic("s")) == {"value": None, "ci95": None, "n": 0, "method": None}


def test_paired_delta_is_the_bootstrap_of_the_differences():
    """For a mean, resampling pairs together is exactly bootstrapping the per-sample differences."""
    rng = np.random.default_rng(0)
    base = rng.random(80)
    cand = base + rng.normal(0.03, 0.05, size=80)
    out = paired_delta([{"key": i, "s": c} for i, c in enumerate(cand)],
                       [{"key": i, "s": b} for i, b in enumerate(base)], Statistic("s"))
    assert out["delta"] == pytest.approx(cand.mean() - base.mean())
    assert out["delta_ci95"] == pytest.approx(list(bootstrap_ci(cand - base)), abs=1e-12)
    assert out["n"] == 80


def test_pairing_removes_shared_variance():
    """A small, consistent gain on samples of very different difficulty: significant when paired, while two
    separate intervals overlap (an unpaired look would call it noise)."""
    rng = np.random.default_rng(1)
    difficulty = rng.random(120)
    base = [{"key": f"s{i}", "s": d} for i, d in enumerate(difficulty)]
    cand = [{"key": f"s{i}", "s": min(1.0, d + 0.02)} for i, d in enumerate(difficulty)]
    paired = paired_delta(cand, base, Statistic("s"))
    assert paired["significant"] and paired["better"] is True and paired["delta_ci95"][0] > 0
    a, b = summarize(cand, Statistic("s")), summarize(base, Statistic("s"))
    assert a["ci95"][0] < b["ci95"][1]  # the separate intervals overlap
    assert paired["p_value"] < 0.05


def test_pairs_by_key_not_by_position():
    base = [{"key": k, "s": v} for k, v in zip("abcd", (0.1, 0.5, 0.9, 0.3))]
    cand = [{"key": k, "s": v + 0.1} for k, v in zip("abcd", (0.1, 0.5, 0.9, 0.3))]
    shuffled = [base[2], base[0], base[3], base[1]]
    assert paired_delta(cand, shuffled, Statistic("s")) == paired_delta(cand, base, Statistic("s"))
    # a sample only one side scored is left out
    out = paired_delta(cand + [{"key": "z", "s": 1.0}], base[:3], Statistic("s"))
    assert out["n"] == 3 and out["delta"] == pytest.approx(0.1)


def test_identical_models_are_within_noise():
    same = [{"key": i, "s": v} for i, v in enumerate(np.linspace(0, 1, 50))]
    out = paired_delta(same, same, Statistic("s"))
    assert out["delta"] == 0 and out["delta_ci95"] == [0, 0]
    assert out["significant"] is False and out["better"] is None and out["p_value"] == 1.0
    assert paired_delta(same, [], Statistic("s"))["n"] == 0


def test_latency_lower_is_better_and_percentile_deltas():
    rng = np.random.default_rng(2)
    base = rng.lognormal(5, 0.2, size=60)
    slower = [{"key": i, "ms": b * 1.3} for i, b in enumerate(base)]
    out = paired_delta(slower, [{"key": i, "ms": b} for i, b in enumerate(base)],
                       Statistic("ms", "percentile", q=95), lower_is_better=True)
    assert out["delta"] > 0 and out["significant"] and out["better"] is False


def test_warnings_and_straddling():
    assert stats.warning(6) == "too few held-out samples to decide (n=6, fewer than 100)"
    assert stats.warning(99, "tasks").startswith("too few tasks to decide")
    assert stats.warning(100) is None and stats.warning(None) is None
    assert stats.straddles([0.7, 0.9], 0.8) and not stats.straddles([0.81, 0.9], 0.8)
    assert not stats.straddles(None, 0.8) and not stats.straddles([0.8, 0.9], 0.8)


def test_heldout_split_grows_to_enough_samples_within_the_cap():
    from training.curation import split

    files = [(i / 100, 10) for i in range(100)]  # 100 files of 10 samples, scores 0.00 .. 0.99
    held = split.choose_heldout(files, 0.10, min_samples=200, max_share=0.25)
    assert sum(held) == 20 and held[:20] == [True] * 20 and not any(held[20:])  # 10% -> 200 samples
    held = split.choose_heldout(files, 0.10, min_samples=50, max_share=0.25)
    assert sum(held) == 10  # the 10% already hold more than 50
    held = split.choose_heldout(files, 0.10, min_samples=1000, max_share=0.25)
    assert sum(held) == 25  # capped at a quarter of the samples
    assert not any(split.choose_heldout(files, 0.0, min_samples=200))  # rate 0: nothing held out
    # growing follows the hash order: a file is added only after every file with a lower score
    scrambled = [(s, n) for s, n in reversed(files)]
    assert split.choose_heldout(scrambled, 0.10, 200) == list(reversed(split.choose_heldout(files, 0.10, 200)))
    assert split.indicative({"overall": 300, "agents": 19, "types": 20}) == ["agents"]
