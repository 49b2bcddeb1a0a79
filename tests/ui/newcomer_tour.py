"""The studio as a newcomer meets it, in a real terminal (tmux, 160x48), only by keys: a fresh workspace (the demo is
seeded) → curate → train with the CPU-sized defaults → export (merging first) → eval → checklist → a completion,
capturing the screen at each step into docs/screenshots/newcomer/NN-step.txt (plain text, read by eye).

    .venv/bin/python tests/ui/newcomer_tour.py [--workspace DIR] [--out docs/screenshots/newcomer]

Long: seeding forks the embedded model (~30 s), training, export and eval run on the CPU (minutes on 2 cores)."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from tmux_driver import Tmux  # noqa: E402

MODEL = "research/newbie/coder"
SETTLE_S = 2.0


class Tour:
    def __init__(self, term: Tmux, out: Path):
        self.term, self.out, self.n = term, out, 0
        self.t0 = time.monotonic()

    def capture(self, name: str) -> None:
        self.n += 1
        path = self.out / f"{self.n:02d}-{name}.txt"
        path.write_text(self.term.capture())
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # --out may lie outside the checkout
        print(f"{time.monotonic() - self.t0:7.1f} s  {shown}", flush=True)

    def wait(self, text: str, timeout: float) -> None:
        self.term.wait_for(text, timeout=timeout, poll=0.5)

    def reach(self, text: str, timeout: float, name: str) -> None:
        """Wait for `text` on the screen, then capture it as step `name` once the panes have had SETTLE_S to
        reload (a finished job refreshes the tables and previews just after its status line)."""
        self.wait(text, timeout)
        time.sleep(SETTLE_S)
        self.capture(name)

    def keys(self, *keys: str, pause: float = 0.4) -> None:
        for key in keys:
            self.term.send(key)
            time.sleep(pause)

    def type(self, text: str) -> None:
        self.term.send("-l", text)
        time.sleep(0.4)

    def palette(self, command: str, expect: str) -> None:
        """ctrl+p, the command's words, Enter on the best match; `expect` is text only the palette's list shows (a
        button's label on the pane behind would match before the list is drawn)."""
        self.keys("C-p")
        self.wait("Search for commands", 30)
        self.type(command)
        self.wait(expect, 30)
        self.keys("Down", "Enter")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "blackroad-newcomer" / "ws")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "newcomer")
    a = ap.parse_args()
    if a.workspace.exists():
        shutil.rmtree(a.workspace)
    a.out.mkdir(parents=True, exist_ok=True)
    for old in a.out.glob("*.txt"):
        old.unlink()
    term = Tmux([sys.executable, "-m", "app.cli", "--workspace", str(a.workspace)], width=160, height=48)
    tour = Tour(term, a.out)
    try:
        tour.reach("seeding the demo workspace", 60, "seeding")
        tour.reach("agent-hub", 600, "repos")
        tour.palette("curate all", "Curate all repos")
        tour.reach("snapshot snap-", 900, "curated")
        tour.keys("2")
        tour.reach("secret findings", 60, "snippets")
        tour.keys("3")
        tour.reach("fits", 300, "training-cpu-defaults")
        tour.keys("Tab", "Tab", "Tab")  # tab bar → base → snapshot → the new model's id
        tour.type(MODEL)
        tour.keys("Escape")
        tour.palette("start training", "Start training")
        tour.reach("step 1/", 600, "training")
        tour.reach("finished:", 1800, "trained")
        tour.keys("5", "Tab")  # Lineage, the tree
        tour.keys("Down", "Down", "Enter")  # the tree's cursor starts on no node: the fork, then its child
        tour.reach("next: Merge", 60, "lineage-model-steps")
        tour.palette("export the selected", "Export the selected model")
        tour.reach(f"export q8_0 {MODEL}: done", 1800, "exported")
        tour.palette("evaluate the selected model: internal", "the internal suite on it")
        tour.reach(f"eval internal {MODEL}: done", 2400, "evaluated")
        tour.palette("checklist of the selected", "Checklist of the selected model")
        tour.reach("for internal", 120, "checklist")
        tour.keys("4")
        tour.wait("fine-tuned", 60)
        tour.palette("suggest now", "ask both models")
        tour.wait("first token", 300)
        term.wait_gone("no suggestion yet", 300)  # both sides: the base answers after the fine-tuned model
        tour.reach("first token", 10, "completion")
        tour.keys("C-q")
        term.wait_closed(30)
    except AssertionError as exc:
        tour.capture("failed")
        raise SystemExit(f"the tour stopped: {str(exc).splitlines()[0]}")
    finally:
        term.kill()


if __name__ == "__main__":
    main()
