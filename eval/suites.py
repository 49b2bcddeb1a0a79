"""The evaluation suites and the direction of their metrics: defined once, for the pipeline, checklists, cards and
the UI alike. The order is the order the pipeline runs them in (cheapest signal first)."""
from __future__ import annotations

SUITES = ("internal", "general", "humaneval", "latency")  # general: the shipped general-code held-out set
LOWER_IS_BETTER_SUFFIXES = ("_ms",)  # latencies; every other metric (pass@k, scores, tokens/s) is better higher


def lower_is_better(metric: str) -> bool:
    return metric.endswith(LOWER_IS_BETTER_SUFFIXES)


def improvement(metric: str, delta: float | None) -> bool | None:
    """Whether a candidate-minus-base `delta` of `metric` is an improvement; None when there is no difference."""
    if not delta:
        return None
    return (delta < 0) == lower_is_better(metric)
