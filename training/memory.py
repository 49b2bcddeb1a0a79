"""Before launch: what a LoRA run will need (weights + LoRA + optimizer + activations) against what is free.

The activation term counts the tensors a Llama/Qwen2 block keeps for backward per token (norm inputs, q/k/v,
attention output, gate/up/act products, LoRA dropout copies) at the activation dtype, with attention by sdpa or
flash-attention (no seq x seq matrix). With gradient checkpointing a block keeps only its input, plus one block's
full set during recompute. On the CPU the count is scaled by a measured factor (CPU_ACTIVATIONS). It is an estimate
with a 15% margin, not a promise; it errs on the side of refusing.
"""
from __future__ import annotations

import json
from pathlib import Path

GIB = 1024 ** 3
CUDA_OVERHEAD = int(1.0 * GIB)  # context, cuBLAS workspaces, allocator slack
MARGIN = 1.15
# On the CPU (fp32, eager autograd, glibc's allocator) a block holds about 1.9 times the activation bytes counted
# above: measured as the training job's peak RSS by bench/estimate.py on SmolLM2-135M (4.4 MB a token at seq len 256,
# against 2.3 MB counted: 1.91), and the 19.7 GB of a 4 x 1024-token micro batch seen on the same model. With 1.9 the
# five measured sizes (256x1 to 1024x4) are all estimated within 15% (0.93 to 1.14; docs/benchmarks.md); 2 put
# 1024x1 at 1.18.
CPU_ACTIVATIONS = 1.9


class WontFitError(RuntimeError):
    """The run will not fit: the message is one line with a suggestion."""


def lora_parameters(cfg: dict, r: int, targets: list[str]) -> int:
    """Trainable LoRA parameters: r * (in + out) per targeted projection per layer."""
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    hd = cfg.get("head_dim") or h // heads
    shapes = {"q_proj": (h, heads * hd), "k_proj": (h, kv * hd), "v_proj": (h, kv * hd), "o_proj": (heads * hd, h),
              "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
    return n * sum(r * (a + b) for name, (a, b) in shapes.items() if name in targets)


def estimate(model_cfg: dict, parameters: int, *, seq_len: int, micro_batch: int, lora_r: int, targets: list[str],
             weight_bytes: float, act_bytes: int, gradient_checkpointing: bool, ce_chunk: int, cuda: bool) -> dict:
    """Bytes per component and their total for one process."""
    h, i, n = model_cfg["hidden_size"], model_cfg["intermediate_size"], model_cfg["num_hidden_layers"]
    kv_dim = (model_cfg.get("num_key_value_heads") or model_cfg["num_attention_heads"]) * (
        model_cfg.get("head_dim") or h // model_cfg["num_attention_heads"])
    tokens = seq_len * micro_batch
    lora = lora_parameters(model_cfg, lora_r, targets)
    per_block_token = act_bytes * (12 * h + 2 * kv_dim + 5 * i) * (1 if cuda else CPU_ACTIVATIONS) + 4 * 2 * h
    if gradient_checkpointing:
        activations = tokens * (n * h * act_bytes + per_block_token)
    else:
        activations = tokens * n * per_block_token
    logits = min(ce_chunk, tokens) * model_cfg["vocab_size"] * 4 * 2 + tokens * h * act_bytes * 2
    parts = {
        "weights": int(parameters * weight_bytes),
        "lora": lora * 4,
        "gradients": lora * 4,
        "optimizer": lora * 8,
        "activations": int(activations),
        "logits": int(logits),
        "overhead": CUDA_OVERHEAD if cuda else 0,
    }
    parts["total"] = int(sum(parts.values()) * MARGIN)
    parts["lora_parameters"] = lora
    parts["micro_batch"], parts["seq_len"] = micro_batch, seq_len  # what check() scales its suggestions by
    return parts


def available_bytes(device: str) -> int:
    """Free VRAM on the current CUDA device, or MemAvailable on the CPU."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check(parts: dict, free: int, *, seq_len: int, device: str, qlora: bool) -> None:
    """Refuse with a suggestion when the estimate exceeds what is free."""
    need = parts["total"]
    if need <= free:
        return
    fixed = sum(parts.get(k, 0) for k in ("weights", "lora", "gradients", "optimizer", "overhead", "runtime"))
    micro = max(1, int(parts.get("micro_batch", 1)))
    per_sequence = (parts["activations"] + parts["logits"]) / micro  # one window of seq_len tokens
    room = free / MARGIN - fixed
    hints = []

    def power_of_two(n: float) -> int:
        return 1 << (int(n).bit_length() - 1)

    fitting_micro = int(room / per_sequence) if per_sequence > 0 and room > 0 else 0
    if 1 <= fitting_micro < micro:  # fewer windows per forward pass: accumulation keeps the effective batch
        hints.append(f"--micro-batch-size {power_of_two(fitting_micro)}")
    per_token = per_sequence / max(1, seq_len)
    fitting = room / (per_token * micro) if per_token > 0 and room > 0 else 0  # tokens a window, same micro batch
    if 64 <= fitting < seq_len:
        hints.append(f"--seq-len {power_of_two(fitting)}")
    elif micro > 1 and fitting_micro < 1 and per_token > 0 and room / per_token >= 64:
        hints.append(f"--micro-batch-size 1 --seq-len {power_of_two(room / per_token)}")
    if device == "cuda" and not qlora:
        hints.append("QLoRA (--qlora: 4-bit base through bitsandbytes)")
    if device == "cuda":
        hints.append("gradient checkpointing (on by default on the GPU)")
    hint = "try " + " or ".join(hints) if hints else "use a smaller base model or a machine with more memory"
    where = "free VRAM" if device == "cuda" else "available RAM"
    raise WontFitError(f"this run needs about {need / GIB:.1f} GiB but only {free / GIB:.1f} GiB of {where} "
                       f"is left: {hint}")


def read_model_config(hf_dir: Path | str) -> dict:
    return json.loads((Path(hf_dir) / "config.json").read_text(encoding="utf-8"))
