"""The studio in a real terminal: open it with the console command, visit every pane by key, quit with ctrl+q."""
from __future__ import annotations

import shutil
import sys

import pytest
from tmux_driver import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

# What each pane shows on the seeded workspace once it has loaded.
MARKERS = {"1": "agent-hub", "2": "secret findings", "3": "training runs", "4": "def fibonacci",
           "5": "derivation: forks", "6": "better, 0 worse", "7": "not ready for internal"}


def test_open_visit_every_pane_and_quit(studio_ws):
    term = Tmux([sys.executable, "-m", "app.cli", "--workspace", str(studio_ws.root)])
    try:
        term.wait_for("1 Repos", timeout=30)
        for key, marker in MARKERS.items():
            term.send(key)
            term.wait_for(marker, timeout=30)
        term.send("C-q")
        assert term.wait_closed(), term.capture()
    finally:
        term.kill()
