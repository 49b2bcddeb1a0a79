"""A real terminal for the studio: tmux sessions driven with send-keys and read with capture-pane."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid


class Tmux:
    def __init__(self, command: list[str], env: dict[str, str] | None = None, width: int = 140, height: int = 42):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (apt-get install tmux)")
        self.name = f"studio-{uuid.uuid4().hex[:8]}"
        self.base = ["tmux", "-L", self.name, "-f", "/dev/null"]  # a private server: no one else's settings
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        # COLUMNS/LINES inherited from a test runner would override the terminal's real size
        shell = f"env -u COLUMNS -u LINES TERM=xterm-256color {exports} {shlex.join(command)}"
        self.started = time.monotonic()
        subprocess.run([*self.base, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                        shell], check=True)
        subprocess.run([*self.base, "resize-window", "-t", self.name, "-x", str(width), "-y", str(height)],
                       capture_output=True)

    def capture(self) -> str:
        out = subprocess.run([*self.base, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def alive(self) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def send(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 30.0, poll: float = 0.01) -> float:
        """Seconds since the session started when `text` first showed on screen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.capture():
                return time.monotonic() - self.started
            time.sleep(poll)
        raise AssertionError(f"{text!r} did not show within {timeout:.0f} s; screen:\n{self.capture()}")

    def wait_gone(self, text: str, timeout: float = 30.0, poll: float = 0.5) -> None:
        """Until `text` is no longer on screen."""
        deadline = time.monotonic() + timeout
        while text in self.capture():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on screen after {timeout:.0f} s; screen:\n{self.capture()}")
            time.sleep(poll)

    def wait_closed(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)
