"""The base model's tokenizer, loaded fast from tokenizer.json with `tokenizers` (no transformers import)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=8)
def load(hf_dir: str):
    """A `tokenizers.Tokenizer` for a HF model directory (its tokenizer.json)."""
    from tokenizers import Tokenizer

    path = Path(hf_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{hf_dir} has no tokenizer.json")
    return Tokenizer.from_file(str(path))


def count_tokens(tokenizer, texts: list[str]) -> list[int]:
    """Token counts without special tokens, batched (the Rust side uses both cores)."""
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def special_tokens(hf_dir: str) -> dict:
    """bos/eos/pad names from tokenizer_config.json (or {} when it is missing)."""
    path = Path(hf_dir) / "tokenizer_config.json"
    if not path.is_file():
        return {}
    cfg = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for key in ("bos_token", "eos_token", "pad_token"):
        value = cfg.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if value:
            out[key] = value
    return out
