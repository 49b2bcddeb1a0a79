"""Parity of a written GGUF with its source, run after every export (`verify`: logits, tensors or none).

- tokenization (with tensors and logits): transformers and llama.cpp give the same ids on a probe corpus.
- tensors: every GGUF tensor dequantized and compared with its source, one at a time, within its type's tolerance.
- logits (in a child process): F32 within 1e-3 of the logit scale, F16 within 1e-2 and top-1 agreement outside
  near-ties, BF16 within 3e-2, Q8_0 top-1 agreement >= 95% outside
  near-ties (top-2 margin under 0.25% of the logit scale), KL <= 0.05 and no logit off by half the scale, KL reported for the K-quants.
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
LOGIT_RULES = {"f32": {"relative_diff": 1e-3, "top1_clear": 1.0}, "f16": {"relative_diff": 1e-2, "top1_clear": 1.0},
               "bf16": {"relative_diff": 3e-2, "top1_clear": 1.0},
               # 8-bit rounding (weights and llama.cpp's q8 activations) flips the argmax wherever the reference's
               # top two are within a hair: a trained SmolLM2 measured 94.1% raw and 96-98% outside 0.1-logit ties,
               # KL 0.005, max deviation 11% of the logit scale. Ties are excluded; the KL and deviation bounds are
               # what catch wrong metadata (a wrong rope base and eps measured 96% of the scale on a tiny Llama).
               "q8_0": {"relative_diff": 0.5, "top1_untied": 0.95, "kl_mean": 0.05}}


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


def judge(report: dict, out_type: str) -> None:
    """Raise ParityError for the first failed rule of this output type."""
    tok = report.get("tokenization")
    if tok and tok["mismatches"]:
        first = tok["mismatches"][0]
        raise ParityError("tokenization", f"{len(tok['mismatches'])}/{tok['probes']} probes tokenize differently "
                                          f"in llama.cpp, e.g. {first['text']!r}: transformers "
                                          f"{first['transformers'][:8]} vs llama.cpp {first['llama_cpp'][:8]}")
    logits = report.get("logits")
    if not logits:
        return
    rules = LOGIT_RULES.get(out_type, {})
    if "relative_diff" in rules and logits["relative_diff"] > rules["relative_diff"]:
        raise ParityError("logits", f"{out_type} logits differ from torch by {logits['relative_diff']:.2e} of the logit "
                                    f"scale (allowed {rules['relative_diff']:.0e}); wrong metadata or weights")
    if "top1_clear" in rules and logits["top1_agreement_clear"] < rules["top1_clear"]:
        raise ParityError("logits", f"{out_type} top-1 token differs from torch on "
                                    f"{1 - logits['top1_agreement_clear']:.1%} of positions")
    if "top1_untied" in rules and logits["top1_agreement_untied"] < rules["top1_untied"]:
        raise ParityError("logits", f"{out_type} top-1 agreement with torch is {logits['top1_agreement_untied']:.1%} "
                                    f"outside near-ties (needs {rules['top1_untied']:.0%}; raw "
                                    f"{logits['top1_agreement']:.1%})")
    if "kl_mean" in rules and logits["kl_mean"] > rules["kl_mean"]:
        raise ParityError("logits", f"{out_type} KL divergence from torch is {logits['kl_mean']:.4f} per token "
                                    f"(allowed {rules['kl_mean']}); wrong metadata or weights")


def verify_files(model: HFModel, files: list[tuple[Path | str, str]], level: str, *, adapter_dir: str | None = None,
                 base_gguf: Path | str | None = None, progress: Callable[[dict], None] | None = None,
                 cancel: threading.Event | None = None) -> list[dict]:
    """Run the checks of `level` on written files [(path, type)] (LoRA files when `base_gguf` is given), one
    child process for all; returns one report per file or raises ParityError naming the failing file's type."""
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
    for report, measured, (_, out_type) in zip(reports, child["files"], files):
        report.update(measured)
        try:
            judge(report, out_type)
        except ParityError as exc:
            raise ParityError(exc.check, f"{out_type}: {str(exc).split(': ', 1)[1]}") from None
    return reports


def verify(model: HFModel, gguf_path: Path | str, out_type: str, level: str, **kwargs) -> dict:
    """verify_files for one file."""
    return verify_files(model, [(gguf_path, out_type)], level, **kwargs)[0]
