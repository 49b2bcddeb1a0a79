"""Secret scanning, precision and recall: ours (training.curation.secrets.scan, as curation runs it) against
detect-secrets' default scan (`scan_file` under `default_settings()`) of the same files, side by side in one run.

    .venv/bin/python bench/secret_scan.py [--stdlib DIR] [--workers 2]

Precision: the interpreter's standard library, the files curation would scan (its path and content filters).
It holds no real credential, so every finding is a false positive: counted as findings, as distinct lines, as
files. Recall: the planted credentials of tests/test_secrets.py (every kind, fresh random values), one module
each; a plant is caught when a finding lies on its line and, for ours, its value is gone from the redacted text.
Exits 1 unless ours has fewer false-positive lines than detect-secrets and catches every planted kind.
"""
from __future__ import annotations

import argparse
import os
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))


def stdlib_files(root: Path) -> list[tuple[str, Path]]:
    """(relpath, path) of every file curation would scan there (site-packages left out: not the stdlib)."""
    from training.curation import files

    out = []
    for entry in files.walk(str(root)):
        rel = entry.relpath
        if entry.is_symlink or "site-packages/" in rel or "dist-packages/" in rel or not rel.endswith(".py"):
            continue
        if files.drop_reason_by_path(rel) is not None:
            continue
        data = Path(entry.path).read_bytes()
        if files.drop_reason_by_content(data)[0] is not None:
            continue
        out.append((rel, Path(entry.path)))
    return out


def ours(batch: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    from training.curation.secrets import scan

    found = []
    for rel, path in batch:
        text = Path(path).read_bytes().decode("utf-8", "replace")
        found.extend((rel, f.line, f.kind) for f in scan(text, rel).findings)
    return found


def theirs(batch: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    found = []
    with default_settings():
        for rel, path in batch:
            found.extend((rel, s.line_number, s.type) for s in scan_file(path))
    return found


def run(fn, items: list[tuple[str, str]], workers: int) -> tuple[list, float]:
    start = time.perf_counter()
    chunks = [items[i::workers * 8] for i in range(workers * 8)]
    with ProcessPoolExecutor(workers) as pool:
        found = [f for part in pool.map(fn, chunks) for f in part]
    return found, time.perf_counter() - start


def precision(root: Path, workers: int) -> tuple[dict, dict]:
    items = [(rel, str(p)) for rel, p in stdlib_files(root)]
    out = {}
    for name, fn in (("ours", ours), ("detect-secrets", theirs)):
        found, seconds = run(fn, items, workers)
        out[name] = {"findings": len(found), "lines": len({(r, ln) for r, ln, _ in found}),
                     "files": len({r for r, _, _ in found}), "seconds": seconds,
                     "kinds": Counter(k for _, _, k in found).most_common(8)}
    return out, {"files": len(items), "root": str(root)}


def recall() -> dict:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    from test_secrets import planted
    from training.curation.secrets import scan

    kinds: dict[str, dict[str, bool]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as tmp, default_settings():
        for i, (kind, line, values) in enumerate(planted()):
            text = "def configure():\n" + line + "\n    return None\n"
            lines = range(2, 2 + line.count("\n") + 1)
            result = scan(text, f"plant_{i}.py")
            hit_ours = any(f.line in lines for f in result.live) and not any(v in result.text for v in values)
            path = Path(tmp) / f"plant_{i}.py"
            path.write_text(text)
            hit_theirs = any(s.line_number in lines for s in scan_file(str(path)))
            seen = kinds.setdefault(kind, {"ours": True, "detect-secrets": True})
            seen["ours"] &= hit_ours
            seen["detect-secrets"] &= hit_theirs
    return kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stdlib", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    prec, corpus = precision(args.stdlib.resolve(), args.workers)
    print(f"precision corpus: {corpus['files']} files of {corpus['root']} (no real credentials: every finding is a "
          f"false positive)")
    for name, r in prec.items():
        print(f"  {name:<15} {r['findings']:5d} findings on {r['lines']:5d} lines in {r['files']:4d} files  "
              f"({r['seconds']:.1f} s, {args.workers} workers)")
        print(f"  {'':<15} top kinds: {', '.join(f'{k} {n}' for k, n in r['kinds'])}")
    ratio = prec["ours"]["lines"] / max(prec["detect-secrets"]["lines"], 1)
    print(f"false-positive lines, ours/detect-secrets: {ratio:.3f}")
    kinds = recall()
    missed = {who: sorted(k for k, v in kinds.items() if not v[who]) for who in ("ours", "detect-secrets")}
    print(f"recall: {len(kinds)} planted kinds; ours caught {len(kinds) - len(missed['ours'])}, detect-secrets "
          f"{len(kinds) - len(missed['detect-secrets'])}")
    for who, names in missed.items():
        if names:
            print(f"  missed by {who}: {', '.join(names)}")
    if missed["ours"] or ratio >= 1.0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
