"""HF tensor names -> GGUF tensor names, the Llama q/k row order, and the GGML type each tensor gets."""
from __future__ import annotations

import numpy as np

from export.errors import ExportError

# Output types written from Python (numpy); the 4-6 bit types (legacy Q4_0/Q4_1/Q5_0 and the K-quants) go through
# llama.cpp's quantizer (export.quantize). Q4_0 is what CPU serving prefers: llama.cpp repacks it for AVX2 at load.
PYTHON_TYPES = ("f32", "f16", "bf16", "q8_0")
LLAMA_CPP_TYPES = ("q4_0", "q4_1", "q5_0", "q4_k_m", "q5_k_m", "q6_k")
ALL_TYPES = PYTHON_TYPES + LLAMA_CPP_TYPES


def ggml_type(name: str):
    import gguf

    return {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
            "bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0}[name]


def file_type(name: str):
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[name]


class NameMap:
    """Maps the HF names of one architecture and depth to GGUF names; unknown tensors are refused by name."""

    SKIP_SUFFIXES = (".rotary_emb.inv_freq", ".attention.masked_bias", ".attention.bias")

    def __init__(self, arch: str, n_layers: int):
        import gguf

        self._arch = {"qwen2": gguf.MODEL_ARCH.QWEN2, "llama": gguf.MODEL_ARCH.LLAMA}[arch]
        self._map = gguf.get_tensor_name_map(self._arch, n_layers)
        self._allowed = gguf.MODEL_TENSORS[self._arch]

    def gguf_name(self, hf_name: str) -> str | None:
        """The GGUF name, or None for tensors llama.cpp recomputes (rotary inv_freq)."""
        if hf_name.endswith(self.SKIP_SUFFIXES):
            return None
        found = self._map.get_type_and_name(hf_name, try_suffixes=(".weight", ".bias"))
        if found is None or found[0] not in self._allowed:
            raise ExportError(f"cannot map tensor {hf_name!r} to GGUF for this architecture; "
                              "the exporter writes plain Qwen2/Llama causal LMs")
        return found[1]

    def module_name(self, hf_module: str) -> str:
        """GGUF base name of a module path (for LoRA: model.layers.0.self_attn.q_proj -> blk.0.attn_q)."""
        found = self._map.get_type_and_name(hf_module)
        if found is None or found[0] not in self._allowed:
            raise ExportError(f"cannot map module {hf_module!r} to GGUF")
        return found[1]


def llama_permute(data: np.ndarray, n_head: int) -> np.ndarray:
    """HF Llama stores q/k rows in rotate-half order; llama.cpp's Llama expects interleaved pairs per head."""
    rows = data.shape[0]
    return (data.reshape(n_head, 2, rows // n_head // 2, *data.shape[1:])
            .swapaxes(1, 2).reshape(data.shape))


def needs_permute(arch: str, hf_name: str) -> str | None:
    """'q' or 'k' where a Llama weight or bias (or a LoRA B on those modules) must be permuted."""
    if arch != "llama":
        return None
    if ".self_attn.q_proj." in hf_name or hf_name.endswith(".self_attn.q_proj"):
        return "q"
    if ".self_attn.k_proj." in hf_name or hf_name.endswith(".self_attn.k_proj"):
        return "k"
    return None


def tensor_type(gguf_name: str, shape: tuple[int, ...], out_type: str):
    """The GGML type one tensor is written in: 1-D tensors, norms and biases stay F32; Q8_0 needs rows of 32."""
    import gguf

    if len(shape) <= 1 or gguf_name.endswith("_norm.weight") or not gguf_name.endswith(".weight"):
        return gguf.GGMLQuantizationType.F32
    qtype = ggml_type(out_type)
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if shape[-1] % block != 0:
        return gguf.GGMLQuantizationType.F16  # what llama.cpp's converter falls back to
    return qtype


def encode(data: np.ndarray, qtype) -> np.ndarray:
    """float32 -> the bytes (or float array) gguf-py writes for `qtype`."""
    import gguf

    if qtype == gguf.GGMLQuantizationType.F32:
        return np.ascontiguousarray(data, dtype=np.float32)
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16)
    return gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), qtype)


def encoded_nbytes(shape: tuple[int, ...], qtype) -> int:
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    count = int(np.prod(shape)) if shape else 1
    return count // block * type_size
