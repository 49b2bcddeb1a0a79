"""The training memory estimate against the measured peak RSS of the training job, on the CPU.

The demo workspace (embedded SmolLM2-135M fork, the sample repos curated into a snapshot) is trained for two
optimizer steps at each of a few sizes (seq len x micro batch, one micro batch per step). Each run goes through
app.training_jobs.train, the same entry point as the Training pane and the CLI, in its own process, so the peak
resident set of its training child (getrusage RUSAGE_CHILDREN) belongs to that run alone. Beside it: the estimate
the launch checks before it starts (train(..., dry_run=True)), its parts, and the ratio estimate / measured.

    flock /tmp/bench.lock .venv/bin/python bench/estimate.py [--sizes 256x1,256x4,512x2,1024x1] [--workspace DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # the repo first, as the studio itself runs
GIB = 1024 ** 3
DEFAULT_SIZES = "256x1,256x4,512x2,1024x1"

MEASURE = """
import json, resource, sys
from app.workspace import Workspace
from app.training_jobs import train
ws = Workspace.open(sys.argv[1])
seq, micro = int(sys.argv[5]), int(sys.argv[6])
out = train(ws, sys.argv[2], sys.argv[3], sys.argv[4], max_steps=2, seq_len=seq, batch_size=micro,
            micro_batch_size=micro, checkpoint_every=1000)
print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  "status": out["status"], "tokens_per_second": out.get("tokens_per_second")}))
"""


def prepare(root: Path) -> tuple[str, str]:
    """The demo base and a snapshot of the sample repos in the workspace at `root` (kept between runs)."""
    from app.curation import curate
    from app.demo import _registered, sample_repos
    from app.demo_seed import seed_demo
    from app.forks import DEMO_BASE_ID
    from app.workspace import Workspace

    ws = Workspace.open(root)
    seed_demo(ws)
    snap = curate(ws, repos=_registered(ws, sample_repos()), base_id=DEMO_BASE_ID)["snapshot"]
    return DEMO_BASE_ID, snap


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="seq-len x micro-batch pairs, comma-separated")
    ap.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "blackroad-bench-estimate")
    a = ap.parse_args()
    from app.training_jobs import train
    from app.workspace import Workspace

    base, snap = prepare(a.workspace)
    ws = Workspace.open(a.workspace)
    print(f"load average {open('/proc/loadavg').read().split()[:3]} · base {base} · snapshot {snap}")
    print(f"{'seq x micro':>12} {'estimate GiB':>13} {'measured GiB':>13} {'est/meas':>9}  parts (GiB)")
    rows = []
    for n, size in enumerate(a.sizes.split(",")):
        seq, micro = (int(x) for x in size.split("x"))
        model_id = f"research/bench/estimate-{os.getpid()}-{n}"
        plan = train(ws, base, snap, model_id, max_steps=2, seq_len=seq, batch_size=micro, micro_batch_size=micro,
                     dry_run=True)["memory_estimate"]
        proc = subprocess.run([sys.executable, "-c", MEASURE, str(a.workspace), base, snap, model_id, str(seq),
                               str(micro)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{size}: the training run failed: {proc.stderr.strip().splitlines()[-1:]}")
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        ratio = plan["total"] / measured["peak_rss"]
        parts = " ".join(f"{k} {plan[k] / GIB:.2f}" for k in ("weights", "activations", "logits", "runtime")
                         if k in plan)
        print(f"{size:>12} {plan['total'] / GIB:>13.2f} {measured['peak_rss'] / GIB:>13.2f} {ratio:>9.3f}  {parts}")
        rows.append({"size": size, "estimate": plan["total"], "measured": measured["peak_rss"], "ratio": ratio,
                     "plan": {k: v for k, v in plan.items() if isinstance(v, (int, float))}})
    worst = max(abs(r["ratio"] - 1) for r in rows)
    print(f"largest difference {worst:.1%} (target: within 15%) · load average "
          f"{open('/proc/loadavg').read().split()[:3]}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
