"""Running untrusted programs (model completions plus their tests): one sandbox per sample.

Each sample gets its own session and process group, a temp work dir (a size-capped tmpfs in its own mount
namespace where the kernel allows), no network (its own network namespace; Landlock also denies TCP), its own PID
namespace (so a detached child dies with the sample), rlimits on CPU, memory, processes, files and file size, an
unprivileged uid when the harness runs as root, and Landlock denying writes outside the work dir and signals to
processes outside the sandbox. The child reports which layers it got (`SampleResult.layers`); success needs the
explicit `PASS <nonce>` marker written after the program returned, never exit status 0 alone.

Speed: each worker slot keeps a zygote, a `python -I -S -B sandbox_boot.py --zygote` that has done its imports and
joined the slot's cgroups once; a sample is a fresh fork of it that then builds every layer above itself, exactly as
a freshly started interpreter would (no interpreter start, no imports, no per-sample cgroup migration).
"""
from __future__ import annotations

import json
import math
import os
import queue
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

BOOT = Path(__file__).with_name("sandbox_boot.py")
TAIL_BYTES = 4096


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0
    memory_bytes: int = 1 << 30
    nproc: int = 32
    fsize_bytes: int = 16 << 20
    nofile: int = 256
    tmpfs_bytes: int = 64 << 20

    @property
    def cpu_s(self) -> int:
        return int(math.ceil(self.timeout_s)) + 1


@dataclass
class SampleResult:
    passed: bool
    outcome: str  # passed | failed | timeout | error
    error: str | None
    duration_s: float
    exit_code: int | None
    layers: dict = field(default_factory=dict)


