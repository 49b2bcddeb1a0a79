"""One-click model steps for the studio's panes: merge, export, evaluate against the base, each through the app entry
point with progress; `merge_and_export` does what a just-trained model needs before it can complete code.

What a model has (`readiness`) decides which step comes next; nothing here writes to the store itself."""
from __future__ import annotations

import threading
from typing import Callable

from app.errors import StudioError
from app.workspace import Workspace

Progress = Callable[[dict], None] | None
EXPORT_TYPES = ("q8_0", "q4_k_m", "f16")
# One click exports one type: the one llama.cpp runs well on a CPU and the parity check judges tightly.
DEFAULT_EXPORT = ("q8_0",)


def readiness(store, model_id: str) -> dict:
    """{model, stage, run_status, adapter, merged, gguf, next}: what the model has, and the step it needs next
    (`train`, `merge`, `export`, or None when it can run)."""
    from pathlib import Path

    model = store.require_model(model_id)
    details = model.get("details") or {}
    run = store.one("SELECT status FROM runs WHERE id = ?", [details.get("run_id") or ""])
    ggufs = [a["path"] for a in store.artifacts(model_id, "gguf") if Path(a["path"]).is_file()]
    gguf = model.get("gguf_path") if model.get("gguf_path") and Path(model["gguf_path"]).is_file() else (
        ggufs[-1] if ggufs else None)
    hf = model.get("path") if model.get("path") and (Path(model["path"]) / "config.json").is_file() else None
    adapter = details.get("adapter_path")
    if gguf or (hf and model["stage"] != "research"):
        step = None
    elif model["stage"] != "research":
        step = "export"
    elif not adapter:
        step = "train"
    else:
        step = "export" if hf else "merge"
    return {"model": model_id, "stage": model["stage"], "run_status": run["status"] if run else None,
            "adapter": adapter, "merged": hf, "gguf": gguf, "next": step}


def _readiness(ws: Workspace, model_id: str) -> dict:
    store = ws.store()
    try:
        return readiness(store, model_id)
    finally:
        store.close()


def merge(ws: Workspace, model_id: str, progress: Progress = None) -> dict:
    from app.training_jobs import merge as _merge

    _say(progress, f"merging the adapter of {model_id} into its base…")
    return _merge(ws, model_id, progress=progress)


def export(ws: Workspace, model_id: str, types=DEFAULT_EXPORT, progress: Progress = None,
           cancel: threading.Event | None = None) -> dict:
    from app.exporting import export as _export

    _say(progress, f"exporting {model_id} as {', '.join(types)} GGUF (with the parity check)…")
    return _export(ws, model_id, tuple(types), progress=progress, cancel=cancel)


def merge_and_export(ws: Workspace, model_id: str, types=DEFAULT_EXPORT, progress: Progress = None,
                     cancel: threading.Event | None = None) -> dict:
    """Merge (when not merged yet) then export: afterwards the model completes code and can be evaluated."""
    state = _readiness(ws, model_id)
    if state["next"] == "train":
        raise StudioError(f"{model_id} has no trained adapter: its training run is "
                          f"{state['run_status'] or 'missing'}; train (or resume) it from the Training pane")
    out: dict = {"model": model_id}
    if state["next"] == "merge":
        out["merge"] = merge(ws, model_id, progress)
    if cancel is not None and cancel.is_set():
        raise StudioError(f"cancelled after merging {model_id}; export it to finish")
    if state["next"] is not None or not state["gguf"]:
        out["export"] = export(ws, model_id, types, progress, cancel)
    return out


def evaluate(ws: Workspace, model_id: str, suite: str, *, cpu_sized: bool = True, progress: Progress = None,
             cancel: threading.Event | None = None) -> dict:
    """A suite on the model and on the fork it descends from (the baseline), CPU-sized like the demo on a CPU."""
    from app.demo import DEMO_EVAL
    from app.evaluating import evaluate as _evaluate

    store = ws.store()
    try:
        chain = store.chain(store.require_model(model_id)["id"])
    finally:
        store.close()
    baseline = chain[-1]["id"] if len(chain) > 1 else None
    limits = {"limit": {"humaneval": DEMO_EVAL["humaneval_limit"], "internal": DEMO_EVAL["internal_limit"],
                        "general": DEMO_EVAL["general_limit"]}.get(suite),
              "samples": DEMO_EVAL["latency_samples"] if suite == "latency" else None} if cpu_sized else {}
    _say(progress, f"eval {suite} on {model_id}" + (f" against {baseline}" if baseline else "")
         + (" (CPU-sized: " + ", ".join(f"{k} {v}" for k, v in limits.items() if v) + ")" if cpu_sized else "")
         + "…")
    return _evaluate(ws, model_id, suite, baseline_id=baseline, progress=progress, cancel=cancel,
                     **{k: v for k, v in limits.items() if v is not None})


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress({"event": "log", "message": message})
