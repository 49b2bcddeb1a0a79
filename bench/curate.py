"""Curation throughput on this interpreter's standard library, as the user runs it and in-process, side by side.

    .venv/bin/python bench/curate.py [--repeat 3] [--workspace DIR] [--anchor-files 150] [--baseline CHECKOUT]

Copies the standard library (without site-packages and __pycache__) to a temp folder, forks the embedded SmolLM2
into a bench workspace (once; its tokenizer counts the tokens), then measures, alternating the two in every round:
- cli: the `blackroad-studio --workspace WS curate --path CORPUS --json` command in a subprocess (the console
  script's entry point, `app.cli.run`, from this checkout), wall time from its start to its exit, peak RSS of it and
  its worker processes (os.wait4);
- in-process: `app.curation.curate(ws, paths=[CORPUS])` in a fresh Python process, the call alone timed inside it
  (its imports and the interpreter's start and exit left out), peak RSS the same way;
for a full run (an empty per-file cache, every file processed) and an incremental one (one file changed: a function
appended, everything else from the cache). Both report the worker path they took (start method, processes); the
run fails if the two differ. Then the studio's path: one changed file at a time in a process that has curated before
(the TUI curates in its own long-running process), --repeat times. With --baseline, another checkout's CLI runs
alternate with ours in every round, and its studio path follows ours: the before and after of a change, side by
side on the same machine and corpus. Anchor: detect-secrets `scan_file` with default settings (measured here at 13
files/s) against our secrets scanner alone, on the same sample of files. Medians over --repeat rounds; the load
average at the start and the end (the figures are only comparable on a quiet machine).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# import from the checkout's root first, as the studio itself runs
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
# What the `blackroad-studio` console script runs (pyproject: app.cli:run), resolved from this checkout.
CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'blackroad-studio'; from app.cli import run; run()"]


def copy_stdlib(dest: Path) -> tuple[int, int]:
    src = Path(sysconfig.get_paths()["stdlib"])
    ignore = shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc")
    shutil.copytree(src, dest, ignore=ignore, symlinks=True)
    files = [p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


def workspace(root: Path):
    from app.forks import DEMO_BASE_ID, fork
    from app.workspace import Workspace

    ws = Workspace.open(root)
    store = ws.store()
    have = store.model(DEMO_BASE_ID) is not None
    store.close()
    if not have:
        print("forking the embedded SmolLM2 (once, ~30 s)...", file=sys.stderr, flush=True)
        fork(ws, "embedded:smollm2-135m", DEMO_BASE_ID)
    return ws


def reset(ws) -> None:
    from app.repos import cache_path

    for p in cache_path(ws).parent.glob("files.db*"):
        p.unlink()
    shutil.rmtree(ws.dir("datasets"), ignore_errors=True)


def timed(cmd: list[str], log: Path, cwd: Path = ROOT) -> tuple[float, int, float, str]:
    """(wall seconds from start to exit, peak RSS in bytes of the process and its workers, their CPU seconds (user +
    system; on a busy machine the figure that says most), stdout)."""
    with tempfile.TemporaryFile() as out, open(log, "ab") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} exited {proc.returncode}; see {log}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, text


def run_cli(ws_root: Path, corpus: Path, log: Path, code: Path = ROOT) -> dict:
    """The CLI of the checkout at `code` (this one, or --baseline's: `-c` imports from the working folder)."""
    wall, rss, cpu, out = timed(CLI + ["--workspace", str(ws_root), "curate", "--path", str(corpus), "--json"], log,
                                cwd=code)
    return {"seconds": wall, "rss": rss, "cpu": cpu, "result": json.loads(out)}


def run_in_process(ws_root: Path, corpus: Path, log: Path) -> dict:
    wall, rss, cpu, out = timed([sys.executable, str(Path(__file__).resolve()), "--one-call", str(ws_root),
                                 str(corpus)], log)
    got = json.loads(out)
    return {"seconds": got["seconds"], "process_seconds": wall, "rss": rss, "cpu": cpu, "result": got["result"]}


def one_call(ws_root: str, corpus: str) -> None:
    """--one-call: time app.curation.curate alone in this fresh process; print {"seconds", "result"}."""
    from app.curation import curate
    from app.workspace import Workspace

    ws = Workspace.open(Path(ws_root))
    t = time.perf_counter()
    result = curate(ws, paths=[corpus])
    seconds = time.perf_counter() - t
    sys.stdout.write(json.dumps({"seconds": seconds, "result": result}, default=str) + "\n")


def _append_function(target: Path, tag: str) -> None:
    """The incremental runs' change: a function appended to one file (long enough to pass the token limits)."""
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"\n\ndef bench_added_{tag}(values):\n    total = 0\n    for v in values:\n"
                 f"        total += v * {len(tag) + 2}\n    return total\n")


