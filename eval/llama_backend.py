"""The llama.cpp completion backend (GGUF): streaming, stop sequences, max tokens, and reuse of the KV cache for
the prefix a request shares with the previous one (llama-cpp-python's generate() keeps the longest common token
prefix evaluated; `reuse=False` drops it to measure cold requests)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from eval.completion import BackendError, Completion, ContextLengthError
from eval.prompts import detect_fim, truncate_at_stops


class LlamaBackend:
    kind = "llama.cpp"

    def __init__(self, gguf_path: Path | str, *, n_ctx: int = 4096, n_threads: int | None = None, seed: int = 42,
                 prefill_chunk: int = 256, **llama_options):
        """`prefill_chunk`: the prompt is evaluated in pieces of this many tokens, `cancel` checked between them;
        `llama_options` go to llama_cpp.Llama as they are (n_batch, n_ubatch, flash_attn, ...)."""
        from llama_cpp import Llama

        self.path = Path(gguf_path)
        if not self.path.is_file():
            raise BackendError(f"{self.path} does not exist")
        try:
            self.llm = Llama(str(self.path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                             n_threads_batch=n_threads or os.cpu_count(), seed=seed, verbose=False,
                             **llama_options)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp cannot load {self.path.name}: {exc}") from None
        self.seed = seed
        self.n_ctx = n_ctx
        self.prefill_chunk = max(1, prefill_chunk)
        self.fim = detect_fim(self._is_single_token)
        self._lock = threading.Lock()
        self._chat_formatter = None

    def _is_single_token(self, text: str) -> bool:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True)) == 1

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, add_bos=False))

    def chat_prompt(self, messages: list[dict]) -> str:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._chat_formatter is None:
            template = self.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise BackendError(f"{self.path.name} has no chat template; evaluate it as a base model")
            piece = lambda tid: self.llm.detokenize([tid], special=True).decode("utf-8", "replace") if tid >= 0 else ""
            self._chat_formatter = Jinja2ChatFormatter(template, eos_token=piece(self.llm.token_eos()),
                                                       bos_token=piece(self.llm.token_bos()))
        return self._chat_formatter(messages=messages).prompt

    def _prefill(self, tokens: list[int], cancel: threading.Event | None) -> int | None:
        """Evaluate all but the prompt's last token, keeping the prefix the cache shares with it, in pieces of
        `prefill_chunk` tokens with `cancel` checked between them (None when cancelled). generate() then finds the
        prefix cached and evaluates the last token itself. Returns the number of tokens reused from the cache."""
        llm = self.llm
        reused = 0
        for a, b in zip(llm._input_ids, tokens):
            if a != b:
                break
            reused += 1
        llm.n_tokens = min(llm.n_tokens, reused, len(tokens) - 1)  # eval() drops the cache past n_tokens
        for i in range(llm.n_tokens, len(tokens) - 1, self.prefill_chunk):
            if cancel is not None and cancel.is_set():
                return None
            llm.eval(tokens[i:min(i + self.prefill_chunk, len(tokens) - 1)])
        return reused

    def complete(self, prompt: str, *, max_tokens: int = 32, stop=(), temperature: float = 0.0, top_p: float = 0.95,
                 seed: int | None = None, reuse: bool = True, on_text: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None) -> Completion:
        """One completion; `on_text` gets each new piece of text as it is generated (stop sequences held back)."""
        import llama_cpp

        tokens = self.tokenize(prompt)
        if not tokens:
            raise BackendError("the prompt is empty")
        if len(tokens) + max_tokens > self.n_ctx:
            raise ContextLengthError(len(tokens), max_tokens, self.n_ctx)
        stops = tuple(s for s in stop if s)
        hold = max((len(s) for s in stops), default=1) - 1
        with self._lock:
            llm = self.llm
            if not reuse:
                llm.reset()
            llm.set_seed(self.seed if seed is None else seed)
            vocab = llm._model.vocab
            start = time.perf_counter()
            first = None
            out: list[int] = []
            text, emitted, stopped = "", 0, "max_tokens"
            reused = self._prefill(tokens, cancel)
            generation = () if reused is None else llm.generate(
                tokens, temp=temperature, top_p=top_p, top_k=40 if temperature > 0 else 1, min_p=0.0,
                repeat_penalty=1.0)
            if reused is None:
                stopped, reused = "cancelled", 0
            for token in generation:
                if first is None:
                    first = time.perf_counter()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    stopped = "eos"
                    break
                out.append(token)
                text = llm.detokenize(out, prev_tokens=tokens).decode("utf-8", "ignore")
                cut, which = truncate_at_stops(text, stops)
                if which is not None:
                    text, stopped = cut, "stop"
                    break
                if on_text and len(text) - hold > emitted:
                    on_text(text[emitted:len(text) - hold])
                    emitted = len(text) - hold
                if len(out) >= max_tokens:
                    break
                if cancel is not None and cancel.is_set():
                    stopped = "cancelled"
                    break
            end = time.perf_counter()
        if on_text and len(text) > emitted:
            on_text(text[emitted:])
        return Completion(text=text, ms_first_token=None if first is None else (first - start) * 1000,
                          ms_total=(end - start) * 1000, tokens=len(out), prompt_tokens=len(tokens),
                          reused_tokens=reused, stopped_by=stopped)

    def sample(self, prompt: str, n: int, *, max_tokens: int = 512, stop=(), temperature: float = 0.8,
               top_p: float = 0.95, seed: int | None = None, cancel: threading.Event | None = None) -> list[Completion]:
        """n samples of one prompt (the prompt is evaluated once; later samples reuse its KV cache)."""
        base = self.seed if seed is None else seed
        out = []
        for i in range(n):
            if cancel is not None and cancel.is_set():
                break
            out.append(self.complete(prompt, max_tokens=max_tokens, stop=stop, temperature=temperature,
                                     top_p=top_p, seed=base + i, cancel=cancel))
        return out

    def close(self) -> None:
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.close()
