"""The completion engine's common face: a Completion record and `open_backend` (GGUF → llama.cpp, HF dir →
transformers). Both backends expose the same methods: complete, sample, chat_prompt, count_tokens, fim, close."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Completion:
    text: str
    ms_first_token: float | None
    ms_total: float
    tokens: int
    prompt_tokens: int
    reused_tokens: int = 0
    stopped_by: str = "max_tokens"  # max_tokens | stop | eos | cancelled
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / (self.ms_total / 1000) if self.ms_total > 0 else 0.0

    def as_dict(self) -> dict:
        return {"text": self.text, "ms_first_token": self.ms_first_token, "ms_total": self.ms_total,
                "tokens": self.tokens, "prompt_tokens": self.prompt_tokens, "reused_tokens": self.reused_tokens,
                "stopped_by": self.stopped_by, "tokens_per_second": self.tokens_per_second}


class BackendError(RuntimeError):
    """A model the engine cannot load or run (one line for the user)."""


def open_backend(path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None, seed: int = 42):
    """A LlamaBackend for a .gguf file, a HFBackend for a HF model directory."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".gguf":
        from eval.llama_backend import LlamaBackend

        return LlamaBackend(path, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
    if path.is_dir() and (path / "config.json").is_file():
        from eval.hf_backend import HFBackend

        return HFBackend(path, seed=seed)
    raise BackendError(f"{path} is neither a .gguf file nor a HF model directory")
