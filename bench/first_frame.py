"""Time to the studio's first frame in a real terminal (tmux), against a bare Textual app, side by side.

Each run starts a fresh process in a 140x42 tmux session and polls capture-pane every 10 ms until the tab bar
(ours) or the bare app's label shows. Ours runs on the seeded studio workspace and on a new folder (where the demo
seeding starts in a worker after the first paint). Prints the medians and the ratio ours / bare.

    .venv/bin/python bench/first_frame.py [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "ui")]

from tmux_driver import Tmux  # noqa: E402

BARE = ("from textual.app import App\nfrom textual.widgets import Footer, Header, Static\n"
        "class Bare(App):\n    def compose(self):\n        yield Header()\n        yield Static('bare-first-frame')\n"
        "        yield Footer()\nBare().run()\n")


def first_frame(command: list[str], marker: str) -> float:
    term = Tmux(command)
    try:
        return term.wait_for(marker, timeout=30)
    finally:
        term.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from studio_seed import build

    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        seeded = build(Path(tmp) / "seeded")
        cases = {"bare textual app": ([py, "-c", BARE], "bare-first-frame"),
                 "studio, seeded workspace": ([py, "-m", "app.cli", "--workspace", str(seeded)], "1 Repos")}
        times: dict[str, list[float]] = {name: [] for name in cases}
        times["studio, new workspace"] = []
        for n in range(args.runs):
            for name, (cmd, marker) in cases.items():
                times[name].append(first_frame(cmd, marker))
            fresh = Path(tmp) / f"fresh-{n}"
            times["studio, new workspace"].append(
                first_frame([py, "-m", "app.cli", "--workspace", str(fresh)], "1 Repos"))
    bare = statistics.median(times["bare textual app"])
    print(f"first frame in tmux 140x42, {args.runs} runs each (median, min..max):")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:28s} {med * 1000:7.0f} ms  ({min(values) * 1000:.0f}..{max(values) * 1000:.0f})"
              f"  ratio to bare {med / bare:.2f}")


if __name__ == "__main__":
    main()
