"""Curation throughput on this interpreter's standard library: full and incremental, against detect-secrets.

    .venv/bin/python bench/curate.py [--repeat 3] [--workspace DIR] [--anchor-files 150]

Copies the standard library (without site-packages and __pycache__) to a temp folder, forks the embedded SmolLM2
into a bench workspace (once; its tokenizer counts the tokens), then measures with app.curation.curate:
- full: an empty per-file cache, every file processed (files/s over files scanned, MB/s over bytes scanned);
- incremental: one file changed (a function appended), everything else from the cache;
- anchor: detect-secrets `scan_file` with default settings (what STACK.md measured at 13 files/s) against our
  secrets scanner alone, on the same sample of files, side by side.
Medians over --repeat runs; peak RSS of this process and of the worker processes.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def anchor(corpus: Path, n: int) -> dict:
    """detect-secrets scan_file (default plugins and filters) vs our scanner, same files, side by side."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    from training.curation import secrets

    files = sorted(corpus.rglob("*.py"))[:: max(1, len(sorted(corpus.rglob("*.py"))) // n)][:n]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "blackroad-bench-curate-ws")
    ap.add_argument("--anchor-files", type=int, default=150)
    args = ap.parse_args()

    from app.curation import curate

    ws = workspace(args.workspace)
    tmp = Path(tempfile.mkdtemp(prefix="bench-curate-"))
    try:
        corpus = tmp / "stdlib"
        n_files, n_bytes = copy_stdlib(corpus)
        print(f"corpus: {n_files} files, {n_bytes / 1e6:.1f} MB ({corpus})", file=sys.stderr)
        full, incr, last = [], [], None
        for i in range(args.repeat):
            reset(ws)
            t = time.perf_counter()
            last = curate(ws, paths=[str(corpus)])
            full.append(time.perf_counter() - t)
            print(f"full run {i + 1}: {full[-1]:.2f} s", file=sys.stderr, flush=True)
        target = corpus / "abc.py"
        for i in range(args.repeat):
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(f"\n\ndef bench_added_{i}(values):\n    total = 0\n    for v in values:\n"
                         f"        total += v * {i + 2}\n    return total\n")
            t = time.perf_counter()
            inc = curate(ws, paths=[str(corpus)])
            incr.append(time.perf_counter() - t)
            assert inc["files_reprocessed"] == 1, inc["files_reprocessed"]
            print(f"incremental run {i + 1}: {incr[-1]:.3f} s", file=sys.stderr, flush=True)
        anc = anchor(corpus, args.anchor_files)
        full_s, incr_s = statistics.median(full), statistics.median(incr)
        result = {
            "files_scanned": last["files_scanned"], "files_kept": last["files_kept"], "mb_scanned": n_bytes / 1e6,
            "snippets": last["snippets"], "samples": last["samples"], "tokens": last["tokens"],
            "full_s_median": full_s, "full_files_per_s": last["files_scanned"] / full_s,
            "full_mb_per_s": n_bytes / 1e6 / full_s, "incremental_s_median": incr_s,
            "peak_rss_mb_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_mb_workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "anchor": anc,
            "ratio_full_pipeline_vs_detect_secrets_files_per_s":
                (last["files_scanned"] / full_s) / anc["detect_secrets_files_per_s"],
            "ratio_our_secrets_vs_detect_secrets_files_per_s":
                anc["ours_files_per_s"] / anc["detect_secrets_files_per_s"],
        }
        print(f"full:        {full_s:.2f} s  {result['full_files_per_s']:.0f} files/s  "
              f"{result['full_mb_per_s']:.2f} MB/s  (goal >= 300 files/s)")
        print(f"incremental: {incr_s:.3f} s  (one changed file; goal < 0.5 s)")
        print(f"anchor: detect-secrets scan_file {anc['detect_secrets_files_per_s']:.1f} files/s; our scanner "
              f"{anc['ours_files_per_s']:.1f} files/s; ratio {result['ratio_our_secrets_vs_detect_secrets_files_per_s']:.1f}x;"
              f" whole curation vs detect-secrets alone {result['ratio_full_pipeline_vs_detect_secrets_files_per_s']:.1f}x")
        print(f"peak RSS: main {result['peak_rss_mb_main']:.0f} MB, largest worker {result['peak_rss_mb_workers']:.0f} MB")
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
