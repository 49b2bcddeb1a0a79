"""Parity of a written GGUF with its source, run after every export (`verify`: logits, tensors or none).

- tokenization (with tensors and logits): transformers and llama.cpp give the same ids on a probe corpus.
- tensors: every GGUF tensor dequantized and compared with its source, one at a time, within its type's tolerance.
- logits (in a child process, export.parity_child) judge the file itself, at every type F32 to Q4_K_M:
  llama.cpp's logits on the GGUF against torch's on that GGUF's own dequantized weights under the HF config.
  What remains is llama.cpp's own arithmetic (F16/BF16 activations for float files, 8-bit activations for the
  quantized ones), so a wrong rope base, eps, head count, tensor layout or tokenizer fails at every type while a
  quantization's rounding never does. The quantization's cost (KL and top-1 against the float model, on real
  code) is measured beside it and reported, not gated here: bench/export.py holds it against llama.cpp's own
  convert_hf_to_gguf.py + llama-quantize files of the same model.
A failure raises ParityError naming the check.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from export.errors import ExportError, ParityError
from export.hf_source import HFModel

VERIFY_LEVELS = ("logits", "tensors", "none")
# Relative RMS error allowed per GGML tensor type (dequantized vs source), the float types checked elementwise.
REL_RMSE = {"Q8_0": 0.01, "Q6_K": 0.03, "Q5_K": 0.06, "Q5_0": 0.06, "Q5_1": 0.06, "Q4_K": 0.12, "Q4_0": 0.15,
            "Q4_1": 0.12, "Q3_K": 0.25, "Q2_K": 0.5, "IQ4_NL": 0.15}
# The file check: llama.cpp against torch on the file's own weights. relative_diff: max |diff| over the logit
# scale; relative_rms: RMS diff over the spread of the reference logits; kl_mean: nats per position. What is left
# is llama.cpp's arithmetic: F16/BF16 activations for float files, 8-bit activations (Q8_0/Q8_K) for quantized
# ones. Measured on right files (tiny random models with sharp attention, docs/benchmarks.md): F16 rms 1.2e-3,
# BF16 9e-3, quantized 2e-2 to 4.4e-2 (KL <= 2.4e-3); a wrong rope base, eps or head count gave rms >= 1.0 and
# KL >= 1.4 at every type. The bounds sit between, about 5x from each side.
_QUANTIZED_FILE = {"relative_diff": 0.5, "relative_rms": 0.2, "kl_mean": 0.05}
LOGIT_RULES = {"f32": {"relative_diff": 1e-3, "relative_rms": 1e-4},
               "f16": {"relative_diff": 2e-2, "relative_rms": 1e-2},
               "bf16": {"relative_diff": 0.1, "relative_rms": 5e-2, "kl_mean": 1e-2},
               **{t: _QUANTIZED_FILE for t in ("q8_0", "q4_0", "q4_1", "q5_0", "q4_k_m", "q5_k_m", "q6_k")}}
ADAPTER_RULES = {"f32": {"relative_diff": 1e-3}, "f16": {"relative_diff": 1e-2}}


def check_tensors(model: HFModel, gguf_path: Path | str, progress: Callable[[dict], None] | None = None,
                  cancel: threading.Event | None = None) -> dict:
    """Every tensor of the GGUF against its source (streamed: one source tensor in memory at a time)."""
    import gguf

    from export.writer import Cancelled, plan, tensor_data

    reader = gguf.GGUFReader(str(gguf_path))
    by_name = {t.name: t for t in reader.tensors}
    expected = {p.gguf_name: p for p in plan(model, "f32")}
    missing = sorted(set(expected) - set(by_name))
    extra = sorted(set(by_name) - set(expected))
    if missing or extra:
        raise ParityError("tensors", f"tensor names differ (missing {missing[:3]}, unexpected {extra[:3]})")
    worst: dict[str, float] = {}
    for i, (name, item) in enumerate(expected.items()):
        if cancel is not None and cancel.is_set():
            raise Cancelled("export cancelled")
        t = by_name[name]
        src = tensor_data(model, item)
        got = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(src.shape)
        qname = t.tensor_type.name
        if qname == "F32":
            err = float(np.abs(got - src).max())
            ok = err == 0.0
        elif qname in ("F16", "BF16"):
            bits = 10 if qname == "F16" else 7
            bound = np.abs(src) * 2.0 ** -bits + (6e-8 if qname == "F16" else 1e-38)
            over = np.abs(got - src) - bound
            err = float(max(over.max(), 0.0))
            ok = err == 0.0  # values past F16's range become inf and fail here
        else:
            rms = float(np.sqrt(np.mean(src.astype(np.float64) ** 2))) or 1.0
            err = float(np.sqrt(np.mean((got.astype(np.float64) - src) ** 2))) / rms
            ok = err <= REL_RMSE.get(qname, 0.5)
        worst[qname] = max(worst.get(qname, 0.0), err)
        if not ok:
            raise ParityError("tensors", f"{name} ({qname}) differs from {item.hf_name or 'its source'}: "
                                         f"error {err:.3g} over its type's tolerance")
        if progress is not None and (i % 16 == 0 or i + 1 == len(expected)):
            progress({"event": "verify", "check": "tensors", "index": i + 1, "count": len(expected),
                      "message": f"verify tensors {i + 1}/{len(expected)}"})
    del reader
    return {"tensors": len(expected), "worst_error_by_type": worst}


def run_child(args: dict, timeout_s: float = 3600) -> dict:
    """Run export.parity_child; a crash or a timeout becomes a ParityError of the check it was running."""
    check = "logits" if args.get("logits") else "tokenization"
    try:
        proc = subprocess.run([sys.executable, "-m", "export.parity_child", json.dumps(args)],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ParityError(check, f"the check did not finish within {timeout_s:.0f} s") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise ParityError(check, f"the checking process failed: {err[-1] if err else f'exit {proc.returncode}'}")
    return json.loads(lines[-1])


def judge(report: dict, out_type: str, adapter: bool = False) -> None:
    """Raise ParityError for the first failed rule of this output type."""
    tok = report.get("tokenization")
    if tok and tok.get("error"):
        raise ParityError("tokenization", tok["error"])
    if tok and tok["mismatches"]:
        first = tok["mismatches"][0]
        raise ParityError("tokenization", f"{len(tok['mismatches'])}/{tok['probes']} probes tokenize differently "
                                          f"in llama.cpp, e.g. {first['text']!r}: transformers "
                                          f"{first['transformers'][:8]} vs llama.cpp {first['llama_cpp'][:8]}")
    if report.get("error"):
        raise ParityError(report["error"]["check"], report["error"]["message"])
    logits = report.get("logits")
    if not logits:
        return
    rules = (ADAPTER_RULES if adapter else LOGIT_RULES).get(out_type)
    if rules is None:
        raise ParityError("logits", f"no logits rule for type {out_type!r}")
    against = "peft's merged model" if adapter else "torch on the file's own dequantized weights"
    for key, what, fmt in (("relative_diff", "of the logit scale", ".2e"), ("relative_rms", "RMS of the logit spread",
                                                                          ".2e"), ("kl_mean", "KL per token", ".2e")):
        if key in rules and not logits[key] <= rules[key]:  # `not <=`: a NaN fails too
            raise ParityError("logits", f"{out_type} logits differ from {against} by {logits[key]:{fmt}} {what} "
                                        f"(allowed {rules[key]:.0e}); wrong metadata, layout or weights")


def measure_files(model: HFModel, files: list[tuple[Path | str, str]], level: str, *, adapter_dir: str | None = None,
                  base_gguf: Path | str | None = None, progress: Callable[[dict], None] | None = None,
                  cancel: threading.Event | None = None) -> list[dict]:
    """Run the checks of `level` on written files [(path, type)] (LoRA files when `base_gguf` is given), one
    child process for all; returns one report per file (measurements, or an "error" the file caused), unjudged."""
    if level not in VERIFY_LEVELS:
        raise ExportError(f"unknown verify level {level!r}; use one of {', '.join(VERIFY_LEVELS)}")
    if level == "none" or (base_gguf is None and adapter_dir is not None):
        return [{"verify": level} for _ in files]
    reports: list[dict] = [{"verify": level} for _ in files]
    if level == "tensors" and base_gguf is None:
        for report, (path, _) in zip(reports, files):
            report["tensors"] = check_tensors(model, path, progress, cancel)
    if progress is not None:
        progress({"event": "verify", "check": level, "message": f"verify {len(files)} file(s): tokenization"
                                                                 f"{' and logits' if level == 'logits' else ''}"})
    child = run_child({"hf_dir": str(model.root), "files": [str(p) for p, _ in files], "logits": level == "logits",
                       "adapter_dir": adapter_dir, "base": str(base_gguf) if base_gguf else None})
    for report, measured in zip(reports, child["files"]):
        report.update(measured)
    return reports


def verify_files(model: HFModel, files: list[tuple[Path | str, str]], level: str, **kwargs) -> list[dict]:
    """measure_files, then judge each: raises ParityError naming the first failing file's type and check."""
    reports = measure_files(model, files, level, **kwargs)
    for report, (_, out_type) in zip(reports, files):
        try:
            judge(report, out_type, adapter=kwargs.get("base_gguf") is not None)
        except ParityError as exc:
            raise ParityError(exc.check, f"{out_type}: {str(exc).split(': ', 1)[1]}") from None
    return reports


def verify(model: HFModel, gguf_path: Path | str, out_type: str, level: str, **kwargs) -> dict:
    """verify_files for one file."""
    return verify_files(model, [(gguf_path, out_type)], level, **kwargs)[0]
