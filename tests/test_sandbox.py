"""Hostile completions against the HumanEval sandbox: each fails or is contained, the host is untouched, and the
harness finishes every other sample (the canonical solutions interleaved with them still pass)."""
import os
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from eval.humaneval import check_completions, load_problems
from eval.sandbox import Limits

TASK = "HumanEval/0"


@pytest.fixture(scope="module")
def problems():
    return load_problems()


def _body(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n"


def _leftover_processes(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def test_hostile_completions_fail_or_are_contained(problems, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    os.chmod(outside, 0o777)
    os.chmod(victim, 0o666)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    hostile = {
        "endless loop": "while True:\n    pass",
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "memory bomb": "x = []\nwhile True:\n    x.append(bytearray(50 << 20))",
        "write outside": f"open({str(outside / 'pwned.txt')!r}, 'w').write('x')\nreturn []",
        "delete outside": f"import os\nos.remove({str(victim)!r})\nreturn []",
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')",
        "kill parent and group": f"import os, signal\nos.kill(os.getppid(), 9)\nos.killpg(0, 9)\nos.kill({os.getpid()}, 9)",
        "exit 0 early": "import sys\nsys.exit(0)",
        "os._exit 0 early": "import os\nos._exit(0)",
        "flood stdout": "while True:\n    print('x' * 65536)",
        "detached child": ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                           "        time.sleep(60)\n    os._exit(0)\nreturn None"),
        "fill the disk": ("i = 0\nwhile True:\n    with open(f'fill{i}', 'wb') as fh:\n"
                          "        fh.write(b'0' * (8 << 20))\n    i += 1"),
        "forged marker": "print('PASS 0')\nimport sys\nsys.stdout.flush()\nraise SystemExit(0)",
    }
    rows = []
    for i, (name, code) in enumerate(hostile.items()):
        rows.append({"task_id": TASK, "completion": _body(code), "name": name})
        good = f"HumanEval/{i + 1}"
        rows.append({"task_id": good, "completion": problems[good]["canonical_solution"], "name": "canonical"})
    out = check_completions(rows, problems, limits=Limits(timeout_s=2.0), workers=2)
    by_name = {}
    for row, result in zip(rows, out["results"]):
        by_name.setdefault(row["name"], []).append(result)
    assert len(out["results"]) == len(rows)
    assert all(r["passed"] for r in by_name["canonical"]), by_name["canonical"]
    for name in hostile:
        (result,) = by_name[name]
        assert not result["passed"] and result["outcome"] in ("failed", "timeout", "error"), (name, result)
    assert by_name["endless loop"][0]["outcome"] == "timeout"
    assert by_name["exit 0 early"][0]["error"] == "SystemExit: 0"
    assert "before the test code reported success" in by_name["os._exit 0 early"][0]["error"]
    assert "Permission denied" in by_name["write outside"][0]["error"]
    assert "No space left" in by_name["fill the disk"][0]["error"] or "too large" in by_name["fill the disk"][0]["error"]
    # the host is untouched
    assert victim.read_text() == "keep me" and not (outside / "pwned.txt").exists()
    with pytest.raises(socket.timeout, match="timed out"):
        listener.accept()
    listener.close()
    assert not _leftover_processes("blackroad-sandbox-"), _leftover_processes("blackroad-sandbox-")
    assert out["metrics"]["pass@1"] == pytest.approx(len(by_name["canonical"]) / 14)


@pytest.mark.skipif(os.geteuid() != 0, reason="the full set of layers needs root or user namespaces")
def test_layers_are_reported(problems):
    out = check_completions([{"task_id": TASK, "completion": problems[TASK]["canonical_solution"]}], problems)
    layers = out["sandbox"]
    assert out["results"][0]["passed"]
    for name in ("pid_namespace", "net_namespace", "mount_namespace"):
        assert layers[name] is True, layers
    assert layers["rlimits"]["RLIMIT_NPROC"] == Limits().nproc
    assert isinstance(layers["unprivileged_uid"], int) and layers["unprivileged_uid"] > 0
    assert layers["landlock"]["fs_writes_outside_workdir"] == "denied", layers


def test_cancel_stops_the_remaining_samples(problems):
    cancel = threading.Event()
    rows = [{"task_id": TASK, "completion": problems[TASK]["canonical_solution"]}] * 6

    def progress(event):
        cancel.set()

    out = check_completions(rows, problems, workers=1, progress=progress, cancel=cancel)
    assert out["cancelled"] and 1 <= out["samples"] < 6


def test_a_dead_zygote_is_replaced():
    from eval.sandbox import Sandbox

    with Sandbox(workers=1) as sandbox:
        assert sandbox.run("x = 1\n").passed
        os.kill(sandbox._zygotes[0].pid, 9)
        result = sandbox.run("x = 1\n")
        assert result.passed and result.layers["pid_namespace"] is True, result
