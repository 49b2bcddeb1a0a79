"""Where a curation's CPU goes, and what no change to our own Python can take away: the goals' floors on this machine.

    .venv/bin/python bench/curate_floor.py [--workspace DIR] [--repeat 5]

One process, process CPU time, over every `.py` file of this interpreter's standard library that curation processes
(read in place, never written):
- the stages of `process_file` (tree-sitter parse and unit walk, token counts with the base's tokenizer, the secrets
  scan, MinHash keys, samples, JSON), timed by wrapping each stage's function;
- floors, each call alone on the same files: tree-sitter's parse of each file and the base's pre-tokenizer words
  of each distinct line (the regex a GPT-2 style count cannot skip), library calls no Python of ours can speed up;
  and for comparison our secrets scan (our regexes, detect-secrets' plugins on candidate lines);
- what a fresh process pays before any file (the one-changed-file floor): the interpreter, and importing each heavy
  library the `curate` command needs, each in its own fresh interpreter and then all of them in one (medians of
  --repeat), plus loading the base's tokenizer.
Anchors: the goals of issue 20, 300 files/s end to end on 2 cores (so the files' CPU must fit in
2 x files / 300 seconds) and 0.5 s for one changed file; the script prints each floor's share of its budget.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

IMPORTS = ("typer", "numpy", "sqlite_utils", "detect_secrets.core.plugins.util", "tokenizers",
           "tree_sitter_language_pack", "app.cli")


def corpus() -> tuple[list[tuple[str, Path]], int]:
    """(the .py files curation processes, how many files bench/curate.py's copy holds: what files/s counts)."""
    from training.curation import files

    root = Path(sysconfig.get_paths()["stdlib"])
    out, scanned = [], 0
    for entry in files.walk(root):
        rel = entry.relpath
        if "site-packages/" in rel or "__pycache__/" in rel or rel.endswith(".pyc"):
            continue        # what bench/curate.py leaves out of its copy
        scanned += 1
        if not entry.is_symlink and files.language_of(rel) == "python" and files.drop_reason_by_path(rel) is None:
            out.append((rel, Path(entry.path)))
    return out, scanned


def stages(paths, tokenizer_dir: str) -> tuple[float, dict[str, float]]:
    """(process CPU of process_file over all files, CPU per stage)."""
    from training.curation import curate as engine
    from training.curation.file_cache import FileResult

    spent: dict[str, float] = defaultdict(float)

    def timed(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - t
        setattr(owner, name, wrapper)

    for owner, name, label in ((engine.snippets, "parse", "tree-sitter parse + unit walk"),
                               (engine, "apply_limits", "token counts"), (engine.secrets, "scan", "secrets scan"),
                               (engine.dedup, "keys", "MinHash + exact keys"), (engine, "unit_samples", "samples"),
                               (engine, "_JSON", "JSON lines"), (FileResult, "pack_units", "packing"),
                               (engine.files, "drop_reason_by_content", "filters")):
        timed(owner, name, label)
    engine._init_worker(engine.CurateConfig(tokenizer_dir=tokenizer_dir))
    engine.process_file("r", paths[0][0], str(paths[0][1]))       # warm: grammar, detect-secrets, counters
    spent.clear()
    t = time.process_time()
    for rel, path in paths:
        engine.process_file("r", rel, str(path))
    return time.process_time() - t, dict(spent)


def floors(paths, tokenizer_dir: str) -> dict[str, float]:
    """CPU of the bare library calls on the same files, in a fresh state (no cache of ours)."""
    from training.curation import samples, secrets, snippets
    from training.tokenizer import load

    texts = [p.read_text(encoding="utf-8", errors="replace") for _, p in paths]
    parser = snippets.parser_for("python")
    encoded = [t.encode("utf-8") for t in texts]
    t = time.process_time()
    for src in encoded:
        parser.parse(src)
    parse = time.process_time() - t
    counter = samples.TokenCounter(load(tokenizer_dir))
    pattern = counter.words[0] if counter.words else samples._GPT2_ASCII_WORDS
    lines = {piece for text in texts for piece in counter.pieces(text)}
    t = time.process_time()
    for piece in lines:
        pattern.findall(piece)
    words = time.process_time() - t
    secrets.scan("warm = 'up'\n", "x.py")
    t = time.process_time()
    for (rel, _), text in zip(paths, texts):
        secrets.scan(text, rel)
    scan = time.process_time() - t
    return {"tree-sitter parse alone": parse, "word split of each distinct line": words, "our secrets scan": scan}


def fresh_seconds(code: str, repeat: int) -> float:
    """Median wall seconds of `python -c code` in a fresh interpreter."""
    def run() -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - t
    return statistics.median(run() for _ in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "blackroad-bench-curate-ws")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(1, str(ROOT / "bench"))
    from curate import workspace

    from app.forks import DEMO_BASE_ID
    from training.tokenizer import load

    ws = workspace(args.workspace)
    store = ws.store()
    tokenizer_dir = store.model(DEMO_BASE_ID)["path"]
    store.close()
    paths, scanned = corpus()
    n = len(paths)
    budget = 2 * scanned / 300      # CPU seconds two cores give in the time 300 files/s allows
    print(f"{scanned} files of the standard library, {n} of them .py files curation processes; 300 files/s on 2 "
          f"cores leaves {budget:.1f} CPU s for everything")
    total, spent = stages(paths, tokenizer_dir)
    print(f"process_file, all stages: {total:.2f} CPU s, {total / n * 1000:.2f} ms a file "
          f"({total / budget:.2f}x the budget)")
    for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {label:32s} {seconds:6.2f} s  {seconds / total:5.1%}")
    print(f"  {'the rest (read, hash, filters)':32s} {total - sum(spent.values()):6.2f} s")
    floor = floors(paths, tokenizer_dir)
    print("each call alone:")
    for label, seconds in floor.items():
        print(f"  {label:32s} {seconds:6.2f} s  {seconds / budget:5.1%} of the budget")
    libraries = floor["tree-sitter parse alone"] + floor["word split of each distinct line"]
    print(f"  the two library floors together  {libraries:6.2f} s  {libraries / budget:5.1%} of the budget; the "
          f"rest of process_file has {budget - libraries:.2f} s left and takes {total - libraries:.2f} s "
          f"({(total - libraries) / max(budget - libraries, 1e-9):.2f}x)")
    print("one changed file: what a fresh `curate` process pays before its first file (goal 0.5 s end to end)")
    base = fresh_seconds("pass", args.repeat)
    print(f"  {'the interpreter, started and stopped':47s} {base:.3f} s")
    for module in IMPORTS:
        print(f"  import {module:40s} {fresh_seconds(f'import {module}', args.repeat) - base:.3f} s")
    together = fresh_seconds("import " + ", ".join(IMPORTS), args.repeat) - base
    print(f"  {'all of them in one process':47s} {together:.3f} s")
    t = time.perf_counter()
    load.__wrapped__(tokenizer_dir)
    tok = time.perf_counter() - t
    print(f"  {'load the base tokenizer':47s} {tok:.3f} s")
    fixed = base + together + tok
    print(f"  floor before the first file: {fixed:.3f} s ({fixed / 0.5:.2f}x the goal)")


if __name__ == "__main__":
    main()
