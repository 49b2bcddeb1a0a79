"""A PEFT LoRA adapter -> a GGUF LoRA adapter that llama.cpp applies on top of the base model's GGUF.

Tensors `<gguf name>.lora_a` / `.lora_b` hold PEFT's A and B (B's rows permuted for Llama q/k like the base
weights); `adapter.lora.alpha` carries the scale llama.cpp computes as alpha / rank. Where PEFT's scale differs
from that (rsLoRA, per-module rank or alpha patterns) the difference is folded into B, so the product is exact.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from export import tensor_names as tn
from export.errors import ExportError, read_json
from export.hf_source import HFModel, index_file, read_tensor
from export.writer import Cancelled, ExportMeta, add_general, check_disk, writing

ADAPTER_TYPES = ("f32", "f16")


def read_adapter_config(adapter_dir: Path | str) -> dict:
    adapter_dir = Path(adapter_dir)
    path = adapter_dir / "adapter_config.json"
    if not path.is_file():
        raise ExportError(f"{adapter_dir} has no adapter_config.json: not a PEFT adapter directory")
    cfg = read_json(path)
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ExportError(f"unsupported PEFT type {cfg.get('peft_type')!r}: only LoRA adapters export to GGUF")
    if cfg.get("use_dora"):
        raise ExportError("DoRA adapters cannot be applied by llama.cpp; merge the adapter and export the merged model")
    if cfg.get("modules_to_save"):
        raise ExportError(f"the adapter also trains whole modules ({cfg['modules_to_save']}); merge it and export "
                          "the merged model instead")
    return cfg


def _module_scale(cfg: dict, module: str, rank: int) -> float:
    """PEFT's scale for one module: alpha/r (or alpha/sqrt(r) with rsLoRA), honouring rank and alpha patterns."""
    alpha = float(cfg.get("lora_alpha", 8))
    for key, value in (cfg.get("alpha_pattern") or {}).items():
        if module.endswith(key) or key in module:
            alpha = float(value)
    return alpha / math.sqrt(rank) if cfg.get("use_rslora") else alpha / rank


def _pairs(adapter_dir: Path) -> dict[str, dict]:
    file = adapter_dir / "adapter_model.safetensors"
    if not file.is_file():
        raise ExportError(f"{adapter_dir} has no adapter_model.safetensors")
    pairs: dict[str, dict] = {}
    for name, ref in index_file(file).items():
        for marker, key in ((".lora_A.weight", "A"), (".lora_B.weight", "B")):
            if name.endswith(marker):
                module = name[: -len(marker)]
                module = module.removeprefix("base_model.model.")
                pairs.setdefault(module, {})[key] = ref
                break
        else:
            raise ExportError(f"unexpected tensor {name!r} in the adapter (embedding or bias LoRA?); "
                              "merge the adapter and export the merged model instead")
    for module, pair in pairs.items():
        if set(pair) != {"A", "B"}:
            raise ExportError(f"the adapter's {module} has only lora_{''.join(pair)}; the adapter file is incomplete")
    return pairs


def plan_adapter(base: HFModel, adapter_dir: Path | str) -> tuple[dict, list[tuple]]:
    """(adapter config, [(module, gguf weight name, {"A", "B"} refs, B scale fold)]); refuses a misfit adapter."""
    adapter_dir = Path(adapter_dir)
    cfg = read_adapter_config(adapter_dir)
    pairs = _pairs(adapter_dir)
    names = tn.NameMap(base.arch, base.n_layers)
    alpha = float(cfg.get("lora_alpha", 8))
    items = []
    for module, pair in sorted(pairs.items(), key=lambda kv: _layer_key(kv[0])):
        if module.endswith(("lm_head", "embed_tokens")):
            raise ExportError(f"the adapter targets {module}; llama.cpp adapters cannot, merge and export instead")
        target = names.module_name(module) + ".weight"  # lora tensors are named after the weight they adapt
        rank = pair["A"].shape[0]
        if pair["B"].shape[1] != rank:
            raise ExportError(f"the adapter's {module} has lora_A rank {rank} but lora_B rank {pair['B'].shape[1]}")
        base_ref = base.tensors.get(f"{module}.weight")
        if base_ref is None or base_ref.shape != (pair["B"].shape[0], pair["A"].shape[1]):
            raise ExportError(f"the adapter's {module} does not fit the base model "
                              f"(adapter {pair['B'].shape[0]}x{pair['A'].shape[1]}, base "
                              f"{base_ref.shape if base_ref else 'missing'}): it was trained on another model")
        fold = _module_scale(cfg, module, rank) / (alpha / rank)
        items.append((module, target, pair, fold))
    if not items:
        raise ExportError(f"the adapter at {adapter_dir} has no LoRA tensors")
    return cfg, items


def write_adapter(base: HFModel, adapter_dir: Path | str, out_path: Path | str, out_type: str, meta: ExportMeta,
                  progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Write the adapter at `adapter_dir` (trained on `base`) as a GGUF LoRA adapter of `out_type`."""
    import gguf

    if out_type not in ADAPTER_TYPES:
        raise ExportError(f"adapters are written as {' or '.join(ADAPTER_TYPES)}, not {out_type!r}")
    out_path = Path(out_path)
    cfg, items = plan_adapter(base, adapter_dir)
    qtype = tn.ggml_type(out_type)
    alpha = float(cfg.get("lora_alpha", 8))
    total = sum(tn.encoded_nbytes(p[k].shape, qtype) for _, _, p, _ in items for k in "AB")
    check_disk(out_path, total + (1 << 20))
    writer = gguf.GGUFWriter(path=None, arch=base.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    add_general(writer, meta, tn.file_type(out_type))
    for _, target, pair, _ in items:
        writer.add_tensor_info(f"{target}.lora_a", pair["A"].shape, np.dtype(np.float32),
                               tn.encoded_nbytes(pair["A"].shape, qtype), raw_dtype=qtype)
        writer.add_tensor_info(f"{target}.lora_b", pair["B"].shape, np.dtype(np.float32),
                               tn.encoded_nbytes(pair["B"].shape, qtype), raw_dtype=qtype)
    with writing(writer, out_path):
        for i, (module, target, pair, fold) in enumerate(items):
            if cancel is not None and cancel.is_set():
                raise Cancelled("export cancelled")
            a, b = read_tensor(pair["A"]), read_tensor(pair["B"])
            if fold != 1.0:
                b = b * np.float32(fold)
            which = tn.needs_permute(base.arch, module)
            if which is not None:
                b = tn.llama_permute(b, base.n_heads if which == "q" else base.n_kv_heads)
            for data, part in ((a, "A"), (b, "B")):
                if not np.isfinite(data).all():
                    raise ExportError(f"the adapter's {module} lora_{part} has NaN or infinite values")
                writer.write_tensor_data(tn.encode(data, qtype))
            if progress is not None:
                progress({"event": "tensor", "index": i + 1, "count": len(items), "name": target,
                          "message": f"[{i + 1}/{len(items)}] {target}.lora_a/.lora_b"})
    return {"tensors": 2 * len(items), "modules": len(items), "lora_alpha": alpha,
            "rank": int(items[0][2]["A"].shape[0])}


def _layer_key(module: str) -> tuple:
    parts = module.split(".")
    nums = [int(p) for p in parts if p.isdecimal()]
    return (nums[0] if nums else -1, module)