def _tail_line(path: Path) -> str | None:
    """The last non-empty line of a (possibly huge) output file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def _read_marker(fd: int) -> list[str]:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while len(b"".join(chunks)) < 65536:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks).decode("utf-8", "replace").splitlines()


class Sandbox:
    """A pool of sandbox slots; `run(program)` executes one program, `run_many` several concurrently."""

    def __init__(self, limits: Limits | None = None, workers: int | None = None, root: Path | str | None = None,
                 cgroups: bool = True):
        self.limits = limits or Limits()
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._root = Path(tempfile.mkdtemp(prefix="blackroad-sandbox-", dir=root))
        os.chmod(self._root, 0o755)
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.workers):
            self._slots.put(slot)
        # One uid per slot, from a range far above any real user, so RLIMIT_NPROC counts only that sample.
        self._uid_base = 1_900_000_000 + (os.getpid() % 100_000) * 64 if os.geteuid() == 0 else None
        self._cgroups = _CgroupSet(self.limits, self.workers) if cgroups else None
        self._zygotes: dict[int, _Zygote] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        for zygote in self._zygotes.values():
            zygote.close()
        self._zygotes.clear()
        shutil.rmtree(self._root, ignore_errors=True)
        if self._cgroups:
            self._cgroups.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, program: str) -> SampleResult:
        slot = self._slots.get()
        try:
            return self._run_in_slot(program, slot)
        finally:
            self._slots.put(slot)

    def run_many(self, programs: Iterable[str], on_result: Callable[[int, SampleResult], None] | None = None,
                 cancel: threading.Event | None = None) -> list[SampleResult | None]:
        """Run programs concurrently (one per slot); results in input order (None where cancelled)."""
        programs = list(programs)
        results: list[SampleResult | None] = [None] * len(programs)

        def one(index: int) -> None:
            if cancel is not None and cancel.is_set():
                return
            results[index] = self.run(programs[index])
            if on_result:
                on_result(index, results[index])

        with ThreadPoolExecutor(self.workers) as pool:
            for future in [pool.submit(one, i) for i in range(len(programs))]:
                future.result()
        return results

    def _zygote(self, slot: int) -> "_Zygote":
        zygote = self._zygotes.get(slot)
        if zygote is None or not zygote.alive():
            if zygote is not None:
                zygote.close()
            zygote = self._zygotes[slot] = _Zygote(self._root, self._cgroups.procs_files(slot) if self._cgroups else [])
        return zygote

    def _run_in_slot(self, program: str, slot: int) -> SampleResult:
        with self._lock:
            self._counter += 1
            number = self._counter
        sample_dir = self._root / f"s{number}"
        workdir = sample_dir / "work"
        workdir.mkdir(parents=True)
        os.chmod(sample_dir, 0o755)
        uid = self._uid_base + slot if self._uid_base is not None else None
        if uid is not None:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        (sample_dir / "program.py").write_text(program, encoding="utf-8")
        os.chmod(sample_dir / "program.py", 0o644)
        nonce = secrets.token_hex(16)
        nonce_r, nonce_w = os.pipe()
        marker_r, marker_w = os.pipe()
        os.write(nonce_w, nonce.encode() + b"\n")
        os.close(nonce_w)
        lim = self.limits
        cfg = {"workdir": str(workdir), "program": str(sample_dir / "program.py"), "cwd": str(sample_dir),
               "uid": uid, "cpu_s": lim.cpu_s, "memory_bytes": lim.memory_bytes, "nproc": lim.nproc,
               "fsize_bytes": lim.fsize_bytes, "nofile": lim.nofile, "tmpfs_bytes": lim.tmpfs_bytes,
               "cgroup_procs": self._cgroups.procs_files(slot) if self._cgroups else []}
        start = time.perf_counter()
        timed_out = False
        try:
            with open(sample_dir / "stdout", "wb") as out, open(sample_dir / "stderr", "wb") as err:
                fds = [nonce_r, out.fileno(), err.fileno(), marker_w]
                zygote = self._zygote(slot)
                try:
                    pid = zygote.spawn(cfg, fds)
                except (OSError, RuntimeError):  # it died since its last sample: once more with a new one
                    zygote.close()
                    zygote = self._zygote(slot)
                    pid = zygote.spawn(cfg, fds)
            os.close(marker_w)
            marker_w = -1
            code = zygote.wait_exit(lim.timeout_s + 0.5)  # the same budget as when each sample started an interpreter
            if code is _TIMEOUT:
                timed_out = True
                _kill_group(pid)
                code = zygote.wait_exit(30.0)
            _kill_group(pid)  # whatever the program left behind in its group
            if self._cgroups:
                self._cgroups.kill(slot, spare=zygote.pid)
            if code is _TIMEOUT:  # the zygote no longer answers: start a new one for the next sample
                zygote.close()
                code = None
            lines = _read_marker(marker_r)
        finally:
            os.close(nonce_r)
            os.close(marker_r)
            if marker_w >= 0:
                os.close(marker_w)
        duration = time.perf_counter() - start
        layers = {}
        if lines:
            try:
                layers = json.loads(lines[0]).get("layers", {})
            except (ValueError, AttributeError):
                layers = {}
        if self._cgroups and layers.get("cgroup") is True:
            layers["cgroup"] = self._cgroups.describe()
        passed = f"PASS {nonce}" in lines[1:]
        error_line = _tail_line(sample_dir / "stderr")
        shutil.rmtree(sample_dir, ignore_errors=True)
        if passed:
            return SampleResult(True, "passed", None, duration, code, layers)
        if timed_out or code == 128 + signal.SIGXCPU or code == -signal.SIGXCPU:
            return SampleResult(False, "timeout", f"timed out after {lim.timeout_s:g} s", duration, code, layers)
        if error_line and error_line.startswith("AssertionError"):
            return SampleResult(False, "failed", error_line, duration, code, layers)
        if not error_line:
            error_line = (f"exited with status {code} before the test code reported success" if code in (0, None)
                          or code < 128 else f"killed by signal {code - 128}")
        return SampleResult(False, "error", error_line, duration, code, layers)


_TIMEOUT = object()


class _Zygote:
    """One slot's pre-started boot process (sandbox_boot.zygote), driven over a SOCK_SEQPACKET socket pair: each
    sample is a fork of it; its answers wake us the moment the sample exits (no polling sleeps)."""

    def __init__(self, cwd: Path, cgroup_procs: list[str]):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        zcfg = {"control_fd": theirs.fileno(), "cgroup_procs": cgroup_procs}
        try:
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", str(BOOT), "--zygote", json.dumps(zcfg)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         pass_fds=(theirs.fileno(),), start_new_session=True, cwd=str(cwd))
        finally:
            theirs.close()
        self.pid = self.proc.pid
        reply = self._recv(30.0)
        if reply != b"ready":
            self.close()
            raise RuntimeError(f"the sandbox zygote did not start: {reply!r}")

    def _recv(self, timeout: float):
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        if not poller.poll(timeout * 1000):
            return _TIMEOUT
        try:
            return self.sock.recv(4096)
        except OSError:
            return b""

    def alive(self) -> bool:
        return self.sock.fileno() >= 0 and self.proc.poll() is None

    def spawn(self, cfg: dict, fds: list[int]) -> int:
        socket.send_fds(self.sock, [json.dumps(cfg).encode()], fds)
        reply = self._recv(30.0)
        if not isinstance(reply, bytes) or not reply.startswith(b"pid "):
            self.close()
            raise RuntimeError(f"the sandbox zygote did not fork: {reply!r}")
        return int(reply[4:])

    def wait_exit(self, timeout: float):
        """The sample's exit status (negative: killed by that signal), _TIMEOUT, or None if the zygote died."""
        reply = self._recv(timeout)
        if reply is _TIMEOUT:
            return reply
        if reply.startswith(b"exit "):
            return int(reply[5:])
        self.close()
        return None

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.sock.close()  # EOF: the zygote exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _CgroupSet:
    """Per-slot pids and memory cgroups nested under the harness's own (v2 unified, or v1 hierarchies), where
    writable; otherwise inactive and the results say so."""

    def __init__(self, limits: Limits, slots: int):
        self.dirs: dict[int, list[Path]] = {}
        self.mode = None
        self.limits = limits
        try:
            self._setup(slots)
        except OSError:
            self.close()
            self.dirs = {}

    def _own(self) -> dict[str, str]:
        out = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
        return out

    def _setup(self, slots: int) -> None:
        own = self._own()
        tag = f"blackroad-sandbox-{os.getpid()}"
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").is_file():
            base = unified / own.get("", "/").lstrip("/")
            enabled = (base / "cgroup.subtree_control").read_text().split()
            if not {"pids", "memory"} <= set(enabled):
                return
            self.mode = "v2"
            for slot in range(slots):
                d = base / tag / f"slot{slot}"
                d.mkdir(parents=True)
                (d / "pids.max").write_text(str(self.limits.nproc + 1))  # + the slot's zygote
                (d / "memory.max").write_text(str(self.limits.memory_bytes))
                (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
                self.dirs[slot] = [d]
            return
        roots = {c: Path("/sys/fs/cgroup") / c for c in ("pids", "memory")}
        if not all((r / "cgroup.procs").is_file() for r in roots.values()):
            return
        self.mode = "v1"
        for slot in range(slots):
            made = []
            for c, root in roots.items():
                d = root / own.get(c, "/").lstrip("/") / tag / f"slot{slot}"
                d.mkdir(parents=True)
                made.append(d)
                if c == "pids":
                    (d / "pids.max").write_text(str(self.limits.nproc + 1))  # + the slot's zygote
                else:
                    (d / "memory.limit_in_bytes").write_text(str(self.limits.memory_bytes))
            self.dirs[slot] = made

    def procs_files(self, slot: int) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.get(slot, [])]

    def describe(self) -> dict:
        return {"version": self.mode, "pids_max": self.limits.nproc, "memory_max": self.limits.memory_bytes,
                "shared_with": "the slot's zygote (1 more pid allowed for it; its memory after start counts)"}

    def kill(self, slot: int, spare: int | None = None) -> None:
        """Kill every process in the slot's cgroups but `spare` (the slot's zygote, which lives there)."""
        for d in self.dirs.get(slot, []):
            kill_file = d / "cgroup.kill"
            if spare is None and kill_file.exists():
                kill_file.write_text("1")
                continue
            for _ in range(3):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split() if int(p) != spare]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    _kill_pid(pid)

    def close(self) -> None:
        for made in self.dirs.values():
            for d in made:
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except OSError:
                        time.sleep(0.02)
                try:
                    d.parent.rmdir()
                except OSError:
                    pass


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
