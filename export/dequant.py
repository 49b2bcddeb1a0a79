"""A GGUF's own weights back in Hugging Face form: every tensor dequantized with gguf-py (every GGML type, the
K-quants included), mapped to its HF name and, for Llama's q/k, put back in HF's rotate-half row order.

The parity check runs torch on these weights: what llama.cpp computes from the file should then equal what torch
computes from the same numbers under the HF config, up to llama.cpp's activation rounding, whatever the type.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from export import tensor_names as tn
from export.errors import ParityError
from export.hf_source import HFModel


def llama_unpermute(data: np.ndarray, n_head: int) -> np.ndarray:
    """The inverse of tensor_names.llama_permute: llama.cpp's interleaved q/k rows back to HF's rotate-half."""
    rows = data.shape[0]
    return (data.reshape(n_head, rows // n_head // 2, 2, *data.shape[1:])
            .swapaxes(1, 2).reshape(data.shape))


def iter_hf_weights(model: HFModel, gguf_path: Path | str) -> Iterator[tuple[str, np.ndarray, str]]:
    """(HF name, float32 array in torch order, GGML type name) for every HF weight the GGUF holds, one at a time.

    Tensors llama.cpp generates (rope_freqs) have no HF weight and are skipped; a tensor the file lacks, or holds
    in another shape, is a ParityError('tensors')."""
    import gguf

    from export.writer import plan

    reader = gguf.GGUFReader(str(gguf_path))
    by_name = {t.name: t for t in reader.tensors}
    for item in plan(model, "f32"):
        if item.hf_name is None:
            continue
        t = by_name.get(item.gguf_name)
        if t is None:
            raise ParityError("tensors", f"{Path(gguf_path).name} has no tensor {item.gguf_name}")
        got = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
        if got.size != int(np.prod(item.shape)):
            raise ParityError("tensors", f"{item.gguf_name} holds {got.size} values; {item.hf_name} has "
                                         f"{int(np.prod(item.shape))}")
        got = np.ascontiguousarray(got.reshape(item.shape), dtype=np.float32)
        which = tn.needs_permute(model.arch, item.hf_name)
        if which is not None:
            got = llama_unpermute(got, model.n_heads if which == "q" else model.n_kv_heads)
        yield item.hf_name, got, t.tensor_type.name
    del reader


def load_into(torch_model, model: HFModel, gguf_path: Path | str) -> dict[str, int]:
    """Overwrite every parameter of a transformers model built from `model`'s config with the GGUF's dequantized
    weights (a tied lm_head follows its embedding); returns how many tensors of each GGML type were loaded.
    A parameter the file does not supply is a ParityError('tensors'): torch would otherwise keep other weights."""
    import torch

    params = dict(torch_model.named_parameters(remove_duplicate=True))
    filled: set[str] = set()
    types: dict[str, int] = {}
    with torch.no_grad():
        for name, data, qtype in iter_hf_weights(model, gguf_path):
            param = params.get(name)
            if param is None:
                continue  # lm_head.weight of a tied model: the embedding it shares was (or will be) loaded
            if tuple(param.shape) != data.shape:
                raise ParityError("tensors", f"{name}: the file's shape {data.shape} differs from the model's "
                                             f"{tuple(param.shape)}")
            param.copy_(torch.from_numpy(data))
            filled.add(name)
            types[qtype] = types.get(qtype, 0) + 1
    missing = sorted(set(params) - filled)
    if missing:
        raise ParityError("tensors", f"{Path(gguf_path).name} supplies no weights for {missing[:3]}")
    return types
