"""The 4-6 bit types (Q4_0, Q4_1, Q5_0, Q4_K_M, Q5_K_M, Q6_K) through llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize).

The quantizer runs in a child process: a GGML assertion aborts the process it runs in, and the export (and the
app above it) must survive that with a one-line error. `python -m export.quantize IN OUT TYPE` is that child.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from export.errors import ExportError
from training.cancel import check

# LLAMA_FTYPE_MOSTLY_*. q8_0 is here for benches that compare with llama.cpp's own Q8_0; the exporter writes its
# Q8_0 itself (export.writer) and sends only tensor_names.LLAMA_CPP_TYPES through llama.cpp.
FTYPES = {"q8_0": 7, "q4_0": 2, "q4_1": 3, "q5_0": 8, "q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}


def _quantize_here(src: str, dst: str, qtype: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[qtype]
    params.nthread = max(1, os.cpu_count() or 1)
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        raise SystemExit(f"llama_model_quantize returned {rc}")


def quantize(src: Path | str, dst: Path | str, qtype: str, progress: Callable[[dict], None] | None = None,
             cancel: threading.Event | None = None, timeout_s: float = 6 * 3600) -> dict:
    """Quantize the GGUF `src` (f32/f16/bf16) into `dst` as `qtype`; the caller makes `dst` atomic."""
    if qtype not in FTYPES:
        raise ExportError(f"unknown llama.cpp type {qtype!r}; known: {', '.join(FTYPES)}")
    if progress is not None:
        progress({"event": "quantize", "type": qtype, "message": f"quantizing to {qtype} with llama.cpp"})
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "export.quantize", str(src), str(dst), qtype],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parent.parent))
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if (cancel is not None and cancel.is_set()) or time.monotonic() - start > timeout_s:
                    proc.kill()
                    proc.communicate()
                    check(cancel, "quantization")
                    raise ExportError(f"quantization to {qtype} timed out")
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        lines = [ln for ln in (err or "").splitlines() if ln.strip()]
        reason = next((ln for ln in reversed(lines) if "error" in ln.lower() or "failed" in ln.lower()),
                      lines[-1] if lines else f"exit code {proc.returncode}")
        if "No space left" in (err or "") or "ENOSPC" in (err or ""):
            reason = "disk full"
        raise ExportError(f"llama.cpp could not quantize to {qtype}: {reason.strip()[:300]}")
    if not Path(dst).is_file():
        raise ExportError(f"llama.cpp reported success but wrote no {qtype} file")
    return {"seconds": round(time.monotonic() - start, 3)}


if __name__ == "__main__":
    _quantize_here(sys.argv[1], sys.argv[2], sys.argv[3])
    print(json.dumps({"ok": True}))
