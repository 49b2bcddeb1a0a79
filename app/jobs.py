"""Long work as a child process that streams JSON lines: start it, hand each event to a callback, cancel it.

Used by training, the pipeline and the TUI. The child gets its own session (process group), so a cancel reaches
torchrun and its workers alike with SIGTERM ("checkpoint and stop"), and a crash of the child never takes the
caller down. Lines that are not JSON become `{"event": "log", "message": line}`; stderr goes to a file beside the
log. One GPU job at a time: `gpu_lock` holds an flock on a file in the workspace, passed to the child so the lock
lives exactly as long as the job does, even when the parent dies first.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from app.errors import StudioError

FINAL_EVENTS = ("finished", "failed", "cancelled")


@dataclass
class JobResult:
    returncode: int
    final: dict | None             # the last finished/failed/cancelled event, None when the child died without one
    events: int = 0
    stderr_tail: str = ""
    cancelled: bool = False        # the caller asked for a cancel
    pid: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.final is not None:
            return self.final["event"]
        return "interrupted"


@contextlib.contextmanager
def gpu_lock(path: Path | str, label: str) -> Iterator[int]:
    """Hold the workspace's GPU lock for `label`; refuse clearly when another job holds it. Yields the fd."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another job"
            raise StudioError(f"the GPU is busy with {holder}; one GPU job at a time: wait for it or cancel it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{label} (pid {os.getpid()})".encode(), 0)
        yield fd
    finally:
        os.close(fd)


class Job:
    """One child process; `run` blocks until it ends, calling `on_event` for each JSON line it prints."""

    def __init__(self, argv: list[str], *, log_dir: Path | str, env: dict | None = None, cwd: Path | str | None = None,
                 pass_fds: tuple[int, ...] = ()):
        self.argv, self.log_dir, self.cwd, self.pass_fds = argv, Path(log_dir), cwd, pass_fds
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self._term_sent = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.log_dir / "stderr.log", "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.cwd, start_new_session=True, pass_fds=self.pass_fds)
        except OSError as exc:
            self._stderr.close()
            raise StudioError(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None

    def terminate(self) -> None:
        """SIGTERM to the child's process group: the job checkpoints and stops."""
        if self.proc and self.proc.poll() is None and not self._term_sent:
            self._term_sent = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def run(self, on_event: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> JobResult:
        if self.proc is None:
            self.start()
        lines: queue.Queue = queue.Queue()

        def reader() -> None:
            for raw in self.proc.stdout:
                lines.put(raw)
            lines.put(None)

        threading.Thread(target=reader, daemon=True).start()
        final, count, asked = None, 0, False
        try:
            while True:
                if cancel is not None and cancel.is_set() and not asked:
                    asked = True
                    self.terminate()
                try:
                    raw = lines.get(timeout=0.1)
                except queue.Empty:
                    continue
                if raw is None:
                    break
                event = _parse(raw)
                if event is None:
                    continue
                count += 1
                if event.get("event") in FINAL_EVENTS:
                    final = event
                if on_event is not None:
                    on_event(event)
        except KeyboardInterrupt:
            asked = True
            self.terminate()
            for raw in iter(lines.get, None):
                event = _parse(raw)
                if event and event.get("event") in FINAL_EVENTS:
                    final = event
        except BaseException:
            self.terminate()  # a failing callback must not leave the child running unobserved
            raise
        finally:
            code = self.proc.wait()
            self._stderr.close()
        return JobResult(code, final, count, _tail(self.log_dir / "stderr.log"), asked, self.proc.pid)


def _parse(raw: bytes) -> dict | None:
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"event": "log", "message": text}
    return value if isinstance(value, dict) and "event" in value else {"event": "log", "message": text}


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - limit))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); look at its state where /proc exists
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True

