"""Uncertainty for every score: 95% intervals of a metric over its samples, and paired intervals of the delta
between two models scored on the same samples. Pure numpy (no scipy at run time).

- A pass rate (every per-sample score 0 or 1, the statistic a mean) gets the Wilson score interval, which is exact
  enough at small n and never leaves [0, 1].
- Any other statistic (a mean of edit similarities, a p95 of latencies, tokens per second as a ratio of sums) gets a
  seeded percentile bootstrap over samples: resample the samples with replacement, recompute the statistic,
  take the 2.5th and 97.5th percentiles. The seed is fixed, so the same scores always give the same interval.
- A delta (candidate - base) resamples the samples *together* (the same indices for both models), which removes
  the between-sample variance that the two models share; it is significant when its interval excludes 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
SEED = 20261202
MIN_SAMPLES_TO_DECIDE = 100   # fewer held-out samples (or tasks, or contexts) than this: say so beside the number
MIN_CATEGORY_SAMPLES = 20     # a category with fewer samples is indicative only


@dataclass(frozen=True)
class Statistic:
    """How a metric is computed from per-sample scores: the mean of `field`, its `q`-th percentile, or the ratio
    sum(field) / sum(denominator)."""
    field: str
    kind: str = "mean"            # mean | percentile | ratio
    q: float | None = None        # percentile: 0..100
    denominator: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("mean", "percentile", "ratio"):
            raise ValueError(f"unknown statistic kind {self.kind!r}")
        if (self.kind == "percentile") != (self.q is not None) or (self.kind == "ratio") != bool(self.denominator):
            raise ValueError(f"statistic {self}: a percentile needs q, a ratio a denominator, nothing else")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.field, self.denominator) if self.denominator else (self.field,)

    def has(self, sample: dict) -> bool:
        """Whether a sample has a number in every column (a failed or cancelled sample may not)."""
        return all(isinstance(sample.get(c), (int, float)) and not isinstance(sample.get(c), bool)
                   for c in self.columns)

    def matrix(self, samples: Sequence[dict]) -> np.ndarray:
        """[n, columns] float array of the samples that have every column (others are left out)."""
        rows = [[s[c] for c in self.columns] for s in samples if self.has(s)]
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(self.columns))

    def apply(self, data: np.ndarray) -> np.ndarray | float:
        """The statistic over axis -2 of data [..., n, columns] (a float for one sample set, else an array)."""
        if self.kind == "mean":
            out = data[..., 0].mean(axis=-1)
        elif self.kind == "percentile":
            out = np.percentile(data[..., 0], self.q, axis=-1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = data[..., 0].sum(axis=-1) / data[..., 1].sum(axis=-1)
        return float(out) if np.ndim(out) == 0 else out



def z_value(level: float = LEVEL) -> float:
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of a proportion successes / n."""
    if n <= 0:
        raise ValueError("a proportion needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..n (got {successes} of {n})")
    z = z_value(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(finite, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(data: np.ndarray | Sequence[float], statistic: Statistic | None = None, *,
                 resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> tuple[float, float]:
    """Seeded percentile-bootstrap interval of a statistic (default: the mean) over samples [n] or [n, columns]."""
    statistic = statistic or Statistic("value")
    arr = np.asarray(data, dtype=np.float64)
    arr = arr.reshape(len(arr), -1)
    if len(arr) == 0:
        raise ValueError("a bootstrap needs at least one sample")
    boot = statistic.apply(arr[_indices(len(arr), resamples, seed)])
    return _quantiles(np.asarray(boot), level)


def is_binary(values: np.ndarray) -> bool:
    return values.size > 0 and bool(np.all((values == 0) | (values == 1)))


def summarize(samples: Sequence[dict], statistic: Statistic, *, resamples: int = RESAMPLES, seed: int = SEED,
              level: float = LEVEL) -> dict:
    """{value, ci95, n, method} of one metric over per-sample scores; value None when no sample has it."""
    data = statistic.matrix(samples)
    n = len(data)
    if n == 0:
        return {"value": None, "ci95": None, "n": 0, "method": None}
    value = statistic.apply(data)
    if statistic.kind == "mean" and is_binary(data[:, 0]):
        ci, method = wilson(int(data[:, 0].sum()), n, level), "wilson"
    else:
        ci, method = bootstrap_ci(data, statistic, resamples=resamples, seed=seed, level=level), "bootstrap"
    return {"value": _finite(value), "ci95": [_finite(ci[0]), _finite(ci[1])], "n": n, "method": method}


def paired_delta(candidate: Sequence[dict], base: Sequence[dict], statistic: Statistic, *, key: str = "key",
                 lower_is_better: bool = False, resamples: int = RESAMPLES, seed: int = SEED,
                 level: float = LEVEL) -> dict:
    """candidate - base over the samples both scored (paired by `key`), with a paired-bootstrap interval.

    {delta, delta_ci95, n, significant, better, p_value}: significant when the interval excludes 0; better is True
    or False only when significant (lower is better for latencies); p_value is the two-sided bootstrap p."""
    by_key = {s[key]: s for s in base if key in s}
    pairs = [(c, by_key[c[key]]) for c in candidate if key in c and c[key] in by_key]
    pairs = [(c, b) for c, b in pairs if statistic.has(c) and statistic.has(b)]
    cand, basem = statistic.matrix([c for c, _ in pairs]), statistic.matrix([b for _, b in pairs])
    n = len(pairs)
    if n == 0:
        return {"delta": None, "delta_ci95": None, "n": 0, "significant": False, "better": None, "p_value": None}
    delta = statistic.apply(cand) - statistic.apply(basem)
    idx = _indices(n, resamples, seed)
    boot = np.asarray(statistic.apply(cand[idx]) - statistic.apply(basem[idx]))
    lo, hi = _quantiles(boot, level)
    finite = boot[np.isfinite(boot)]
    if finite.size and np.all(finite == 0):
        p_value = 1.0
    elif finite.size:
        p_value = min(1.0, 2 * min(float(np.mean(finite <= 0)), float(np.mean(finite >= 0))))
    else:
        p_value = None
    significant = bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))
    better = None if not significant else ((delta < 0) if lower_is_better else (delta > 0))
    return {"delta": _finite(delta), "delta_ci95": [_finite(lo), _finite(hi)], "n": n, "significant": significant,
            "better": better, "p_value": p_value}


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def straddles(ci: Sequence[float] | None, threshold: float) -> bool:
    """Whether an interval holds the threshold strictly inside it (the data cannot tell which side it is on)."""
    return bool(ci) and ci[0] is not None and ci[1] is not None and ci[0] < threshold < ci[1]


def warning(n: int | None, what: str = "held-out samples") -> str | None:
    """The one-line warning beside a number decided on too few samples (None when there are enough)."""
    if n is None or n >= MIN_SAMPLES_TO_DECIDE:
        return None
    return f"too few {what} to decide (n={n}, fewer than {MIN_SAMPLES_TO_DECIDE})"
