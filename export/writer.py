"""HF (Qwen2, Llama) -> GGUF over gguf-py, tensors streamed: plan every tensor's type and size from the safetensors
headers, write the header, then read, convert and write one tensor at a time.

Types written here: f32, f16, bf16, q8_0 (the K-quants start from one of these: export.quantize).
"""
from __future__ import annotations

import contextlib
import errno
import math
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from export import tensor_names as tn
from export.errors import ExportError
from training.cancel import Cancelled  # noqa: F401  (re-exported for the export engine's modules)
from export.hf_source import HFModel
from export.vocab import Vocab, add_to_writer

STUDIO_MODEL_ID_KEY = "blackroad.model_id"
CHUNK_ROWS_BYTES = 32 << 20  # large tensors are converted this many float32 bytes of rows at a time
DISK_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)




def is_disk_full(exc: OSError) -> bool:
    """ENOSPC/EFBIG/EDQUOT, or numpy's short write ("N requested and M written"), which has no errno."""
    return exc.errno in DISK_ERRNOS or (exc.errno is None and "requested and" in str(exc))


@contextlib.contextmanager
def writing(writer, out_path: Path) -> Iterator[None]:
    """Write the header, metadata and tensor infos; the block writes the tensor data; then flush and close.

    An OSError becomes a one-line ExportError that names a full disk as such.
    """
    try:
        writer.write_header_to_file(path=out_path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        yield
        writer.flush()
    except OSError as exc:
        if is_disk_full(exc):
            raise ExportError(f"disk full while writing {out_path.name} ({exc.strerror or exc})") from None
        raise ExportError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    finally:
        writer.close()


@dataclass
class ExportMeta:
    """general.* metadata: what the model is called and where it came from."""
    name: str
    version: str | None = None
    license: str | None = None
    model_id: str | None = None
    description: str | None = None
    base_models: list[dict] = field(default_factory=list)  # {"name", "organization", "version", "repo_url"}


@dataclass
class PlannedTensor:
    hf_name: str | None  # None for generated tensors (rope_freqs)
    gguf_name: str
    shape: tuple[int, ...]  # torch order
    qtype: object
    nbytes: int


def _rope_freqs(model: HFModel) -> np.ndarray:
    """Llama 3 rope scaling as llama.cpp wants it: per-frequency factors in a rope_freqs tensor."""
    rope = model.rope
    base, dim = rope["rope_theta"], model.head_dim
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor = rope.get("factor", 8.0)
    low, high = rope.get("low_freq_factor", 1.0), rope.get("high_freq_factor", 4.0)
    old_ctx = rope.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


def plan(model: HFModel, out_type: str) -> list[PlannedTensor]:
    """Every tensor of the GGUF in order, with its GGML type and byte size; refuses incomplete checkpoints."""
    import gguf

    names = tn.NameMap(model.arch, model.n_layers)
    planned: list[PlannedTensor] = []
    if model.rope["rope_type"] == "llama3":
        shape = (model.head_dim // 2,)
        planned.append(PlannedTensor(None, "rope_freqs.weight", shape, gguf.GGMLQuantizationType.F32, shape[0] * 4))
    has_head = "lm_head.weight" in model.tensors
    if not model.tied and not has_head:
        raise ExportError(f"{model.root} has untied embeddings but no lm_head.weight")
    for hf_name, ref in model.tensors.items():
        if hf_name == "lm_head.weight" and model.tied:
            continue  # llama.cpp reuses token_embd when output.weight is absent
        gguf_name = names.gguf_name(hf_name)
        if gguf_name is None:
            continue
        qtype = tn.tensor_type(gguf_name, ref.shape, out_type)
        planned.append(PlannedTensor(hf_name, gguf_name, ref.shape, qtype, tn.encoded_nbytes(ref.shape, qtype)))
    return planned


def _add_hparams(writer, model: HFModel) -> None:
    import gguf

    cfg = model.config
    writer.add_context_length(int(cfg.get("max_position_embeddings") or 2048))
    writer.add_embedding_length(int(cfg["hidden_size"]))
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_block_count(model.n_layers)
    writer.add_head_count(model.n_heads)
    writer.add_head_count_kv(model.n_kv_heads)
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    rope = model.rope
    writer.add_rope_freq_base(float(rope["rope_theta"]))  # always: llama.cpp silently defaults to 10000
    writer.add_rope_dimension_count(model.head_dim)
    if cfg.get("head_dim") and int(cfg["head_dim"]) != int(cfg["hidden_size"]) // model.n_heads:
        writer.add_key_length(model.head_dim)
        writer.add_value_length(model.head_dim)
    if model.arch == "llama":
        writer.add_vocab_size(model.vocab_rows)
    kind = rope["rope_type"]
    if kind in ("default", None, "llama3"):
        pass  # llama3 travels as the rope_freqs tensor
    elif kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
    elif kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(rope["factor"]))
        writer.add_rope_scaling_orig_ctx_len(int(rope["original_max_position_embeddings"]))
        for key, add in (("extrapolation_factor", writer.add_rope_scaling_yarn_ext_factor),
                         ("attention_factor", writer.add_rope_scaling_yarn_attn_factor),
                         ("beta_fast", writer.add_rope_scaling_yarn_beta_fast),
                         ("beta_slow", writer.add_rope_scaling_yarn_beta_slow)):
            if rope.get(key) is not None:
                add(float(rope[key]))
    else:
        raise ExportError(f"unsupported rope scaling {kind!r}: the exporter writes default, linear, yarn and llama3")


def add_general(writer, meta: ExportMeta, file_type=None) -> None:
    import gguf

    writer.add_name(meta.name)
    if meta.version:
        writer.add_version(meta.version)
    if meta.license:
        writer.add_license(meta.license)
    if meta.description:
        writer.add_description(meta.description)
    if meta.model_id:
        writer.add_string(STUDIO_MODEL_ID_KEY, meta.model_id)
    if meta.base_models:
        writer.add_base_model_count(len(meta.base_models))
        for i, base in enumerate(meta.base_models):
            for key, add in (("name", writer.add_base_model_name), ("organization", writer.add_base_model_organization),
                             ("version", writer.add_base_model_version), ("repo_url", writer.add_base_model_repo_url)):
                if base.get(key):
                    add(i, str(base[key]))
    if file_type is not None:
        writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def check_disk(out_path: Path, needed: int) -> None:
    free = shutil.disk_usage(out_path.parent).free
    if free < needed:
        raise ExportError(f"not enough disk space in {out_path.parent}: the GGUF needs {needed:,} bytes, "
                          f"{free:,} are free")


def tensor_data(model: HFModel, item: PlannedTensor) -> np.ndarray:
    """The float32 source of one planned tensor in torch order, with Llama's q/k rows permuted for llama.cpp."""
    if item.hf_name is None:
        return _rope_freqs(model)
    data = model.read(item.hf_name)
    which = tn.needs_permute(model.arch, item.hf_name)
    if which is not None:
        data = tn.llama_permute(data, model.n_heads if which == "q" else model.n_kv_heads)
    return data


def _encoded(model: HFModel, item: PlannedTensor) -> np.ndarray:
    """One tensor converted for the file; big plain tensors row chunk by row chunk, so the float32 copy of an
    embedding matrix never exists whole (peak: the stored tensor plus its encoded form)."""
    from export.hf_source import read_raw, to_f32

    big = item.hf_name is not None and len(item.shape) == 2 and tn.needs_permute(model.arch, item.hf_name) is None \
        and item.shape[1] * 4 * 2 <= CHUNK_ROWS_BYTES and int(np.prod(item.shape)) * 4 > CHUNK_ROWS_BYTES
    if not big:
        data = tensor_data(model, item)
        if not np.isfinite(data).all():
            raise ExportError(f"tensor {item.hf_name} has NaN or infinite values; refusing to export it")
        return tn.encode(data, item.qtype)
    ref = model.tensors[item.hf_name]
    raw = read_raw(ref)
    step = max(1, CHUNK_ROWS_BYTES // (item.shape[1] * 4))
    out = None
    for start in range(0, item.shape[0], step):
        chunk = to_f32(raw[start:start + step], ref.dtype)
        if not np.isfinite(chunk).all():
            raise ExportError(f"tensor {item.hf_name} has NaN or infinite values; refusing to export it")
        enc = tn.encode(chunk, item.qtype)
        if out is None:
            out = np.empty((item.shape[0], *enc.shape[1:]), dtype=enc.dtype)
        out[start:start + len(enc)] = enc
    return out


def write_gguf(model: HFModel, vocab: Vocab, out_path: Path | str, out_type: str, meta: ExportMeta,
               progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Write `model` as a GGUF of `out_type` at `out_path` (the caller makes it atomic); returns a summary."""
    import gguf

    if out_type not in tn.PYTHON_TYPES:
        raise ExportError(f"type {out_type!r} is not written from Python; use one of {', '.join(tn.PYTHON_TYPES)}")
    out_path = Path(out_path)
    items = plan(model, out_type)
    total = sum(t.nbytes for t in items)
    check_disk(out_path, total + 64 * len(vocab.tokens) + (1 << 20))
    writer = gguf.GGUFWriter(path=None, arch=model.arch)
    writer.add_type(gguf.GGUFType.MODEL)
    add_general(writer, meta, tn.file_type(out_type))
    _add_hparams(writer, model)
    add_to_writer(writer, vocab)
    for item in items:
        writer.add_tensor_info(item.gguf_name, item.shape, np.dtype(np.float32), item.nbytes, raw_dtype=item.qtype)
    counts: dict[str, int] = {}
    with writing(writer, out_path):
        done = 0
        for i, item in enumerate(items):
            if cancel is not None and cancel.is_set():
                raise Cancelled("export cancelled")
            writer.write_tensor_data(_encoded(model, item))
            counts[item.qtype.name] = counts.get(item.qtype.name, 0) + 1
            done += item.nbytes
            if progress is not None:
                progress({"event": "tensor", "index": i + 1, "count": len(items), "name": item.gguf_name,
                          "type": item.qtype.name, "bytes_done": done, "bytes_total": total,
                          "message": f"[{i + 1}/{len(items)}] {item.gguf_name} {item.qtype.name}"})
    return {"tensors": len(items), "tensor_types": counts, "tensor_bytes": total}
