"""`export`: a model id or a HF directory -> GGUF files (or a LoRA adapter GGUF), each verified, then recorded.

Each file is written beside its target under a temp name, verified there, and renamed only when it passed;
a failing file is deleted and never recorded. Artifacts: kind "gguf" / "gguf-adapter" with quant_type, sha256
and size; the model's gguf_path is set when it has none.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable

from app.errors import StudioError
from app.ids import folder_name
from app.workspace import Workspace

FLOAT_PREFERENCE = ("f32", "bf16", "f16")


def _types(types: Iterable[str] | str, adapter: bool) -> list[str]:
    from export.adapter import ADAPTER_TYPES
    from export.tensor_names import ALL_TYPES

    if isinstance(types, str):
        types = types.split(",")
    out = list(dict.fromkeys(t.strip().lower() for t in types if t.strip()))
    allowed = ADAPTER_TYPES if adapter else ALL_TYPES
    bad = [t for t in out if t not in allowed]
    if bad or not out:
        raise StudioError(f"unknown export type {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
    return out


def _resolve(store, source: str, adapter: bool) -> dict:
    """What to export: {model_id, row, hf_dir, adapter_dir, base_dir, name}."""
    row = None if Path(source).expanduser().exists() else store.model(source)
    if row is not None:
        if adapter:
            adapter_dir = (row.get("details") or {}).get("adapter_path")
            if not adapter_dir or not row.get("parent_id"):
                raise StudioError(f"{source} has no LoRA adapter to export (train it first, or export the model)")
            base = store.require_model(row["parent_id"])
            if not base.get("path"):
                raise StudioError(f"the base {base['id']} of {source} has no HF weights to apply the adapter to")
            return {"model_id": source, "row": row, "adapter_dir": Path(adapter_dir), "base_dir": Path(base["path"]),
                    "name": source}
        if not row.get("path"):
            raise StudioError(f"{source} has no HF weights yet (merge it first: `blackroad-studio merge {source}`)")
        return {"model_id": source, "row": row, "hf_dir": Path(row["path"]), "name": source}
    path = Path(source).expanduser()
    if not path.exists():
        raise StudioError(f"{source} is neither a model id of this workspace nor an existing directory")
    if not path.is_dir():
        raise StudioError(f"{source} is a file; export takes a model id or a HF model directory")
    path = path.resolve()
    if adapter:
        from export.adapter import read_adapter_config
        from export.errors import ExportError

        try:
            cfg = read_adapter_config(path)
        except ExportError as exc:
            raise StudioError(str(exc)) from None
        base = cfg.get("base_model_name_or_path")
        if not base or not Path(base).is_dir():
            raise StudioError(f"the adapter's base model {base!r} is not a local directory; export it by model id")
        return {"model_id": None, "row": None, "adapter_dir": path, "base_dir": Path(base), "name": path.name}
    return {"model_id": None, "row": None, "hf_dir": path, "name": path.name}


def _meta(store, target: dict):
    from export.writer import ExportMeta

    row = target["row"]
    if row is None:
        return ExportMeta(name=target["name"])
    chain = store.chain(row["id"])
    bases = []
    for anc in chain[1:] if len(chain) > 1 else chain:
        if anc["stage"] == "forkies":
            upstream = (anc.get("details") or {}).get("upstream", {})
            bases.append({"name": upstream.get("upstream") or upstream.get("hub_id") or anc["source"] or anc["id"],
                          "version": anc.get("version"), "organization": None,
                          "repo_url": f"https://huggingface.co/{upstream['hub_id']}" if upstream.get("hub_id") else None})
    return ExportMeta(name=row["id"], version=row.get("version"), license=row.get("license"), model_id=row["id"],
                      description=f"exported by blackroad-studio from {row['id']}", base_models=bases)


def _record(store, kind: str, path: Path, qtype: str, target: dict, run_id: str | None, report: dict,
            summary: dict) -> dict:
    from training.fileio import sha256_file, size_of

    sha, size = sha256_file(path), size_of(path)
    store.add_artifact(kind, path, sha, size, model_id=target["model_id"], run_id=run_id, quant_type=qtype,
                       verify=report, **summary)
    return {"path": str(path), "type": qtype, "sha256": sha, "size_bytes": size, "verify": report}


def export(ws: Workspace, source: str, types: Iterable[str] | str = ("f16",), out: Path | str | None = None,
           adapter: bool = False, verify: str = "logits", progress: Callable[[dict], None] | None = None,
           cancel: threading.Event | None = None) -> dict:
    """Export SOURCE as GGUF files of `types` (or its adapter with `adapter=True`); returns {"artifacts": [...]}."""
    from export.errors import ExportError
    from export.parity import VERIFY_LEVELS
    from training.cancel import Cancelled

    type_list = _types(types, adapter)
    if verify not in VERIFY_LEVELS:
        raise StudioError(f"unknown verify level {verify!r}; choose from {', '.join(VERIFY_LEVELS)}")
    store = ws.store()
    try:
        target = _resolve(store, source, adapter)
        out_dir = Path(out).expanduser().resolve() if out else ws.dir("artifacts") / folder_name(target["name"])
        stem = folder_name(target["name"])
        files = {t: out_dir / (f"{stem}-lora-{t}.gguf" if adapter else f"{stem}-{t}.gguf") for t in type_list}
        existing = [str(p) for p in files.values() if p.exists()]
        if existing:
            raise StudioError(f"{existing[0]} already exists; remove it or choose another --out")
        config = {"types": type_list, "adapter": adapter, "verify": verify, "out": str(out_dir)}
        # a bare directory has no model to record a run for; a model id gets one
        recording = (store.run("export", model_id=target["model_id"], config=config) if target["model_id"]
                     else contextlib.nullcontext())
        with recording as run:
            run_id = run.id if run is not None else None
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
                worker = _adapter_export if adapter else _model_export
                artifacts, effective = worker(store, target, files, verify, run_id, progress, cancel)
            except OSError as exc:
                raise StudioError(f"cannot write under {out_dir}: {exc.strerror or exc}") from None
            except Cancelled:
                raise
            except ExportError as exc:
                raise StudioError(str(exc)) from None
            row = target["row"]
            if row is not None and not adapter and not row.get("gguf_path") and artifacts:
                store.update("models", "id", row["id"], {"gguf_path": artifacts[0]["path"]})
            result = {"artifacts": artifacts, "model": target["model_id"], "run": run_id, "verify": effective,
                      "out": str(out_dir)}
            if run is not None:
                run.result = result
        return result
    except Cancelled:
        raise StudioError("export cancelled; no file was kept") from None
    finally:
        store.close()


def _effective_verify(model, verify: str, progress) -> str:
    """`logits` where the model fits comfortably in memory, else `tensors` (said on progress)."""
    import numpy as np

    from training.memory import available_bytes

    if verify != "logits":
        return verify
    params = sum(int(np.prod(t.shape)) for t in model.tensors.values())
    need = params * 4 * 2  # torch's f32 copy in the child, and llama.cpp's f32 (or smaller) copy
    if need > 0.6 * available_bytes("cpu"):
        if progress is not None:
            progress({"event": "log", "message": "model too large to compare logits comfortably in memory; "
                                                 "verifying tensors instead"})
        return "tensors"
    return verify


class _Staging:
    """Temp files beside their targets; `publish` renames the verified ones, leaving removes the rest."""

    def __init__(self, files: dict[str, Path]):
        self.targets = files
        self.tmp: dict[str, Path] = {}

    def path(self, qtype: str) -> Path:
        target = self.targets[qtype]
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        self.tmp[qtype] = Path(name)
        return self.tmp[qtype]

    def publish(self) -> None:
        for qtype, tmp in list(self.tmp.items()):
            os.replace(tmp, self.targets[qtype])
            del self.tmp[qtype]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for tmp in self.tmp.values():
            tmp.unlink(missing_ok=True)


def _model_export(store, target, files, verify, run_id, progress, cancel):
    """Write every float/Q8_0 type, then the K-quants from a lossless float GGUF; verify all; then publish."""
    from export import parity
    from export.hf_source import open_model
    from export.quantize import quantize
    from export.tensor_names import LLAMA_CPP_TYPES
    from export.vocab import load_vocab
    from export.writer import write_gguf

    model = open_model(target["hf_dir"])
    vocab = load_vocab(target["hf_dir"], model.vocab_rows)
    meta = _meta(store, target)
    level = _effective_verify(model, verify, progress)
    summaries: dict[str, dict] = {}
    with _Staging(files) as staging, \
            tempfile.TemporaryDirectory(prefix=".export-", dir=next(iter(files.values())).parent) as scratch:
        for qtype in files:
            if qtype not in LLAMA_CPP_TYPES:
                summaries[qtype] = write_gguf(model, vocab, staging.path(qtype), qtype, meta, progress, cancel)
        kquants = [t for t in files if t in LLAMA_CPP_TYPES]
        checks = [(staging.tmp[t], t) for t in summaries]
        source_float = next((t for t in FLOAT_PREFERENCE if t in summaries), None)
        if kquants and source_float is None:  # the K-quants start from a lossless float file, checked like the rest
            source_float = _lossless_float(model)
            inter = Path(scratch) / f"intermediate-{source_float}.gguf"
            write_gguf(model, vocab, inter, source_float, meta, progress, cancel)
            checks.append((inter, source_float))
        for qtype in kquants:
            inter_path = staging.tmp.get(source_float) or Path(scratch) / f"intermediate-{source_float}.gguf"
            quantize(inter_path, staging.path(qtype), qtype, progress, cancel)
            summaries[qtype] = {"quantized_from": source_float}
            checks.append((staging.tmp[qtype], qtype))
        reports = parity.verify_files(model, checks, level, progress=progress, cancel=cancel)
        by_path = {str(path): report for (path, _), report in zip(checks, reports)}
        staging_paths = {t: str(p) for t, p in staging.tmp.items()}
        staging.publish()
    return [_record(store, "gguf", files[t], t, target, run_id,
                    {**by_path[staging_paths[t]], **({"quantized_from": source_float} if t in LLAMA_CPP_TYPES else {})},
                    summaries[t]) for t in files], level


def _lossless_float(model) -> str:
    """The float type that holds the source weights exactly (the K-quants' starting point)."""
    dtypes = {t.dtype for t in model.tensors.values()}
    if dtypes <= {"BF16"}:
        return "bf16"
    if dtypes <= {"F16"}:
        return "f16"
    return "f32"


def _adapter_export(store, target, files, verify, run_id, progress, cancel):
    """Write the adapter in each type; with `logits`, apply each in llama.cpp on an exact f32 base GGUF and compare
    with peft's merged model in torch."""
    from export import parity
    from export.adapter import plan_adapter, write_adapter
    from export.hf_source import open_model
    from export.vocab import load_vocab
    from export.writer import write_gguf

    base = open_model(target["base_dir"])
    plan_adapter(base, target["adapter_dir"])  # refuse a misfit adapter before writing anything
    meta = _meta(store, target)
    level = _effective_verify(base, verify, progress)
    summaries = {}
    with _Staging(files) as staging, \
            tempfile.TemporaryDirectory(prefix=".adapter-base-", dir=next(iter(files.values())).parent) as scratch:
        for qtype in files:
            summaries[qtype] = write_adapter(base, target["adapter_dir"], staging.path(qtype), qtype, meta,
                                             progress, cancel)
        base_gguf = None
        if level != "none":
            base_gguf = Path(scratch) / "base-f32.gguf"
            write_gguf(base, load_vocab(target["base_dir"], base.vocab_rows), base_gguf, "f32", meta, progress, cancel)
        checks = [(staging.tmp[t], t) for t in files]
        reports = parity.verify_files(base, checks, "logits" if level != "none" else "none",
                                      adapter_dir=str(target["adapter_dir"]), base_gguf=base_gguf,
                                      progress=progress, cancel=cancel)
        staging.publish()
    return [_record(store, "gguf-adapter", files[t], t, target, run_id, r, summaries[t])
            for t, r in zip(files, reports)], level
