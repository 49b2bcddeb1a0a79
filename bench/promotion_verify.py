"""The promotion checklist's cost is re-hashing every artifact on disk. Time it against coreutils `sha256sum`
(the anchor; `openssl dgst -sha256` beside it, the OpenSSL code hashlib uses) on the same GGUF-sized file,
side by side (medians of interleaved runs, warm page cache):

1. `verify_artifact` on one file  vs  `sha256sum FILE`
2. the whole `checklist --to internal` of a seeded model whose GGUF is that file  vs  `sha256sum` of all its
   artifacts (what any verification must read at least)

Usage: .venv/bin/python bench/promotion_verify.py [--mib 512] [--runs 5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _t(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from app import evidence, promotion
    from app.cards import write_cards
    from app.workspace import Workspace
    from lineage_seed import RESEARCH, record_evals, seed
    from training.fileio import sha256_file, size_of

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        seeded = seed(ws)
        gguf = seeded["gguf"]
        with open(gguf, "wb") as fh:  # a GGUF-sized file of random bytes
            for _ in range(args.mib):
                fh.write(os.urandom(1 << 20))
        store = ws.store()
        store.add_artifact("gguf", gguf, sha256_file(gguf), size_of(gguf), model_id=RESEARCH, quant_type="q8_0")
        art = evidence.current_artifacts(store, RESEARCH, ("gguf",))[-1]
        store.close()
        record_evals(ws, seeded)
        now = dt.datetime.now(dt.timezone.utc)
        write_cards(ws, RESEARCH, now=now)
        store = ws.store()
        paths = [a["path"] for a in evidence.current_artifacts(store, RESEARCH) if a["kind"] != "lineage-card"]
        files = [str(p) for a in paths for p in ([Path(a)] if Path(a).is_file() else sorted(Path(a).rglob("*")))
                 if Path(p).is_file()]

        def ours_one():
            assert evidence.verify_artifact(store, art) is None

        def anchor_one():
            subprocess.run(["sha256sum", str(gguf)], check=True, stdout=subprocess.DEVNULL)

        def openssl_one():
            subprocess.run(["openssl", "dgst", "-sha256", str(gguf)], check=True, stdout=subprocess.DEVNULL)

        def ours_all():
            assert promotion.checklist(ws, RESEARCH, "internal", now=now)["ready"]

        def anchor_all():
            subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)

        for fn in (anchor_one, ours_one, ours_all, anchor_all, openssl_one):  # warm the page cache and imports
            fn()
        times: dict[str, list[float]] = {"ours_one": [], "anchor_one": [], "ours_all": [], "anchor_all": [],
                                         "openssl_one": []}
        for _ in range(args.runs):
            for name, fn in (("anchor_one", anchor_one), ("ours_one", ours_one), ("openssl_one", openssl_one),
                             ("anchor_all", anchor_all), ("ours_all", ours_all)):
                times[name].append(_t(fn))
        store.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    gib_s = args.mib / 1024
    print(f"file: {args.mib} MiB, {args.runs} interleaved runs, medians")
    print(f"sha256sum FILE                 {med['anchor_one']:.3f} s  ({gib_s / med['anchor_one']:.2f} GiB/s)")
    print(f"verify_artifact (ours)         {med['ours_one']:.3f} s  ({gib_s / med['ours_one']:.2f} GiB/s)")
    print(f"openssl dgst -sha256 FILE      {med['openssl_one']:.3f} s  ({gib_s / med['openssl_one']:.2f} GiB/s)")
    print(f"ratio ours/sha256sum: {med['ours_one'] / med['anchor_one']:.2f}   "
          f"ours/openssl: {med['ours_one'] / med['openssl_one']:.2f}")
    print(f"sha256sum of all artifacts     {med['anchor_all']:.3f} s")
    print(f"checklist --to internal (ours) {med['ours_all']:.3f} s")
    print(f"ratio checklist/sha256sum-all: {med['ours_all'] / med['anchor_all']:.2f}")


if __name__ == "__main__":
    main()
