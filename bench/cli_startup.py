"""Time `blackroad-studio --help` against a bare interpreter start, side by side (medians of N runs).

Goal (issue 2): --help median under 0.5 s on the 2-core dev machine, with no torch/transformers/llama_cpp import.
Usage: .venv/bin/python bench/cli_startup.py [--runs 15]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "blackroad-studio")
    bare, helps = [], []
    for _ in range(args.runs):  # interleaved so both see the same machine load
        bare.append(_time([sys.executable, "-c", "pass"]))
        helps.append(_time([exe, "--help"]))
    b, h = statistics.median(bare), statistics.median(helps)
    print(f"python -c pass          median {b * 1000:7.1f} ms")
    print(f"blackroad-studio --help median {h * 1000:7.1f} ms  (goal < 500 ms)")
    print(f"ratio help/bare: {h / b:.2f}")


if __name__ == "__main__":
    main()
