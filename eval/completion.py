"""What every completion engine returns and raises, and the face it shows (`Backend`): the types the backends,
the suites and the server share. The backends import this module; `eval.backends` picks one for a path."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

from training.fim import FimFormat


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


class ContextLengthError(BackendError):
    """A prompt (plus the tokens asked for) that does not fit the context; carries the counts."""

    def __init__(self, prompt_tokens: int, max_tokens: int, n_ctx: int):
        super().__init__(f"prompt of {prompt_tokens} tokens + {max_tokens} exceeds the context of {n_ctx}")
        self.prompt_tokens, self.max_tokens, self.n_ctx = prompt_tokens, max_tokens, n_ctx


class Backend(Protocol):
    """A loaded model that completes text: llama.cpp for GGUF files, transformers for HF directories."""

    kind: str
    fim: FimFormat | None

    def count_tokens(self, text: str) -> int: ...

    def chat_prompt(self, messages: list[dict]) -> str: ...

    def complete(self, prompt: str, *, max_tokens: int = 32, stop=(), temperature: float = 0.0, top_p: float = 0.95,
                 seed: int | None = None, reuse: bool = True, on_text: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None) -> Completion: ...

    def sample(self, prompt: str, n: int, *, max_tokens: int = 512, stop=(), temperature: float = 0.8,
               top_p: float = 0.95, seed: int | None = None,
               cancel: threading.Event | None = None) -> list[Completion]: ...

    def close(self) -> None: ...
