"""GPU LoRA throughput: our trainer against HF Trainer + peft on a Qwen2.5-Coder-7B-shaped model (random weights).

Qwen2.5-Coder-7B's shape (28 layers, hidden 3584, intermediate 18944, 28 heads, 4 kv heads, vocab 152064), seq 2048,
bf16, the seed's LoRA recipe, effective batch 16. The model is built from the config directly on the GPU (no
weights on disk; throughput does not depend on their values); both sides get the same samples (code-like text of
512..2048 tokens, prompt masked on completion samples, FIM whole). Reported per side: real (non-pad) tokens/s over
the measured steps, MFU = tokens/s x 4N / peak (4N FLOPs per token for LoRA: forward 2N + activation gradients 2N;
checkpoint recompute is not counted as useful work), and peak memory. Prints the ratio of the medians.

    python bench/train_gpu.py                      # on the GPU machine
    python bench/train_gpu.py --shape tiny --device cpu --steps 2 --warmup 1   # code-path check on a CPU
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SHAPES = {
    "qwen2.5-coder-7b": dict(num_hidden_layers=28, hidden_size=3584, intermediate_size=18944, num_attention_heads=28,
                             num_key_value_heads=4, vocab_size=152064, rope_theta=1_000_000.0),
    "small": dict(num_hidden_layers=4, hidden_size=256, intermediate_size=704, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=8192, rope_theta=1_000_000.0),
    "tiny": dict(num_hidden_layers=2, hidden_size=128, intermediate_size=352, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=4096, rope_theta=1_000_000.0),
}
PEAK_BF16 = 790e12  # measured dense bf16 matmul on the H100/H200 of this project
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def write_tokenizer_dir(out: Path, shape: dict, seq_len: int) -> Path:
    """config.json + the tiny BPE tokenizer: what the trainer reads besides the (in-memory) weights."""
    from transformers import Qwen2Config

    from tiny_models import QWEN_SPECIALS, _train_tokenizer, _write_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer(QWEN_SPECIALS, 400, qwen_pretok=True)
    Qwen2Config(**shape, max_position_embeddings=max(32768, seq_len), tie_word_embeddings=False,
                eos_token_id=tok.token_to_id("<|endoftext|>")).save_pretrained(out)
    _write_tokenizer(out, tok, QWEN_SPECIALS, seq_len)
    return out


def write_samples(path: Path, n: int, seq_len: int, seed: int = 0) -> None:
    """Code-like samples of about seq_len/4..seq_len tokens (the tiny tokenizer gives ~3 chars per token)."""
    from tiny_models import CORPUS

    rng = random.Random(seed)
    texts = list(dict.fromkeys(CORPUS))
    lines = []
    for i in range(n):
        target_chars = rng.randint(seq_len // 4, seq_len - 64) * 3
        body = ""
        while len(body) < target_chars:
            body += rng.choice(texts)
        body = body[:target_chars]
        cut = len(body) // 3
        if i % 4 == 3:
            prompt = f"<|fim_prefix|>{body[:cut]}<|fim_suffix|>{body[2 * cut:]}<|fim_middle|>"
            lines.append({"kind": "fim", "prompt": prompt, "completion": body[cut:2 * cut]})
        else:
            lines.append({"kind": "completion", "prompt": body[:cut], "completion": body[cut:]})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def build(shape: dict, device: str, dtype):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(**shape, max_position_embeddings=32768, tie_word_embeddings=False)
    cfg.use_cache = False
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build in bf16 directly: no 28 GB fp32 copy of a 7B model on the way
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(previous)
    return model.to(dtype)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def peak_memory(device: str) -> int:
    import torch

    return int(torch.cuda.max_memory_allocated()) if device == "cuda" else 0


def reset_peak(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_ours(a, tok_dir: Path, train_path: Path, work: Path, dtype) -> dict:
    from training.config import TrainConfig
    from training.trainer import train

    model = build(SHAPES[a.shape], a.device, dtype)
    N = n_params(model)
    reset_peak(a.device)
    steps: list[dict] = []
    cfg = TrainConfig(base_path=str(tok_dir), train_path=str(train_path), output_dir=str(work), seq_len=a.seq_len,
                      micro_batch_size=a.micro, max_steps=a.warmup + a.steps, checkpoint_every=10**9,
                      device=a.device, precision="bf16" if a.device == "cuda" else "fp32",
                      gradient_checkpointing=not a.no_checkpointing, ce_chunk_tokens=4096)
    train(cfg, progress=lambda e: e["event"] == "step" and steps.append(e), base=model)
    measured = steps[a.warmup:]
    rates = [e["tokens_per_second"] for e in measured]
    del model
    return {"tokens_per_second": statistics.median(rates), "per_step": rates, "peak_memory_bytes": peak_memory(a.device),
            "parameters": N}


def run_hf(a, tok_dir: Path, train_path: Path, work: Path, dtype) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    tok = AutoTokenizer.from_pretrained(tok_dir)
    feats = []
    for line in open(train_path):
        r = json.loads(line)
        p = tok(r["prompt"], add_special_tokens=False)["input_ids"]
        c = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = (p + c)[:a.seq_len]
        labels = ([-100] * len(p) + c)[:a.seq_len] if r["kind"] == "completion" else list(ids)
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    model = build(SHAPES[a.shape], a.device, dtype)
    model.config._attn_implementation = "sdpa"
    N = n_params(model)
    if not a.no_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    torch.manual_seed(42)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=TARGETS,
                                             task_type="CAUSAL_LM"))
    counted = [0]
    base_collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)

    def collate(rows):
        batch = base_collator(rows)
        counted[0] += int(batch["attention_mask"].sum())
        return batch

    marks: list[tuple[float, int]] = []

    class Timer(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if a.device == "cuda":
                torch.cuda.synchronize()
            marks.append((time.perf_counter(), counted[0]))

    reset_peak(a.device)
    args = TrainingArguments(output_dir=str(work), per_device_train_batch_size=a.micro,
                             gradient_accumulation_steps=16 // a.micro, learning_rate=2e-4,
                             max_steps=a.warmup + a.steps, warmup_steps=0.03, lr_scheduler_type="cosine", seed=42,
                             bf16=a.device == "cuda", logging_steps=10**9, save_strategy="no", report_to=[],
                             use_cpu=a.device == "cpu", dataloader_num_workers=0, disable_tqdm=True,
                             remove_unused_columns=False)
    Trainer(model=model, args=args, train_dataset=feats, data_collator=collate, callbacks=[Timer()]).train()
    pairs = zip(marks[a.warmup - 1:], marks[a.warmup:])  # step k's time and tokens: between the marks k-1 and k
    rates = [(n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in pairs]
    del model
    return {"tokens_per_second": statistics.median(rates), "per_step": rates, "peak_memory_bytes": peak_memory(a.device),
            "parameters": N}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-coder-7b")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--micro", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--peak-flops", type=float, default=PEAK_BF16)
    ap.add_argument("--no-checkpointing", action="store_true")
    ap.add_argument("--only", choices=["ours", "hf"], default=None)
    a = ap.parse_args()
    if a.warmup < 1:
        ap.error("--warmup must be at least 1")
    import os

    import torch

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    dtype = torch.bfloat16 if a.device == "cuda" else torch.float32
    out = {"shape": a.shape, "seq_len": a.seq_len, "micro_batch": a.micro, "effective_batch": 16,
           "gradient_checkpointing": not a.no_checkpointing, "device": torch.cuda.get_device_name() if a.device ==
           "cuda" else "cpu", "peak_flops": a.peak_flops, "measured_steps": a.steps}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tok_dir = write_tokenizer_dir(tmp / "tok", SHAPES[a.shape], a.seq_len)
        train_path = tmp / "train.jsonl"
        write_samples(train_path, a.samples, a.seq_len)
        sides = {"ours": run_ours, "hf_trainer_peft": run_hf}
        for name, fn in sides.items():
            if a.only and not name.startswith(a.only):
                continue
            try:
                r = fn(a, tok_dir, train_path, tmp / name, dtype)
                r["mfu"] = r["tokens_per_second"] * 4 * r["parameters"] / a.peak_flops
                out[name] = r
            except Exception as exc:  # e.g. the baseline running out of memory: report it, keep the other side
                out[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
            reset_peak(a.device)
    if "tokens_per_second" in out.get("ours", {}) and "tokens_per_second" in out.get("hf_trainer_peft", {}):
        out["ratio"] = out["ours"]["tokens_per_second"] / out["hf_trainer_peft"]["tokens_per_second"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
