"""The child process of the parity check: tokenization and logits of a GGUF (through llama.cpp) against transformers.

Run as `python -m export.parity_child '<json args>'`; prints one JSON object (the measurements) on its last stdout
line. It runs apart from the export so that torch, the HF model and llama.cpp's copy are freed when it exits, and
so that a crash inside llama.cpp becomes a failed check instead of a dead exporter.
"""
from __future__ import annotations

import json
import sys

import numpy as np

PROBES = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n    return c\n<|fim_middle|>c = a + b",
    "<fim_prefix>import os\n<fim_suffix>\nprint(path)<fim_middle>path = os.getcwd()",
    "Unicode: café, naïve, 東京, Ελληνικά, emoji 🚀✅, ümlaut — dash…",
    "\tindented\twith\ttabs\n\t\tand more\t\n    spaces   trailing   \n\n\n",
    "digits 0 1 12 123 1234 12345 3.14159 1e-9 0x1F 1_000_000",
    "<|im_start|>user\nWrite a function.<|im_end|>\n<|im_start|>assistant\n",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name; -- it's \"quoted\" 'text'",
    "export const f = (x: number): string => `${x}`;\n",
    "",
    " leading space and  double  spaces",
]


def _tokenize(args: dict) -> dict:
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(args["hf_dir"])
    llm = Llama(args["gguf"], vocab_only=True, verbose=False)
    mismatches = []
    for text in PROBES:
        want = list(hf(text)["input_ids"])
        got = list(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        if want != got:
            mismatches.append({"text": text[:60], "transformers": want[:24], "llama_cpp": got[:24]})
    del llm
    return {"probes": len(PROBES), "mismatches": mismatches}


# Real code for the logits check: top-1 agreement over a few hundred positions of a handful of probes is too noisy
# to hold a 95% gate (a trained 135M model measured 94.7% on ~150 positions). These standard-library modules are
# fixed for a given Python and read like the code the studio trains on.
CODE_CORPUS_MODULES = ("textwrap", "heapq", "bisect")


def _code_corpus() -> list[str]:
    import importlib
    import inspect

    return [inspect.getsource(importlib.import_module(name)) for name in CODE_CORPUS_MODULES]


def _token_batches(hf_dir: str, max_len: int, corpus_tokens: int = 768) -> list[list[int]]:
    """Probe texts cut at max_len tokens, then windows of real code until corpus_tokens more positions."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_dir)
    out = []
    for text in PROBES[:4] + PROBES[5:7]:
        ids = list(tok(text)["input_ids"])[:max_len]
        if len(ids) >= 2:
            out.append(ids)
    window = max(max_len, 128)
    remaining = corpus_tokens
    for text in _code_corpus():
        ids = list(tok(text)["input_ids"])
        for start in range(0, len(ids) - 1, window):
            if remaining <= 0:
                return out
            chunk = ids[start:start + min(window, remaining)]
            if len(chunk) >= 2:
                out.append(chunk)
                remaining -= len(chunk)
    return out


def _torch_logits(args: dict, batches: list[list[int]]) -> list[np.ndarray]:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = AutoModelForCausalLM.from_pretrained(args["hf_dir"], dtype=torch.float32)
    if args.get("adapter_dir"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args["adapter_dir"]).merge_and_unload()
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].float().numpy() for ids in batches]


def _gguf_logits(path: str, batches: list[list[int]], lora: str | None = None) -> list[np.ndarray]:
    from llama_cpp import Llama

    n_ctx = max(len(b) for b in batches) + 8
    # An F32 KV cache: llama.cpp's default F16 cache alone moved a trained SmolLM2's F32 logits by 1.8e-3 of the
    # logit scale over 128-token windows (3e-6 with F32); the check is of the file, not of the runtime's cache type.
    llm = Llama(path, n_ctx=n_ctx, logits_all=True, verbose=False, lora_path=lora, seed=0,
                type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    if lora and not llm._lora_adapter:  # 0.3.x does not always raise when an adapter fails to load
        raise RuntimeError(f"llama.cpp did not load the adapter {lora}")
    out = []
    for ids in batches:
        llm.reset()
        llm.eval(ids)
        out.append(np.array(llm.scores[:len(ids)], dtype=np.float32))
    del llm
    return out


GGML_TYPE_F32 = 0
NEAR_TIE = 0.0025  # a reference top-2 margin under this share of the logit scale is a tie 8-bit rounding may flip


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def compare(ref: list[np.ndarray], got: list[np.ndarray]) -> dict:
    """Agreement of two logit sets: max abs diff, the logit scale, top-1 agreement (raw and outside near-ties), KL."""
    ref_all, got_all = np.concatenate(ref), np.concatenate(got)
    if ref_all.shape != got_all.shape:
        n = min(ref_all.shape[-1], got_all.shape[-1])
        ref_all, got_all = ref_all[..., :n], got_all[..., :n]
    diff = np.abs(ref_all - got_all)
    scale = float(np.abs(ref_all).max())
    top_ref, top_got = ref_all.argmax(-1), got_all.argmax(-1)
    ordered = np.sort(ref_all, axis=-1)
    margin = ordered[:, -1] - ordered[:, -2]
    max_diff = float(diff.max())
    clear = margin > 2 * max_diff
    untied = margin > NEAR_TIE * scale
    lp, lq = _log_softmax(ref_all.astype(np.float64)), _log_softmax(got_all.astype(np.float64))
    kl = float((np.exp(lp) * (lp - lq)).sum(-1).mean())
    return {"positions": int(ref_all.shape[0]), "max_abs_diff": max_diff, "logit_scale": scale,
            "relative_diff": max_diff / scale if scale else 0.0,
            "top1_agreement": float((top_ref == top_got).mean()),
            "top1_agreement_clear": float((top_ref == top_got)[clear].mean()) if clear.any() else 1.0,
            "top1_agreement_untied": float((top_ref == top_got)[untied].mean()) if untied.any() else 1.0,
            "kl_mean": kl}


def main(args: dict) -> dict:
    """Check every file of args["files"] (model GGUFs, or LoRA GGUFs on args["base"]) with one torch reference."""
    loras = bool(args.get("base"))
    models = [args["base"]] if loras else args["files"]
    tokenization = {path: _tokenize({**args, "gguf": path}) for path in models}
    reports = [{"tokenization": tokenization[args["base"] if loras else path]} for path in args["files"]]
    if args.get("logits"):
        batches = _token_batches(args["hf_dir"], int(args.get("max_len", 48)))
        ref = _torch_logits(args, batches)
        base = _gguf_logits(args["base"], batches) if loras else None
        for report, path in zip(reports, args["files"]):
            got = _gguf_logits(args["base"], batches, path) if loras else _gguf_logits(path, batches)
            report["logits"] = compare(ref, got)
            if loras:
                report["adapter_effect"] = float(max(np.abs(b - g).max() for b, g in zip(base, got)))
    return {"files": reports}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
