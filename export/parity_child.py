"""The child process of the parity check: tokenization and logits of a GGUF (through llama.cpp) against transformers.

Logits are judged on the file itself: llama.cpp's logits on the GGUF against torch's on that GGUF's own weights,
dequantized (export.dequant), under the HF config. Wrong metadata, layout or tensors show there at every type; a
quantization's rounding does not. What the rounding costs is measured apart ("quantization": llama.cpp's logits
against the float model's), on real code.

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


def _tokenize(hf, path: str) -> dict:
    from llama_cpp import Llama

    llm = Llama(path, vocab_only=True, verbose=False)
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


def _token_batches(tok, max_len: int, corpus_tokens: int = 768) -> list[list[int]]:
    """Probe texts cut at max_len tokens, then windows of real code until corpus_tokens more positions."""
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


SMALL_MODEL = 20_000_000  # parameters


def _threads(torch_model) -> int | None:
    """One thread for a tiny model (its matmuls are too small to split: on a busy 2-core machine two threads made
    llama.cpp 15x and torch 10x slower); the runtimes' defaults otherwise."""
    return 1 if sum(p.numel() for p in torch_model.parameters()) < SMALL_MODEL else None


def _torch_model(args: dict):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args["hf_dir"], dtype=torch.float32)
    if _threads(model) == 1:
        torch.set_num_threads(1)
    if args.get("adapter_dir"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args["adapter_dir"]).merge_and_unload()
    return model.eval()


def _torch_logits(model, batches: list[list[int]]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].float().numpy() for ids in batches]


def _gguf_logits(path: str, batches: list[list[int]], lora: str | None = None, threads: int | None = None
                 ) -> list[np.ndarray]:
    from llama_cpp import Llama

    n_ctx = max(len(b) for b in batches) + 8
    # An F32 KV cache: llama.cpp's default F16 cache alone moved a trained SmolLM2's F32 logits by 1.8e-3 of the
    # logit scale over 128-token windows (3e-6 with F32); the check is of the file, not of the runtime's cache type.
    llm = Llama(path, n_ctx=n_ctx, logits_all=True, verbose=False, lora_path=lora, seed=0,
                type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, n_threads=threads, n_threads_batch=threads)
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
    """Agreement of two logit sets, batch by batch (no float64 copy of the whole set): max abs diff against the
    logit scale, RMS diff against the reference's spread, top-1 agreement (raw, outside near-ties, and where the
    reference's margin exceeds twice the max diff), and the mean KL divergence of `got` from `ref`."""
    n_pos, max_diff, scale, sq_diff, s1, s2, kl_sum = 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    margins, agree = [], []
    for r, g in zip(ref, got):
        if r.shape != g.shape:
            n = min(r.shape[-1], g.shape[-1])
            r, g = r[..., :n], g[..., :n]
        r64, g64 = r.astype(np.float64), g.astype(np.float64)
        d = r64 - g64
        if not np.isfinite(g64).all():
            max_diff = float("inf")
        max_diff = max(max_diff, float(np.abs(d).max()))
        scale = max(scale, float(np.abs(r64).max()))
        sq_diff += float((d * d).sum())
        s1, s2 = s1 + float(r64.sum()), s2 + float((r64 * r64).sum())
        top2 = np.partition(r64, -2, axis=-1)[:, -2:]
        margins.append(top2[:, 1] - top2[:, 0])
        agree.append(r64.argmax(-1) == g64.argmax(-1))
        lp, lq = _log_softmax(r64), _log_softmax(g64)
        kl_sum += float((np.exp(lp) * (lp - lq)).sum())
        n_pos += r.shape[0]
    count = n_pos * (ref[0].shape[-1] if ref else 1)
    spread = float(np.sqrt(max(s2 / count - (s1 / count) ** 2, 0.0))) if count else 0.0
    margin, match = np.concatenate(margins), np.concatenate(agree)
    clear, untied = margin > 2 * max_diff, margin > NEAR_TIE * scale
    return {"positions": n_pos, "max_abs_diff": max_diff, "logit_scale": scale,
            "relative_diff": max_diff / scale if scale else 0.0,
            "relative_rms": float(np.sqrt(sq_diff / count)) / spread if spread else 0.0,
            "top1_agreement": float(match.mean()),
            "top1_agreement_clear": float(match[clear].mean()) if clear.any() else 1.0,
            "top1_agreement_untied": float(match[untied].mean()) if untied.any() else 1.0,
            "kl_mean": kl_sum / n_pos if n_pos else 0.0}


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:400]


def _check_file(path: str, batches, torch_model, hf_model, float_ref, threads: int | None) -> dict:
    """The file against torch on its own dequantized weights ("logits"), and its quantization cost: llama.cpp's
    logits on it against the float model's ("quantization"). Errors are reported, not raised, so one broken file
    does not hide the measurements of the others."""
    from export.dequant import load_into
    from export.errors import ParityError

    try:
        got = _gguf_logits(path, batches, threads=threads)
    except Exception as exc:  # llama.cpp refused the file (shapes, metadata): the file is wrong
        return {"error": {"check": "logits", "message": f"llama.cpp cannot run the file: {_one_line(exc)}"}}
    try:
        weights = load_into(torch_model, hf_model, path)
    except ParityError as exc:
        return {"error": {"check": exc.check, "message": str(exc).split(": ", 1)[1]}}
    report = {"logits": compare(_torch_logits(torch_model, batches), got), "dequantized_types": weights}
    cost = compare(float_ref, got)
    report["quantization"] = {k: cost[k] for k in ("positions", "kl_mean", "top1_agreement", "top1_agreement_untied",
                                                   "relative_rms")}
    return report


def main(args: dict) -> dict:
    """Check every file of args["files"] (model GGUFs, or LoRA GGUFs on args["base"])."""
    loras = bool(args.get("base"))
    models = [args["base"]] if loras else args["files"]
    from transformers import AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(args["hf_dir"])
    tokenization = {}
    for path in models:
        try:
            tokenization[path] = _tokenize(hf_tokenizer, path)
        except Exception as exc:
            tokenization[path] = {"error": f"llama.cpp cannot read the tokenizer: {_one_line(exc)}"}
    reports = [{"tokenization": tokenization[args["base"] if loras else path]} for path in args["files"]]
    if not args.get("logits"):
        return {"files": reports}
    batches = _token_batches(hf_tokenizer, int(args.get("max_len", 48)))
    torch_model = _torch_model(args)
    ref = _torch_logits(torch_model, batches)
    if loras:  # the adapter on an exact F32 base against peft's merged model
        base = _gguf_logits(args["base"], batches, threads=_threads(torch_model))
        for report, path in zip(reports, args["files"]):
            got = _gguf_logits(args["base"], batches, path, threads=_threads(torch_model))
            report["logits"] = compare(ref, got)
            report["adapter_effect"] = float(max(np.abs(b - g).max() for b, g in zip(base, got)))
        return {"files": reports}
    from export.hf_source import open_model

    hf_model = open_model(args["hf_dir"])
    for report, path in zip(reports, args["files"]):
        report.update(_check_file(path, batches, torch_model, hf_model, ref, _threads(torch_model)))
    return {"files": reports}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
