"""The transformers completion backend (HF directory): greedy completions and batched sampling for pass@k.
First-token time comes from a stopping criterion that runs after each generated token."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from eval.completion import BackendError, Completion
from eval.prompts import detect_fim, truncate_at_stops


class HFBackend:
    kind = "transformers"

    def __init__(self, model_dir: Path | str, *, seed: int = 42, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = Path(model_dir)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self.model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise BackendError(f"transformers cannot load {self.path}: {str(exc).splitlines()[0]}") from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.seed = seed
        vocab = self.tokenizer.get_vocab()
        self.fim = detect_fim(lambda t: t in vocab)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat_prompt(self, messages: list[dict]) -> str:
        if not self.tokenizer.chat_template:
            raise BackendError(f"{self.path.name} has no chat template; evaluate it as a base model")
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _generate(self, prompt: str, n: int, max_tokens: int, stop, temperature: float, top_p: float, seed: int,
                  cancel: threading.Event | None) -> list[Completion]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        enc = self.tokenizer([prompt] * n, return_tensors="pt", add_special_tokens=True).to(self.device)
        prompt_len = enc["input_ids"].shape[1]
        stops = tuple(s for s in stop if s)
        tokenizer = self.tokenizer
        marks: dict = {}

        class Watch(StoppingCriteria):
            """Records the first token's time, honours cancel, and stops once every row hit a stop sequence."""

            def __call__(self, input_ids, scores, **kwargs):
                marks.setdefault("first", time.perf_counter())
                if cancel is not None and cancel.is_set():
                    marks["cancelled"] = True
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                if not stops:
                    return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                texts = tokenizer.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
                return torch.tensor([any(s in t for s in stops) for t in texts], device=input_ids.device)

        torch.manual_seed(seed)
        sampling = temperature > 0
        start = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=sampling,
                                      temperature=temperature if sampling else None, top_p=top_p if sampling else None,
                                      top_k=None, stopping_criteria=StoppingCriteriaList([Watch()]),
                                      pad_token_id=tokenizer.pad_token_id)
        end = time.perf_counter()
        results = []
        eos = tokenizer.eos_token_id
        for row in out[:, prompt_len:]:
            ids = row.tolist()
            stopped = "max_tokens"
            if eos is not None and eos in ids:
                ids, stopped = ids[:ids.index(eos)], "eos"
            text, which = truncate_at_stops(tokenizer.decode(ids, skip_special_tokens=True), stops)
            if which is not None:
                stopped = "stop"
            if marks.get("cancelled"):
                stopped = "cancelled"
            first = marks.get("first")
            results.append(Completion(text=text, ms_first_token=None if first is None else (first - start) * 1000,
                                      ms_total=(end - start) * 1000, tokens=len(ids), prompt_tokens=prompt_len,
                                      stopped_by=stopped))
        return results

    def complete(self, prompt: str, *, max_tokens: int = 32, stop=(), temperature: float = 0.0, top_p: float = 0.95,
                 seed: int | None = None, reuse: bool = True, on_text: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None) -> Completion:
        result = self._generate(prompt, 1, max_tokens, stop, temperature, top_p,
                                self.seed if seed is None else seed, cancel)[0]
        if on_text and result.text:
            on_text(result.text)
        return result

    def sample(self, prompt: str, n: int, *, max_tokens: int = 512, stop=(), temperature: float = 0.8,
               top_p: float = 0.95, seed: int | None = None, cancel: threading.Event | None = None,
               batch_size: int = 16) -> list[Completion]:
        """n samples of one prompt, generated in batches."""
        out: list[Completion] = []
        base = self.seed if seed is None else seed
        while len(out) < n and not (cancel is not None and cancel.is_set()):
            size = min(batch_size, n - len(out))
            out += self._generate(prompt, size, max_tokens, stop, temperature, top_p, base + len(out), cancel)
        return out

    def close(self) -> None:
        self.model = None