def warm_calls(code: str, ws_root: str, corpus: str, n: str) -> None:
    """--warm-calls: the studio's path (the TUI re-curates in its own long-running process) with the checkout at
    `code`: one untimed call after a change warms this process up, then each of n timed calls follows one changed
    file; print {"seconds": [...], "result"}."""
    sys.path.insert(0, code)
    from app.curation import curate
    from app.workspace import Workspace

    ws = Workspace.open(Path(ws_root))
    tag = Path(code).name.replace("-", "_") + f"_{time.time_ns()}"
    _append_function(Path(corpus) / "abc.py", f"warm_up_{tag}")
    curate(ws, paths=[corpus])
    seconds, result = [], None
    for i in range(int(n)):
        _append_function(Path(corpus) / "abc.py", f"warm_{tag}_{i}")
        t = time.perf_counter()
        result = curate(ws, paths=[corpus])
        seconds.append(time.perf_counter() - t)
        assert result["files_reprocessed"] == 1, result["files_reprocessed"]
    sys.stdout.write(json.dumps({"seconds": seconds, "result": result}, default=str) + "\n")


def anchor(corpus: Path, n: int) -> dict:
    """detect-secrets scan_file (default plugins and filters) vs our scanner, same files, side by side."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    from training.curation import secrets

    every = sorted(corpus.rglob("*.py"))
    files = every[:: max(1, len(every) // n)][:n]
    with default_settings():
        t = time.perf_counter()
        theirs = sum(1 for f in files for _ in scan_file(str(f)))
        ds_s = time.perf_counter() - t
    secrets.scan("warm = 'up'\n", "x.py")
    t = time.perf_counter()
    ours = sum(len(secrets.scan(f.read_text(encoding="utf-8", errors="replace"), f.name).findings) for f in files)
    ours_s = time.perf_counter() - t
    return {"files": len(files), "detect_secrets_files_per_s": len(files) / ds_s,
            "ours_files_per_s": len(files) / ours_s, "detect_secrets_findings": theirs, "our_findings": ours}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def summary(runs: list[dict], files: int) -> dict:
    secs = [r["seconds"] for r in runs]
    med = statistics.median(secs)
    return {"seconds": secs, "median_s": med, "files_per_s": files / med,
            "peak_rss_mb": max(r["rss"] for r in runs) / 2 ** 20,
            "cpu_s_median": statistics.median(r["cpu"] for r in runs)}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one-call":
        return one_call(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 6 and sys.argv[1] == "--warm-calls":
        return warm_calls(*sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "blackroad-bench-curate-ws")
    ap.add_argument("--anchor-files", type=int, default=150)
    ap.add_argument("--corpus", type=Path, help="Curate this folder instead of a copy of the standard library "
                                                 "(it must hold abc.py, which the incremental runs change).")
    ap.add_argument("--baseline", type=Path, help="Another checkout (a git worktree of an earlier commit): its CLI "
                                                   "and its studio path run alternately with ours, side by side.")
    args = ap.parse_args()
    base = args.baseline.resolve() if args.baseline else None

    ws = workspace(args.workspace)
    tmp = Path(tempfile.mkdtemp(prefix="bench-curate-"))
    log = tmp / "stderr.log"
    load_start = loadavg()
    try:
        if args.corpus:
            corpus = tmp / "corpus"
            shutil.copytree(args.corpus, corpus, symlinks=True)
        else:
            corpus = tmp / "stdlib"
            copy_stdlib(corpus)
        found = [p for p in corpus.rglob("*") if p.is_file() and not p.is_symlink()]
        n_files, n_bytes = len(found), sum(p.stat().st_size for p in found)
        print(f"corpus: {n_files} files, {n_bytes / 1e6:.1f} MB ({corpus}); load average {load_start}",
              file=sys.stderr)
        runs: dict[str, list[dict]] = {"cli_full": [], "in_process_full": [], "cli_incr": [], "in_process_incr": [],
                                       "baseline_cli_full": [], "baseline_cli_incr": []}
        ours = (("cli_full", run_cli), ("in_process_full", run_in_process))
        theirs = (("baseline_cli_full", lambda *a: run_cli(*a, code=base)),) if base else ()
        for i in range(args.repeat):
            for name, fn in ours + theirs:
                reset(ws)
                runs[name].append(fn(ws.root, corpus, log))
                print(f"round {i + 1} {name}: {runs[name][-1]['seconds']:.2f} s, CPU {runs[name][-1]['cpu']:.1f} s "
                      f"(load {loadavg()})",
                      file=sys.stderr, flush=True)
        target = corpus / "abc.py"
        ours = (("cli_incr", run_cli), ("in_process_incr", run_in_process))
        theirs = (("baseline_cli_incr", lambda *a: run_cli(*a, code=base)),) if base else ()
        for i in range(args.repeat):
            for name, fn in ours + theirs:
                _append_function(target, f"{name}_{i}")
                runs[name].append(fn(ws.root, corpus, log))
                assert runs[name][-1]["result"]["files_reprocessed"] == 1, runs[name][-1]["result"]["files_reprocessed"]
                print(f"round {i + 1} {name}: {runs[name][-1]['seconds']:.3f} s, CPU {runs[name][-1]['cpu']:.2f} s "
                      f"(load {loadavg()})",
                      file=sys.stderr, flush=True)
        paths = {name: {json.dumps(r["result"].get("workers"), sort_keys=True) for r in rs} for name, rs in runs.items()
                 if not name.startswith("baseline")}
        if paths["cli_full"] != paths["in_process_full"] or paths["cli_incr"] != paths["in_process_incr"]:
            raise SystemExit(f"the CLI and the in-process call took different worker paths: {paths}")
        warm, warm_base = [], []
        for code, into in ((ROOT, warm), (base, warm_base)) if base else ((ROOT, warm),):
            _, _, _, out = timed([sys.executable, str(Path(__file__).resolve()), "--warm-calls", str(code),
                                  str(ws.root), str(corpus), str(args.repeat)], log)
            into.extend(json.loads(out)["seconds"])
            print(f"studio (warm process) incremental, {code}: {', '.join(f'{x:.3f}' for x in into)} s",
                  file=sys.stderr)
        anc = anchor(corpus, args.anchor_files)
        last = runs["cli_full"][-1]["result"]
        scanned = last["files_scanned"]
        cli_full, inp_full = summary(runs["cli_full"], scanned), summary(runs["in_process_full"], scanned)
        cli_incr, inp_incr = summary(runs["cli_incr"], scanned), summary(runs["in_process_incr"], scanned)
        result = {
            "files_scanned": scanned, "files_kept": last["files_kept"], "mb_scanned": n_bytes / 1e6,
            "snippets": last["snippets"], "samples": last["samples"], "tokens": last["tokens"],
            "workers": last.get("workers"),
            "cli_full": cli_full, "in_process_full": inp_full, "cli_incremental": cli_incr,
            "in_process_incremental": inp_incr,
            "studio_incremental": {"seconds": warm, "median_s": statistics.median(warm)},
            "in_process_full_process_s": [r["process_seconds"] for r in runs["in_process_full"]],
            "ratio_cli_vs_in_process_full_s": cli_full["median_s"] / inp_full["median_s"],
            "ratio_cli_vs_in_process_incremental_s": cli_incr["median_s"] / inp_incr["median_s"],
            "anchor": anc,
            "ratio_cli_full_vs_detect_secrets_files_per_s": cli_full["files_per_s"] / anc["detect_secrets_files_per_s"],
            "ratio_our_secrets_vs_detect_secrets_files_per_s":
                anc["ours_files_per_s"] / anc["detect_secrets_files_per_s"],
            "load_average_start": load_start, "load_average_end": loadavg(),
        }
        if base:
            result["baseline"] = {"checkout": str(base),
                                  "cli_full": summary(runs["baseline_cli_full"], scanned),
                                  "cli_incremental": summary(runs["baseline_cli_incr"], scanned),
                                  "studio_incremental": {"seconds": warm_base,
                                                         "median_s": statistics.median(warm_base)}}
        print(f"full, CLI start to exit:   {cli_full['median_s']:.2f} s  {cli_full['files_per_s']:.0f} files/s  "
              f"{n_bytes / 1e6 / cli_full['median_s']:.2f} MB/s  CPU {cli_full['cpu_s_median']:.1f} s  "
              f"peak RSS {cli_full['peak_rss_mb']:.0f} MB  (goal >= 300 files/s)")
        print(f"full, in-process call:     {inp_full['median_s']:.2f} s  {inp_full['files_per_s']:.0f} files/s  "
              f"CPU of its process {inp_full['cpu_s_median']:.1f} s  peak RSS {inp_full['peak_rss_mb']:.0f} MB;  "
              f"CLI / in-process {result['ratio_cli_vs_in_process_full_s']:.2f}")
        print(f"incremental, CLI:          {cli_incr['median_s']:.3f} s  (one changed file; goal < 0.5 s)  "
              f"CPU {cli_incr['cpu_s_median']:.2f} s  peak RSS {cli_incr['peak_rss_mb']:.0f} MB")
        print(f"incremental, in-process:   {inp_incr['median_s']:.3f} s  CPU of its process "
              f"{inp_incr['cpu_s_median']:.2f} s;  CLI / in-process "
              f"{result['ratio_cli_vs_in_process_incremental_s']:.2f}")
        print(f"incremental, in the studio: {result['studio_incremental']['median_s']:.3f} s  "
              f"(a warm process, as the TUI re-curates after a change; median of {len(warm)})")
        print(f"worker path (both): {result['workers']}")
        print(f"anchor: detect-secrets scan_file {anc['detect_secrets_files_per_s']:.1f} files/s; our scanner "
              f"{anc['ours_files_per_s']:.1f} files/s; ratio {result['ratio_our_secrets_vs_detect_secrets_files_per_s']:.1f}x;"
              f" whole curation (CLI) vs detect-secrets alone {result['ratio_cli_full_vs_detect_secrets_files_per_s']:.1f}x")
        if base:
            b = result["baseline"]
            for label, new, old in (("full, CLI", cli_full["median_s"], b["cli_full"]["median_s"]),
                                    ("incremental, CLI", cli_incr["median_s"], b["cli_incremental"]["median_s"]),
                                    ("incremental, studio", result["studio_incremental"]["median_s"],
                                     b["studio_incremental"]["median_s"])):
                print(f"against the baseline, {label}: {new:.3f} s vs {old:.3f} s, ratio {new / old:.2f}")
        print(f"load average: {load_start} at the start, {result['load_average_end']} at the end")
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
