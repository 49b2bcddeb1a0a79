"""Tokens/s of our LoRA trainer against a plain transformers Trainer + peft, same model, data and recipe, on the CPU.

Both train one epoch of the same samples (prompt masked, FIM whole) with the seed's LoRA (r16/alpha32/dropout 0.05
on all projections), AdamW, cosine, effective batch 16, fp32. The baseline is the ordinary recipe: one sample per
row, DataCollatorForSeq2Seq padding to the longest row, labels -100 on the prompt, HF's loss over full logits.
tokens/s counts real (non-pad) tokens over the training loop's wall time (model loading excluded); runs alternate
ours/baseline and the medians are compared.

    .venv/bin/python bench/train_cpu.py [--repeats 3] [--samples 256] [--hidden 256] [--layers 4] [--vocab 8192]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def make_model(out: Path, hidden: int, layers: int, vocab: int) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tiny_models import QWEN_SPECIALS, _train_tokenizer, _write_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer(QWEN_SPECIALS, 400, qwen_pretok=True)
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=max(vocab, tok.get_vocab_size()), hidden_size=hidden, intermediate_size=hidden * 11 // 4,
                      num_hidden_layers=layers, num_attention_heads=max(2, hidden // 64),
                      num_key_value_heads=max(1, hidden // 128), max_position_embeddings=2048,
                      eos_token_id=tok.token_to_id("<|endoftext|>"))
    Qwen2ForCausalLM(cfg).save_pretrained(out, safe_serialization=True)
    _write_tokenizer(out, tok, QWEN_SPECIALS, 2048)
    return out


def ours(model_dir: Path, train_path: Path, work: Path, seq_len: int, micro: int) -> float:
    from training.config import TrainConfig
    from training.trainer import train

    cfg = TrainConfig(base_path=str(model_dir), train_path=str(train_path), output_dir=str(work), seq_len=seq_len,
                      micro_batch_size=micro, epochs=1.0, checkpoint_every=10**9)
    result = train(cfg)
    return result["tokens"] / result["train_seconds"]


def baseline(model_dir: Path, train_path: Path, work: Path, seq_len: int, micro: int) -> float:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = [json.loads(line) for line in open(train_path)]
    feats = []
    for r in rows:
        p = tok(r["prompt"], add_special_tokens=False)["input_ids"]
        c = tok(r["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = (p + c)[:seq_len]
        labels = ([-100] * len(p) + c)[:seq_len] if r["kind"] == "completion" else list(ids)
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    tokens = sum(len(f["input_ids"]) for f in feats)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    torch.manual_seed(42)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"]))
    args = TrainingArguments(output_dir=str(work), per_device_train_batch_size=micro,
                             gradient_accumulation_steps=16 // micro, learning_rate=2e-4, num_train_epochs=1,
                             warmup_steps=0.03, lr_scheduler_type="cosine", seed=42, logging_steps=10**9,
                             save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0,
                             disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=feats,
                      data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100))
    t0 = time.perf_counter()
    trainer.train()
    return tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--micro", type=int, default=4)
    a = ap.parse_args()
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from train_snapshot import samples

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = make_model(tmp / "model", a.hidden, a.layers, a.vocab)
        train_path = tmp / "train.jsonl"
        train_path.write_text("".join(json.dumps(r) + "\n" for r in samples(a.samples)))
        rates = {"ours": [], "hf_trainer_peft": []}
        for i in range(a.repeats):
            rates["ours"].append(ours(model_dir, train_path, tmp / f"ours{i}", a.seq_len, a.micro))
            rates["hf_trainer_peft"].append(baseline(model_dir, train_path, tmp / f"hf{i}", a.seq_len, a.micro))
            print(f"run {i}: ours {rates['ours'][-1]:.0f} tok/s, HF Trainer+peft {rates['hf_trainer_peft'][-1]:.0f}"
                  " tok/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({"model": f"qwen2 hidden {a.hidden} x {a.layers} layers, vocab {a.vocab}",
                      "samples": a.samples, "seq_len": a.seq_len, "micro_batch": a.micro, "repeats": a.repeats,
                      "tokens_per_second_median": {k: round(v, 1) for k, v in med.items()},
                      "ratio": round(med["ours"] / med["hf_trainer_peft"], 2), "runs": rates}, indent=2))


if __name__ == "__main__":
    main()
