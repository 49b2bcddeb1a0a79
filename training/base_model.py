"""Base models: read what a HF directory or a GGUF file is (without torch), and prepare torch weights from a GGUF.

Supported families are Qwen2 and Llama; anything else is refused with a one-line reason.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

SUPPORTED_HF = {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM"}
SUPPORTED_GGUF = {"qwen2": "qwen2", "llama": "llama"}


class BaseModelError(ValueError):
    """A base model that cannot be used: the message is one line for the user."""


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaseModelError(f"cannot read {path}: {exc}") from None


def _license_from_dir(path: Path) -> str | None:
    readme = path / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        m = re.match(r"^---\s*\n(.*?)\n---", text, re.S)
        if m:
            lic = re.search(r"^license:\s*['\"]?([\w.+-]+)", m.group(1), re.M)
            if lic:
                return lic.group(1)
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        lic_file = path / name
        if lic_file.is_file():
            head = lic_file.read_text(encoding="utf-8", errors="replace")[:2000]
            if "Apache License" in head and "2.0" in head:
                return "apache-2.0"
            if "MIT License" in head:
                return "mit"
            return "see LICENSE"
    return None


def safetensors_header(file: Path) -> tuple[dict, int]:
    """A safetensors file's header (8-byte little-endian length + JSON) and where its data starts; no data read."""
    with open(file, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise BaseModelError(f"{file.name} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", raw)
        if length > 200_000_000:
            raise BaseModelError(f"{file.name} is not a safetensors file (header length {length})")
        try:
            return json.loads(fh.read(length)), 8 + length
        except ValueError:
            raise BaseModelError(f"{file.name} has a corrupt safetensors header") from None


def _safetensors_parameters(path: Path) -> int | None:
    """Count parameters from the safetensors headers alone, no tensor data read."""
    files = sorted(path.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        header, _ = safetensors_header(file)
        for name, info in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in info["shape"]:
                count *= dim
            total += count
    return total


def _estimate_parameters(cfg: dict) -> int:
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or h // heads
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2
    per_layer = attn + 3 * h * i + 2 * h
    embed = cfg["vocab_size"] * h * (1 if cfg.get("tie_word_embeddings") else 2)
    return n * per_layer + embed + h


def inspect_hf_dir(path: Path | str) -> dict:
    """Architecture, size and license of a HF model directory; raises BaseModelError when it is unusable."""
    path = Path(path)
    if not path.exists():
        raise BaseModelError(f"{path} does not exist")
    if not path.is_dir():
        raise BaseModelError(f"{path} is not a directory")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise BaseModelError(f"{path} has no config.json: not a Hugging Face model directory")
    cfg = _read_json(config_path)
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED_HF:
        arch = (cfg.get("architectures") or [model_type])[0]
        raise BaseModelError(f"unsupported architecture {arch!r} (model_type {model_type!r}): "
                             f"blackroad-studio supports the Qwen2 and Llama families")
    weights = list(path.glob("*.safetensors")) + list(path.glob("pytorch_model*.bin"))
    if not weights:
        raise BaseModelError(f"{path} has no weights (*.safetensors or pytorch_model*.bin)")
    params = _safetensors_parameters(path)
    return {
        "format": "hf",
        "architecture": model_type,
        "hf_architecture": SUPPORTED_HF[model_type],
        "parameters": params if params is not None else _estimate_parameters(cfg),
        "context_length": cfg.get("max_position_embeddings"),
        "vocab_size": cfg.get("vocab_size"),
        "license": _license_from_dir(path),
        "dtype": cfg.get("torch_dtype") or cfg.get("dtype"),
        "rope_theta": cfg.get("rope_theta"),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
    }


def inspect_gguf(path: Path | str) -> dict:
    """What a GGUF file holds, read through gguf-py; truncated or corrupt files raise BaseModelError."""
    import numpy as np
    from gguf import GGUFReader

    path = Path(path)
    if not path.is_file():
        raise BaseModelError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            raise BaseModelError(f"{path} is not a GGUF file (bad magic)")
        reader = GGUFReader(str(path))
    except BaseModelError:
        raise
    except Exception as exc:  # gguf-py raises ValueError, IndexError, struct errors on corrupt files
        raise BaseModelError(f"{path} is a corrupt or truncated GGUF file ({type(exc).__name__}: {exc})") from None
    end = 0
    params = 0
    for t in reader.tensors:
        end = max(end, int(t.data_offset) + int(t.n_bytes))
        params += int(np.prod(t.shape))
    if end > size:
        raise BaseModelError(f"{path} is truncated: tensor data needs {end} bytes, the file has {size}")

    def field(name: str):
        f = reader.fields.get(name)
        if f is None:
            return None
        value = f.contents()
        return value

    arch = field("general.architecture")
    if arch not in SUPPORTED_GGUF:
        raise BaseModelError(f"unsupported architecture {arch!r} in {path.name}: "
                             "blackroad-studio supports the Qwen2 and Llama families")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    return {
        "format": "gguf",
        "architecture": arch,
        "hf_architecture": SUPPORTED_HF[arch],
        "parameters": params,
        "context_length": field(f"{arch}.context_length"),
        "vocab_size": len(tokens.data) if tokens is not None else None,
        "license": field("general.license"),
        "name": field("general.name"),
        "file_type": field("general.file_type"),
        "rope_theta": field(f"{arch}.rope.freq_base"),
    }


def gguf_to_hf(gguf_path: Path | str, out_dir: Path | str) -> Path:
    """Dequantize a GGUF into a safetensors HF directory (config, tokenizer, weights), written atomically.

    transformers loads a GGUF as a torch model but refuses to save it ("quantized with gguf"), so the weights are
    moved into a fresh model built from the same config without its quantization_config.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from training.fileio import atomic_dir

    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    folder, name = str(gguf_path.parent), gguf_path.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    cfg_dict = loaded.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    config = AutoConfig.for_model(**{k: v for k, v in cfg_dict.items() if k != "model_type"},
                                  model_type=cfg_dict["model_type"])
    config.dtype = torch.float32
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise BaseModelError(f"cannot rebuild {name} as a torch model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    with atomic_dir(out_dir) as tmp:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out_dir


def download_hub(repo_id: str, cache_dir: Path | str) -> Path:
    """Fetch a hub model's config, tokenizer and safetensors; offline this fails with BaseModelError."""
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(
            repo_id=repo_id, cache_dir=str(cache_dir),
            allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.txt", "*.model", "README.md", "LICENSE*"])
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BaseModelError(f"cannot download {repo_id!r} from the Hugging Face hub ({reason}); "
                             "offline, download it elsewhere and fork the local directory") from None
    return Path(local)
