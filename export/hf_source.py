"""A Hugging Face model directory as the exporter sees it: its hyperparameters and its tensors, read one at a time.

Tensors are read with pread from (sharded) safetensors into a buffer of their own size, so memory stays near the
largest tensor instead of the model (no mmap: touched mmap pages count towards the process's resident memory).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from export.errors import ExportError, read_json

ARCHITECTURES = {"qwen2": "qwen2", "llama": "llama"}  # HF model_type -> GGUF general.architecture
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64}


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes lie: file, absolute offset, byte length, safetensors dtype, torch-order shape."""
    name: str
    file: Path
    offset: int
    nbytes: int
    dtype: str
    shape: tuple[int, ...]


@dataclass
class HFModel:
    root: Path
    config: dict
    arch: str
    tensors: dict[str, TensorRef] = field(default_factory=dict)

    # -- hyperparameters, with the defaults transformers itself applies ------------------------------------------
    @property
    def n_layers(self) -> int:
        return int(self.config["num_hidden_layers"])

    @property
    def n_heads(self) -> int:
        return int(self.config["num_attention_heads"])

    @property
    def n_kv_heads(self) -> int:
        return int(self.config.get("num_key_value_heads") or self.n_heads)

    @property
    def head_dim(self) -> int:
        return int(self.config.get("head_dim") or self.config["hidden_size"] // self.n_heads)

    @property
    def vocab_rows(self) -> int:
        """Rows of the embedding matrix (what the GGUF token list is padded to)."""
        ref = self.tensors.get("model.embed_tokens.weight")
        return ref.shape[0] if ref is not None else int(self.config["vocab_size"])

    @property
    def rope(self) -> dict:
        """rope_theta and scaling from transformers 5's rope_parameters or the older rope_theta/rope_scaling."""
        params = dict(self.config.get("rope_parameters") or {})
        legacy = self.config.get("rope_scaling") or {}
        for key, value in legacy.items():
            params.setdefault(key, value)
        if "type" in params and "rope_type" not in params:
            params["rope_type"] = params["type"]
        params.setdefault("rope_theta", self.config.get("rope_theta", 10000.0))
        params.setdefault("rope_type", "default")
        return params

    @property
    def tied(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    def read(self, name: str) -> np.ndarray:
        """One tensor as float32 in torch order."""
        return read_tensor(self.tensors[name])


def _parse_header(path: Path) -> tuple[dict, int]:
    from training.base_model import safetensors_header

    try:
        return safetensors_header(path)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None


def _weight_files(root: Path) -> list[Path]:
    index = root / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as exc:
            raise ExportError(f"cannot read {index}: {exc}") from None
        files = [root / name for name in dict.fromkeys(weight_map.values())]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ExportError(f"{root} is missing weight shards listed in its index: {', '.join(missing[:3])}")
        return files
    files = sorted(root.glob("*.safetensors"))
    if not files:
        if list(root.glob("pytorch_model*.bin")):
            raise ExportError(f"{root} holds only pytorch_model*.bin weights; export reads safetensors "
                              "(re-save the model with save_pretrained(safe_serialization=True))")
        raise ExportError(f"{root} has no *.safetensors weights")
    return files


def index_file(file: Path) -> dict[str, TensorRef]:
    """Where each tensor of one safetensors file lies, from its header alone."""
    header, data_start = _parse_header(file)
    size = file.stat().st_size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ExportError(f"tensor {name} in {file.name} has dtype {info['dtype']}; expected F32, F16 or BF16")
        start, end = info["data_offsets"]
        if data_start + end > size:
            raise ExportError(f"{file.name} is truncated: tensor {name} ends past the end of the file")
        out[name] = TensorRef(name, file, data_start + start, end - start, info["dtype"],
                              tuple(int(d) for d in info["shape"]))
    return out


def open_model(root: Path | str) -> HFModel:
    """Read config.json and every safetensors header; refuse what the exporter cannot write."""
    root = Path(root)
    if not root.is_dir():
        raise ExportError(f"{root} is not a Hugging Face model directory" if root.exists() else f"{root} does not exist")
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise ExportError(f"{root} has no config.json: not a Hugging Face model directory")
    config = read_json(cfg_path)
    if "text_config" in config:
        config = {**config, **config["text_config"]}
    model_type = config.get("model_type")
    if model_type not in ARCHITECTURES:
        arch = (config.get("architectures") or [model_type])[0]
        raise ExportError(f"unsupported architecture {arch!r} (model_type {model_type!r}): "
                          "the GGUF exporter writes the Qwen2 and Llama families")
    if config.get("quantization_config"):
        raise ExportError(f"{root} holds quantized weights ({config['quantization_config'].get('quant_method')}); "
                          "export from full-precision weights")
    model = HFModel(root=root, config=config, arch=ARCHITECTURES[model_type])
    for file in _weight_files(root):
        model.tensors.update(index_file(file))
    if "model.embed_tokens.weight" not in model.tensors:
        raise ExportError(f"{root} has no model.embed_tokens.weight: not a complete causal LM checkpoint")
    return model


def read_raw(ref: TensorRef) -> np.ndarray:
    """The tensor in its stored dtype (BF16 as uint16), read with one pread into a buffer of its own size."""
    buf = np.empty(ref.nbytes, dtype=np.uint8)
    fd = os.open(ref.file, os.O_RDONLY)
    try:
        got = os.preadv(fd, [memoryview(buf)], ref.offset)
    finally:
        os.close(fd)
    if got != ref.nbytes:
        raise ExportError(f"{ref.file.name} is truncated: short read for tensor {ref.name}")
    return buf.view(_DTYPES[ref.dtype]).reshape(ref.shape)


def to_f32(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Stored values as float32 (BF16 widened exactly by a 16-bit shift)."""
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    if dtype == "F32":
        return raw
    return raw.astype(np.float32)


def read_tensor(ref: TensorRef) -> np.ndarray:
    """The tensor as float32 in torch order."""
    return to_f32(read_raw(ref), ref.dtype)
