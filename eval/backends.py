"""Which completion engine runs a model: `open_backend` (GGUF -> llama.cpp, HF dir -> transformers).
Both backends implement `eval.completion.Backend`."""
from __future__ import annotations

from pathlib import Path

from eval.completion import Backend, BackendError, Completion, ContextLengthError  # noqa: F401  (the engine's face)


def open_backend(path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None, seed: int = 42) -> Backend:
    """A LlamaBackend for a .gguf file, a HFBackend for a HF model directory."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".gguf":
        from eval.llama_backend import LlamaBackend

        return LlamaBackend(path, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
    if path.is_dir() and (path / "config.json").is_file():
        from eval.hf_backend import HFBackend

        return HFBackend(path, seed=seed)
    raise BackendError(f"{path} is neither a .gguf file nor a HF model directory")
