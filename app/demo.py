"""The embedded demo: seed (SmolLM2-135M fork + sample repos) → curate → the pipeline, CPU-sized, timed per step.

Run twice, it resumes: the fork, the snapshot (same inputs, same content hash) and every finished pipeline step
are found and verified instead of redone. The model id carries the step count (and, if the sample repos changed,
the snapshot), so `--max-steps 12` after a run with 6 trains a second model rather than clashing with the first.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from app.errors import StudioError
from app.ids import folder_name
from app.workspace import Workspace

DEFAULT_MAX_STEPS = 4
# CPU-sized: 4 windows of 256 tokens per optimizer step (no accumulation), a short HumanEval slice, a few held-out
# snippets and latency samples (each costs seconds to tens of seconds on 2 busy cores, for the model and again for
# its base). The seed's recipe (effective batch 16, 3 epochs, 4096 context) is what a GPU run uses.
DEMO_TRAIN = {"seq_len": 256, "batch_size": 4, "micro_batch_size": 4}
DEMO_EVAL = {"humaneval_limit": 2, "internal_limit": 6, "general_limit": 6, "latency_samples": 3}
# GGUF types on a CPU: Q4_0 is what the server prefers there (llama.cpp repacks it for AVX2 at load; docs/serving.md)
CPU_TYPES = ("q8_0", "q4_0", "q4_k_m")


def demo_model_id(ws: Workspace, max_steps: int, snapshot_id: str) -> str:
    """`research/demo/team-coder-<N>steps`, or, when that model was trained on another snapshot (the sample
    repos changed), the same name with the snapshot's short id appended."""
    model_id = f"research/demo/team-coder-{max_steps}steps"
    store = ws.store()
    try:
        row = store.model(model_id)
    finally:
        store.close()
    if row is None or (row.get("details") or {}).get("snapshot_id") == snapshot_id:
        return model_id
    return f"{model_id}-{snapshot_id.removeprefix('snap-')[:8]}"


def sample_repos() -> list[Path]:
    """The sample repositories shipped in assets/sample-repos (each a plain folder)."""
    from app.demo_seed import SAMPLE_REPOS

    if not SAMPLE_REPOS.is_dir():
        raise StudioError(f"the sample repos are missing at {SAMPLE_REPOS}; reinstall blackroad-studio")
    return sorted(p for p in SAMPLE_REPOS.iterdir() if p.is_dir() and not p.name.startswith("."))


def _registered(ws: Workspace, folders: list[Path]) -> list[str]:
    """Names under which the sample repos are watched in this workspace (registering any that are not)."""
    from app import repos

    known = {Path(r["path"]).resolve(): r["name"] for r in repos.list_repos(ws)["repos"]}
    names = []
    for folder in folders:
        name = known.get(folder.resolve())
        if name is None:
            name = repos.add_repo(ws, folder, name=folder.name)["repo"]["name"]
        names.append(name)
    return names


def gpu_note(max_steps: int, snapshot_stats: dict) -> str:
    samples = snapshot_stats.get("train_samples") or snapshot_stats.get("snippets") or "all the"
    tokens = DEMO_TRAIN["batch_size"] * DEMO_TRAIN["seq_len"] * max_steps
    return (f"This is a CPU demo: {max_steps} LoRA steps of {DEMO_TRAIN['batch_size']} x {DEMO_TRAIN['seq_len']}-token "
            f"windows (about {tokens:,} tokens) on SmolLM2-135M, enough to run and record every step of the loop, "
            "not to make the model better. On a GPU the same pipeline runs the seed's recipe: 3 epochs over "
            f"{samples} training samples at effective batch 16 and up to 4096 tokens of context, on a 7B coder base "
            "such as Qwen2.5-Coder-7B, then the full HumanEval (164 tasks) and the whole held-out set decide the "
            "promotion checklist.")


def run_demo(ws: Workspace, max_steps: int = DEFAULT_MAX_STEPS, progress: Callable[[dict], None] | None = None,
             cancel: threading.Event | None = None) -> dict:
    """Seed, curate and run the pipeline on the embedded base; returns every step's result and timing."""
    from app.demo_seed import seed_demo
    from app.forks import DEMO_BASE_ID
    from app.pipeline import run_pipeline

    if max_steps < 1:
        raise StudioError(f"--max-steps must be at least 1, got {max_steps}")
    emit = progress or (lambda event: None)
    timings: dict[str, float] = {}
    t_all = time.monotonic()

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        emit({"event": "demo", "step": name, "status": "started", "message": f"demo: {name}…"})
        t0 = time.monotonic()
        out = fn()
        timings[name] = round(time.monotonic() - t0, 2)
        emit({"event": "demo", "step": name, "status": "finished", "seconds": timings[name],
              "message": f"demo: {name} done in {timings[name]:.1f} s"})
        return out

    seeded = timed("seed", lambda: seed_demo(ws))
    folders = sample_repos()
    names = _registered(ws, folders)

    def curate() -> dict:
        from app.curation import curate as _curate

        return _curate(ws, repos=names, base_id=DEMO_BASE_ID, progress=progress, cancel=cancel)

    curated = timed("curate", curate)
    if cancel is not None and cancel.is_set():
        raise StudioError("demo cancelled after curation; run it again to resume")
    model_id = demo_model_id(ws, max_steps, curated["snapshot"])
    pipe = run_pipeline(ws, model_id, base_id=DEMO_BASE_ID, snapshot_id=curated["snapshot"], max_steps=max_steps,
                        seq_len=DEMO_TRAIN["seq_len"],
                        train_options={k: v for k, v in DEMO_TRAIN.items() if k != "seq_len"},
                        types=CPU_TYPES, **DEMO_EVAL, progress=progress, cancel=cancel)
    for step in pipe["steps"]:
        timings[step["name"]] = step["seconds"]
    timings["total"] = round(time.monotonic() - t_all, 2)
    card = ws.dir("models") / folder_name(model_id) / "LINEAGE.md"
    return {
        "workspace": str(ws.root), "base": seeded.get("base", DEMO_BASE_ID), "repos": names,
        "snapshot": curated["snapshot"], "snapshot_path": curated.get("output"),
        "curation": {k: curated.get(k) for k in ("files_scanned", "files_kept", "snippets", "secrets_found",
                                                 "duplicates_removed", "languages")},
        "model": model_id, "cpu_demo": True, "note": gpu_note(max_steps, curated),
        "pipeline": pipe, "timings": timings, "lineage_card": str(card) if card.exists() else None,
        "next": [f"blackroad-studio --workspace {ws.root}   # open the studio on this workspace",
                 f"blackroad-studio --workspace {ws.root} card {model_id}",
                 f"blackroad-studio --workspace {ws.root} complete {model_id} --file F --line L --column C"],
    }
