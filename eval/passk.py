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


def pass_at_ks(results: Iterable[dict], ks: Iterable[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean pass@k over tasks from per-sample rows {task_id, passed}; only the k every task has samples for."""
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in results:
        counts = per_task[row["task_id"]]
        counts[0] += 1
        counts[1] += bool(row["passed"])
    if not per_task:
        return {}
    fewest = min(n for n, _ in per_task.values())
    return {f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in per_task.values()) / len(per_task)
            for k in ks if k <= fewest}
