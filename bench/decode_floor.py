"""The floor under a 32-token completion on this CPU: llama.cpp's own decode step, one token at a time, with greedy
sampling in C (no Python between tokens but the loop), against the same 32 tokens through llama-cpp-python's
`generate` as our backend runs them; same Llama instance, ~800-token context in the KV cache, interleaved.

    flock /tmp/bench.lock .venv/bin/python bench/decode_floor.py GGUF [--threads 2] [--rounds 3]

Prints ms per token for each and their ratio (generate / raw): how much of the decoding time is ours to win.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the server runs llama.cpp
ROOT = Path(__file__).resolve().parent.parent
TOKENS = 32


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gguf", type=Path)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import llama_cpp

    llm = llama_cpp.Llama(str(args.gguf), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                          verbose=False)
    text = (ROOT / "app" / "usage.py").read_text()
    tokens = llm.tokenize(text.encode())[:800]

    def through_generate() -> float:
        llm.reset()
        llm.eval(tokens[:-1])
        start, n = time.perf_counter(), 0
        for _ in llm.generate(tokens, temp=0.0, top_k=1, top_p=0.95, min_p=0.0, repeat_penalty=1.0):
            n += 1
            if n == TOKENS:
                break
        return (time.perf_counter() - start) / TOKENS * 1000

    def raw() -> float:
        llm.reset()
        llm.eval(tokens[:-1])
        sampler = llama_cpp.llama_sampler_init_greedy()
        one = (llama_cpp.llama_token * 1)()
        token = tokens[-1]
        start = time.perf_counter()
        for _ in range(TOKENS):
            one[0] = token
            llama_cpp.llama_decode(llm._ctx.ctx, llama_cpp.llama_batch_get_one(one, 1))
            token = llama_cpp.llama_sampler_sample(sampler, llm._ctx.ctx, -1)
        llama_cpp.llama_sampler_free(sampler)
        return (time.perf_counter() - start) / TOKENS * 1000

    times: dict[str, list[float]] = {"generate": [], "raw": []}
    for _ in range(args.rounds):
        times["generate"].append(through_generate())
        times["raw"].append(raw())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.gguf.name}, {args.threads} thread(s), {len(tokens)}-token context, medians of {args.rounds}:")
    for name, value in med.items():
        print(f"  {name:9} {value:6.2f} ms/token  ({TOKENS} tokens: {value * TOKENS:.0f} ms)")
    print(f"  ratio generate/raw: {med['generate'] / med['raw']:.3f}   load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
