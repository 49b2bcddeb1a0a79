"""The demo's wall time per step on this machine: a full run on a fresh workspace, then the same command again
(the resume path: every step found, verified and skipped), side by side, with the ratio of the two.

    .venv/bin/python bench/demo.py [--max-steps 6] [--workspace DIR]

Runs the real CLI (`blackroad-studio demo --json`) in a subprocess, as a new user would.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["seed", "curate", "train", "merge", "export", "eval-internal", "eval-general", "eval-humaneval", "eval-latency", "cards",
         "checklist"]


def run_demo(workspace: Path, max_steps: int) -> tuple[dict, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "app.cli", "--workspace", str(workspace), "demo", "--json",
                           "--max-steps", str(max_steps)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"demo failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-steps", type=int, default=4)
    ap.add_argument("--workspace", type=Path, default=None, help="default: a fresh temporary folder")
    args = ap.parse_args()
    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="bench-demo-")) / "ws"
    first, wall1 = run_demo(workspace, args.max_steps)
    second, wall2 = run_demo(workspace, args.max_steps)
    status = {s["name"]: s["status"] for s in second["pipeline"]["steps"]}
    print(f"demo --max-steps {args.max_steps} on {os.cpu_count()} cores, workspace {workspace}")
    print(f"{'step':<16}{'first run s':>12}{'second run s':>14}  second run")
    for name in ORDER:
        if name in first["timings"]:
            print(f"{name:<16}{first['timings'][name]:>12.1f}{second['timings'].get(name, 0):>14.1f}  "
                  f"{status.get(name, 'verified' if name in ('seed', 'curate') else '')}")
    print(f"{'total (wall)':<16}{wall1:>12.1f}{wall2:>14.1f}")
    print(f"ratio second/first: {wall2 / wall1:.3f}")
    for suite, metrics in (first["pipeline"].get("metrics") or {}).items():
        base = (first["pipeline"].get("baseline_metrics") or {}).get(suite)
        print(f"{suite}: candidate {json.dumps(metrics)[:200]}\n{'':<{len(suite)}}  base      {json.dumps(base)[:200]}")


if __name__ == "__main__":
    main()
