"""Adapter + base → a merged Hugging Face model in the base's dtype, checked on a probe batch before it counts.

The logits of base + adapter (peft, unmerged) are computed first; the merged model is saved to a temporary folder,
loaded back from disk, and its logits compared on the same probe batch. Only a folder that passes is renamed into
place, with the base's tokenizer, generation config, chat template and license/notice files beside it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from training.fileio import atomic_dir, sha256_tree

PROBE_TEXTS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "import os\n\nfor name in sorted(os.listdir('.')):\n    print(name)\n",
]
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
          "chat_template.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model",
          "added_tokens.json", "LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE", "README.md")
# tolerance on |merged - unmerged| relative to the largest logit: fp32 merges differ by rounding only
TOLERANCE = {"float32": 1e-4, "bfloat16": 3e-2, "float16": 1e-2}


class MergeError(RuntimeError):
    """The merge failed or the merged model disagrees with base + adapter: one line for the user."""


def _probe_ids(base_dir: Path, max_tokens: int = 48):
    import torch

    from training.tokenizer import load

    tok = load(str(base_dir))
    rows = [e.ids[:max_tokens] for e in tok.encode_batch(PROBE_TEXTS, add_special_tokens=False)]
    width = min(len(r) for r in rows)
    return torch.tensor([r[:width] for r in rows], dtype=torch.long)


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits.float()


def merge_adapter(base_dir: Path | str, adapter_dir: Path | str, out_dir: Path | str,
                  progress: Callable[[dict], None] | None = None) -> dict:
    """Merge and verify; returns path, sha256, dtype, max_abs_diff, tolerance."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    emit = progress or (lambda e: None)
    base_dir, adapter_dir, out_dir = Path(base_dir), Path(adapter_dir), Path(out_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise MergeError(f"{adapter_dir} is not a PEFT adapter (no adapter_config.json)")
    emit({"event": "log", "message": f"loading {base_dir.name} and the adapter"})
    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype="auto")
    dtype = str(base.dtype).removeprefix("torch.")
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    ids = _probe_ids(base_dir)
    reference = _logits(model, ids)
    merged = model.merge_and_unload(safe_merge=True)
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        for name in COPIED:
            src = base_dir / name
            if src.is_file() and not (tmp / name).exists():
                shutil.copy2(src, tmp / name)
        del merged, model, base
        emit({"event": "log", "message": "checking the merged model's logits against base + adapter"})
        reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype="auto")
        got = _logits(reloaded, ids)
        diff = float((got - reference).abs().max())
        scale = float(reference.abs().max()) or 1.0
        tol = TOLERANCE.get(dtype, 1e-2) * max(1.0, scale)
        if not torch.isfinite(got).all() or diff > tol:
            raise MergeError(f"the merged model disagrees with base + adapter on the probe batch "
                             f"(max |logit diff| {diff:.3g} > {tol:.3g}); nothing was recorded")
    result = {"path": str(out_dir), "sha256": sha256_tree(out_dir), "dtype": dtype, "max_abs_diff": diff,
              "tolerance": tol, "probe_tokens": int(ids.numel())}
    emit({"event": "finished", **result})
    return result
