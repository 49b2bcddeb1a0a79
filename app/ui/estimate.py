"""What the Training pane shows before a launch: the accelerator there is (nvidia-smi, so no torch in the UI
process), and the training engine's memory estimate for the form's settings, with whether it fits."""
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
    try:
        return json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def training_memory(cfg: dict, parameters: int, recipe: dict, *, seq_len: int, cuda: bool) -> dict:
    """The training engine's estimate (training.memory) for the form's settings: bf16 with checkpointing on a
    GPU, fp32 without on the CPU, as the trainer resolves them."""
    from training import memory

    return memory.estimate(cfg, parameters, seq_len=seq_len, micro_batch=recipe["micro_batch_size"],
                           lora_r=recipe["lora_r"], targets=list(recipe["target_modules"]),
                           weight_bytes=2 if cuda else 4, act_bytes=2 if cuda else 4,
                           gradient_checkpointing=cuda, ce_chunk=recipe["ce_chunk_tokens"], cuda=cuda)


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
    lora = sum(estimate.get(k, 0) for k in ("lora", "gradients", "optimizer"))
    return (f"{where} · estimate {need / GIB:.1f} GiB (weights {estimate['weights'] / GIB:.2f}, "
            f"LoRA+AdamW {lora / GIB:.2f}, activations {estimate['activations'] / GIB:.2f},"
            f" logits {estimate['logits'] / GIB:.2f}){fits}")
