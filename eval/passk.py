"""pass@k with the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), computed as a product."""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass@k needs 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def per_task(results: Iterable[dict], ks: Iterable[int] = (1, 10, 100)) -> list[dict]:
    """One row per task, {key: task_id, pass@k: estimate...}, for the k every task has samples for (the samples a
    benchmark's interval is computed over: tasks, not completions, are the independent draws)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in results:
        tally = counts[row["task_id"]]
        tally[0] += 1
        tally[1] += bool(row["passed"])
    if not counts:
        return []
    fewest = min(n for n, _ in counts.values())
    usable = [k for k in ks if k <= fewest]
    return [{"key": task, **{f"pass@{k}": pass_at_k(n, c, k) for k in usable}} for task, (n, c) in counts.items()]


def pass_at_ks(results: Iterable[dict], ks: Iterable[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean pass@k over tasks from per-sample rows {task_id, passed}; only the k every task has samples for."""
    tasks = per_task(results, ks)
    names = [k for k in (tasks[0] if tasks else {}) if k != "key"]
    return {name: sum(t[name] for t in tasks) / len(tasks) for name in names}
