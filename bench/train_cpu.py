"""Tokens/s of our LoRA trainer against a plain transformers Trainer + peft on the CPU, side by side in one run.

Same model (a Qwen2 from a config: hidden 256, 4 layers, vocab 8192), same samples (code-like, 64..192 tokens,
prompt masked on completion samples, FIM whole), same recipe (the seed's LoRA, AdamW, cosine, effective batch 16,
fp32, no gradient checkpointing: the CPU defaults). The baseline is the ordinary recipe: one sample per row,
DataCollatorForSeq2Seq padding to the longest row, HF's loss over full logits. Both sides are measured per
optimizer step on real (non-pad) tokens after a warm-up step; runs alternate ours/baseline, and the ratio is
taken between the medians. The measuring code is shared with bench/train_gpu.py.

    .venv/bin/python bench/train_cpu.py [--repeats 5] [--steps 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_gpu import SHAPES, run_hf, run_ours, write_samples, write_tokenizer_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--micro", type=int, default=4)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine two threads measure the neighbours' load)")
    a = ap.parse_args()
    import os

    import torch

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if a.threads:
        torch.set_num_threads(a.threads)
    a.device, a.no_checkpointing = "cpu", True
    rates: dict[str, list[float]] = {"ours": [], "hf_trainer_peft": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tok_dir = write_tokenizer_dir(tmp / "tok", SHAPES[a.shape], a.seq_len)
        train_path = tmp / "train.jsonl"
        write_samples(train_path, a.samples, a.seq_len)
        for i in range(a.repeats):
            for name, fn in (("ours", run_ours), ("hf_trainer_peft", run_hf)):
                r = fn(a, tok_dir, train_path, tmp / f"{name}{i}", torch.float32)
                rates[name].append(r["tokens_per_second"])
            print(f"run {i}: ours {rates['ours'][-1]:.0f} tok/s, HF Trainer+peft {rates['hf_trainer_peft'][-1]:.0f} "
                  "tok/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"shape": a.shape, **SHAPES[a.shape], "seq_len": a.seq_len, "micro_batch": a.micro,
                      "threads": torch.get_num_threads(), "repeats": a.repeats, "steps_per_run": a.steps,
                      "tokens_per_second_median": {k: round(v, 1) for k, v in med.items()},
                      "ratio": round(med["ours"] / med["hf_trainer_peft"], 2), "runs": rates}, indent=2))


if __name__ == "__main__":
    main()
