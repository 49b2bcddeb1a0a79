"""CPU options for serving, measured side by side: the GGUF type (Q8_0 and Q4_K_M as the demo exports them today,
Q4_0 which llama.cpp repacks at load for AVX2), threads, and batch size, on the editor's case of the latency suite:
a 32-token FIM completion after a one-line edit at the cursor (the KV cache holds the file), and the cold request
before it. Configurations are loaded at once and asked in turn on each context (rotating the order).

    flock /tmp/bench.lock .venv/bin/python bench/serve_cpu.py --source F16_OR_F32.gguf [--contexts 6]

The source is quantized to each type with llama.cpp's own quantizer (llama_model_quantize) into a temp folder.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the server runs llama.cpp
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.latency import make_contexts, percentile  # noqa: E402
from eval.llama_backend import LlamaBackend  # noqa: E402
from eval.prompts import completion_prompt, completion_stops  # noqa: E402



def quantize(source: Path, qtype: str, out: Path) -> Path:
    """The exporter's own llama.cpp route (a child process)."""
    from export.quantize import quantize as llama_quantize

    llama_quantize(source, out, qtype)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, required=True, help="an F16 or F32 GGUF of the model")
    ap.add_argument("--contexts", type=int, default=6)
    ap.add_argument("--configs", default="q8_0/2,q4_k_m/2,q4_0/2,q4_0/1,q4_0/2/b128",
                    help="TYPE/THREADS[/bBATCH], comma-separated; the first is the baseline")
    args = ap.parse_args()
    cores = os.cpu_count()
    texts = [p.read_text() for p in sorted((ROOT / "assets" / "sample-repos").rglob("*.py"))]
    with tempfile.TemporaryDirectory() as tmp:
        files, configs = {}, []
        for spec in args.configs.split(","):
            parts = spec.split("/")
            qtype, threads = parts[0], int(parts[1])
            batch = int(parts[2][1:]) if len(parts) > 2 else 512
            if qtype not in files:
                files[qtype] = quantize(args.source, qtype, Path(tmp) / f"{qtype}.gguf")
            backend = LlamaBackend(files[qtype], n_ctx=4096, n_threads=threads, n_batch=batch, n_ubatch=batch,
                                   prefill_chunk=256)
            backend.complete("def warm_up():\n", max_tokens=4, reuse=False)
            configs.append({"name": spec, "backend": backend, "cold": [], "edit": [], "edit_first": [],
                            "decode_tps": []})
        contexts = make_contexts(texts, configs[0]["backend"].count_tokens, args.contexts, tokens=(1024, 2048))
        load = os.getloadavg()
        for i, ctx in enumerate(contexts):
            order = configs[i % len(configs):] + configs[:i % len(configs)]
            for c in order:
                b = c["backend"]
                stops = completion_stops(b.fim)
                cold = b.complete(completion_prompt(ctx["prefix"], ctx["suffix"], b.fim), max_tokens=32, stop=stops,
                                  reuse=False)
                edit = b.complete(completion_prompt(ctx["prefix"] + "x", ctx["suffix"], b.fim), max_tokens=32,
                                  stop=stops, reuse=True)
                c["cold"].append(cold.ms_total)
                c["edit"].append(edit.ms_total)
                c["edit_first"].append(edit.ms_first_token or 0)
                if edit.tokens > 1:
                    c["decode_tps"].append((edit.tokens - 1) / ((edit.ms_total - edit.ms_first_token) / 1000))
            print(f"context {i + 1}/{len(contexts)} done", file=sys.stderr, flush=True)
        base = configs[0]
        rows = []
        for c in configs:
            row = {"config": c["name"], "edit_p50_ms": percentile(c["edit"], 50), "edit_p95_ms": percentile(c["edit"], 95),
                   "edit_first_token_p95_ms": percentile(c["edit_first"], 95),
                   "cold_p95_ms": percentile(c["cold"], 95),
                   "decode_tokens_per_s": percentile(c["decode_tps"], 50)}
            row["edit_p95_ratio_vs_" + base["name"]] = row["edit_p95_ms"] / percentile(base["edit"], 95)
            rows.append(row)
            c["backend"].close()
    print(json.dumps({"cores": cores, "contexts": len(contexts), "loadavg_before": load,
                      "loadavg_after": os.getloadavg(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                      "rows": rows}, indent=1, default=lambda v: round(v, 2)))
    for r in rows:
        print(f"{r['config']:<16} edit p50 {r['edit_p50_ms']:7.0f} ms  p95 {r['edit_p95_ms']:7.0f} ms  "
              f"first token p95 {r['edit_first_token_p95_ms']:6.0f} ms  cold p95 {r['cold_p95_ms']:7.0f} ms  "
              f"decode {r['decode_tokens_per_s']:5.1f} tok/s")


if __name__ == "__main__":
    main()
