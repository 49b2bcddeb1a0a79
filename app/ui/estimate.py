"""What the Training pane shows before a launch: the accelerator there is, and a memory estimate for a LoRA run.

The estimate is arithmetic over the model's config.json (no torch): frozen weights, LoRA weights with their
gradients and AdamW moments in fp32, activations (all of them, or one per layer boundary with checkpointing), and
the chunk of logits alive in the loss. It is a planning figure; the training job reports what it really used."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

GIB = 1024 ** 3


def probe_hardware() -> dict:
    """GPUs from nvidia-smi (no torch import in the UI process) and the machine's RAM."""
    info: dict = {"gpus": [], "ram_bytes": None}
    try:
        info["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout
            for line in out.strip().splitlines():
                name, mem = [p.strip() for p in line.rsplit(",", 1)]
                info["gpus"].append({"name": name, "memory_bytes": int(float(mem) * 1024 ** 2)})
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return info


def read_config(model_dir: str | Path | None) -> dict | None:
    if not model_dir:
        return None
    path = Path(model_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def lora_parameters(cfg: dict, r: int, targets: tuple[str, ...]) -> int:
    """LoRA weights (A and B) over the targeted projections of every layer."""
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    hd = cfg.get("head_dim") or h // heads
    shapes = {"q_proj": (h, heads * hd), "k_proj": (h, kv * hd), "v_proj": (h, kv * hd), "o_proj": (heads * hd, h),
              "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
    return n * sum(r * (a + b) for name, (a, b) in shapes.items() if name in targets)


def training_memory(cfg: dict, parameters: int, *, seq_len: int, micro_batch: int, r: int = 16,
                    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                "down_proj"),
                    weight_bytes: int = 2, checkpointing: bool = True, ce_chunk_tokens: int = 2048) -> dict:
    """Bytes by part for one training process; `weight_bytes` is 2 for bf16/fp16 and 4 for fp32."""
    h, n, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg.get("vocab_size") or 32000
    tokens = seq_len * micro_batch
    lora = lora_parameters(cfg, r, targets)
    per_layer = 34 * tokens * h * weight_bytes // 2  # Korthikanti et al.: ~34·s·b·h bytes per layer in 16 bits
    activations = (2 * tokens * h * weight_bytes * n + per_layer) if checkpointing else per_layer * n
    logits = min(tokens, ce_chunk_tokens) * vocab * 4 * 2
    parts = {"weights": parameters * weight_bytes, "lora_and_optimizer": lora * 16,
             "activations": activations, "logits": logits}
    parts["total"] = sum(parts.values())
    parts["lora_parameters"] = lora
    return parts


def describe(hardware: dict, estimate: dict | None) -> str:
    """One line: where training will run, and whether the estimate fits there."""
    gpus = hardware.get("gpus") or []
    if gpus:
        where = ", ".join(f"{g['name']} ({g['memory_bytes'] / GIB:.0f} GiB)" for g in gpus)
        room = gpus[0]["memory_bytes"]
    else:
        ram = hardware.get("ram_bytes")
        where = "no GPU: training runs on the CPU" + (f" ({ram / GIB:.0f} GiB RAM)" if ram else "")
        room = ram
    if estimate is None:
        return f"{where} · memory estimate: pick a base with a config.json"
    need = estimate["total"]
    fits = "" if room is None else (" — fits" if need < room * 0.9 else " — does NOT fit: lower seq-len or batch")
    return (f"{where} · estimate {need / GIB:.1f} GiB (weights {estimate['weights'] / GIB:.2f}, "
            f"LoRA+AdamW {estimate['lora_and_optimizer'] / GIB:.2f}, activations {estimate['activations'] / GIB:.2f},"
            f" logits {estimate['logits'] / GIB:.2f}){fits}")
