"""Evaluation and completion for the studio: pick what a model runs on (its GGUF, else its HF weights), run a suite
of eval/, and record every number with what produced it (artifact, hash of data and settings, baseline, run)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from app.errors import StudioError
from app.store import Store
from app.workspace import Workspace
from eval.suites import SUITES
from training.cancel import Cancelled, check
from training.fileio import atomic_path, sha256_file, sha256_json

Progress = Callable[[dict], None] | None
SAMPLE_REPOS = Path(__file__).resolve().parent.parent / "assets" / "sample-repos"
LATENCY_CONTEXTS = 20
CODE_SUFFIXES = (".py", ".ts", ".tsx", ".js", ".go", ".rs", ".java", ".c", ".cpp", ".cs", ".rb")
HELD_OUT_SUITES = ("internal", "general")  # held-out code (the team's; the shipped general set), base scored beside
EVAL_SUITES = tuple(dict.fromkeys((*SUITES, "general")))


# -- what a model runs on -------------------------------------------------------------------------------------------
def target(store: Store, model_id: str, like: str | None = None) -> dict:
    """{path, kind: gguf|hf, artifact_id, quant_type}: the model's GGUF (its GGUF of type `like` when it has one, so
    a candidate is judged at its baseline's quantization; else row gguf_path or its latest gguf artifact), else its
    HF weights (row path, or the merged dir of a research model)."""
    model = store.require_model(model_id)
    ggufs = [a for a in store.artifacts(model_id, "gguf") if Path(a["path"]).is_file()]
    same = [a for a in ggufs if like and a.get("quant_type") == like]
    gguf = same[-1]["path"] if same else (model.get("gguf_path") or (ggufs[-1]["path"] if ggufs else None))
    if gguf and Path(gguf).is_file():
        art = next((a for a in reversed(ggufs) if a["path"] == str(gguf)), None)
        return {"path": str(gguf), "kind": "gguf", "artifact_id": art["id"] if art else None,
                "quant_type": art.get("quant_type") if art else None}
    hf = model.get("path") or (model.get("details") or {}).get("merged_path")
    if hf and (Path(hf) / "config.json").is_file():
        arts = [a for a in store.artifacts(model_id) if a["kind"] in ("hf-weights", "merged") and a["path"] == str(hf)]
        return {"path": str(hf), "kind": "hf", "artifact_id": arts[-1]["id"] if arts else None}
    from app.evidence import unfinished_training

    run = unfinished_training(store, model)
    if run is not None:
        raise StudioError(f"{model_id} has no trained adapter: its training run {run['id']} is {run['status']} "
                          f"(resume it with `blackroad-studio train --id {model_id} --resume`)")
    raise StudioError(f"{model_id} has neither a GGUF nor HF weights to run (merge and export it first: "
                      f"`blackroad-studio merge {model_id}` then `blackroad-studio export {model_id}`)")


def _is_instruct(store: Store, model_id: str) -> bool:
    return any(w in m["id"].lower() for m in store.chain(model_id) for w in ("instruct", "-chat"))


_BACKENDS: OrderedDict[str, object] = OrderedDict()
_BACKENDS_LOCK = threading.Lock()


def _backend(path: str, cached: bool):
    """A backend for the path; the completion trial keeps the last two loaded so their KV caches are reused."""
    from eval.backends import BackendError, open_backend

    with _BACKENDS_LOCK:
        if cached and path in _BACKENDS:
            _BACKENDS.move_to_end(path)
            return _BACKENDS[path]
        try:
            backend = open_backend(path)
        except BackendError as exc:
            raise StudioError(str(exc)) from None
        if cached:
            _BACKENDS[path] = backend
            while len(_BACKENDS) > 2:
                _BACKENDS.popitem(last=False)[1].close()
        return backend


# -- inputs of the suites -------------------------------------------------------------------------------------------
def _snapshot_heldout(ws: Workspace, store: Store, model_id: str) -> tuple[str, Path]:
    """The held-out split the model is judged on: its own training snapshot, else the workspace's latest."""
    snap = None
    for m in store.chain(model_id):
        sid = (m.get("details") or {}).get("snapshot_id")
        if sid:
            snap = store.snapshot(sid)
            break
    if snap is None:
        snap = store.one("SELECT * FROM snapshots ORDER BY created DESC, rowid DESC LIMIT 1")
    if snap is None:
        raise StudioError("no dataset snapshot in this workspace for the internal benchmark (run `blackroad-studio curate`)")
    path = Path(snap["path"])
    heldout = (path if path.suffix == ".jsonl" else path / "heldout.jsonl")
    if not heldout.is_file():
        raise StudioError(f"snapshot {snap['id']} has no held-out split at {heldout}")
    return snap["id"], heldout


def _latency_texts(ws: Workspace, store: Store, model_id: str) -> tuple[str, list[str]]:
    """Held-out files of the snapshot when there is one, else the sample repos' code."""
    try:
        snap_id, heldout = _snapshot_heldout(ws, store, model_id)
    except StudioError:
        snap_id = None
    if snap_id is not None:
        from eval.internal import read_heldout, split_fim

        texts = []
        for row in read_heldout(heldout):
            parts = split_fim(row["prompt"]) if row.get("kind") == "fim" else None
            texts.append(parts[0] + row["completion"] + parts[1] if parts else row["prompt"] + row["completion"])
        return f"snapshot {snap_id}", texts
    files = sorted(p for p in SAMPLE_REPOS.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file())
    if not files:
        raise StudioError("no held-out split and no sample repos to measure latency on")
    return "sample repos", [p.read_text(encoding="utf-8", errors="replace") for p in files]


# -- running a suite on one model -------------------------------------------------------------------------------------
def _run_suite(ws: Workspace, store: Store, model_id: str, suite: str, limit, samples, progress, cancel,
               fixed: dict | None = None, like: str | None = None) -> dict:
    """Run the suite; returns {metrics, rows: [(metric, category, value)], settings, data_hash, details, results}.
    `fixed` carries the inputs chosen for the candidate so a baseline is judged on exactly the same data; `like`: the
    quantization to run the model at when it has a GGUF of it (the baseline's)."""
    tgt = target(store, model_id, like)
    backend = _backend(tgt["path"], cached=False)
    try:
        if suite == "humaneval":
            from eval import humaneval

            instruct = fixed["instruct"] if fixed else _is_instruct(store, model_id)
            if instruct and not _has_chat(backend):
                instruct = False
            out = humaneval.run(backend, instruct=instruct, limit=limit, samples=samples or 1, progress=progress,
                                cancel=cancel)
            settings = out["settings"]
            data = {"humaneval": sha256_file(humaneval.problems_file())}
            rows = [(m, None, v) for m, v in out["metrics"].items()]
            return {"metrics": out["metrics"], "rows": rows, "settings": settings, "data": data,
                    "results": out["results"], "per_sample": out["per_task"],
                    "details": {"sandbox": out["sandbox"], "samples": out["samples"]},
                    "fixed": {"instruct": instruct}, "target": tgt}
        if suite in HELD_OUT_SUITES:
            from eval import internal

            snap_id, heldout = fixed["heldout"] if fixed else (
                _snapshot_heldout(ws, store, model_id) if suite == "internal" else _general_heldout())
            try:
                rows_in = internal.read_heldout(heldout, limit=limit)
            except internal.InternalBenchmarkError as exc:
                raise StudioError(str(exc)) from None
            out = internal.run(backend, rows_in, progress=progress, cancel=cancel)
            rows = [(m, cat, vals[m]) for cat, vals in out["metrics"].items() for m in internal.METRICS]
            return {"metrics": out["metrics"], "rows": rows, "target": tgt, "results": out["results"],
                    "per_sample": out["results"],
                    "settings": {"snapshot": snap_id, "limit": limit, "max_tokens": 128, "greedy": True},
                    "data": {"heldout": sha256_file(heldout)}, "details": {"snapshot": snap_id},
                    "fixed": {"heldout": (snap_id, heldout)}}
        from eval import latency

        source, texts = fixed["texts"] if fixed else _latency_texts(ws, store, model_id)
        n = samples or limit or LATENCY_CONTEXTS
        contexts = latency.make_contexts(texts, backend.count_tokens, n)
        return _latency_out(latency.run(backend, contexts, progress=progress, cancel=cancel), tgt, source, texts)
    finally:
        backend.close()


def _latency_out(out: dict, tgt: dict, source: str, texts: list[str]) -> dict:
    rows = [(m, None, v) for m, v in out["metrics"].items() if m != "reuse_p95_ms"]
    return {"metrics": out["metrics"], "rows": rows, "target": tgt, "results": out["samples"],
            "per_sample": out["samples"], "settings": {**out["settings"], "source": source},
            "data": {"texts": sha256_json(texts)}, "details": {"target": out["target"]},
            "fixed": {"texts": (source, texts)}}


def _latency_paired(ws: Workspace, store: Store, model_id: str, baseline_id: str, limit, samples, progress,
                    cancel) -> tuple[dict, dict]:
    """Latency of candidate and baseline on the same contexts, interleaved in one run (eval.latency.run_paired), the
    candidate at the baseline's quantization when it has a GGUF of it."""
    from eval import latency

    base_tgt = target(store, baseline_id)
    tgt = target(store, model_id, base_tgt.get("quant_type"))
    source, texts = _latency_texts(ws, store, model_id)
    backend = _backend(tgt["path"], cached=False)
    try:
        base_backend = _backend(base_tgt["path"], cached=False)
        try:
            contexts = latency.make_contexts(texts, backend.count_tokens, samples or limit or LATENCY_CONTEXTS)
            mine, theirs = latency.run_paired(backend, base_backend, contexts, progress=progress, cancel=cancel)
        finally:
            base_backend.close()
    finally:
        backend.close()
    return _latency_out(mine, tgt, source, texts), _latency_out(theirs, base_tgt, source, texts)


def _general_heldout() -> tuple[str, Path]:
    """The general-code held-out set shipped with the studio (assets/general)."""
    from training.general import HELDOUT, NAME

    if not HELDOUT.is_file():
        raise StudioError(f"the general-code held-out set is missing at {HELDOUT}; reinstall blackroad-studio")
    return NAME, HELDOUT


def _has_chat(backend) -> bool:
    from eval.backends import BackendError

    try:
        backend.chat_prompt([{"role": "user", "content": "hi"}])
        return True
    except BackendError:
        return False


def _record(store: Store, model_id: str, suite: str, run_id: str, out: dict, settings_hash: str, settings: dict,
            baseline_id: str | None, intervals: dict | None = None) -> None:
    from app.intervals import row_details

    for metric, category, value in out["rows"]:
        store.add_eval_result(model_id, suite, metric, value, settings_hash, settings=settings, category=category,
                              artifact_id=out["target"]["artifact_id"], baseline_model_id=baseline_id, run_id=run_id,
                              evaluated=out["target"]["path"], backend=out["target"]["kind"],
                              **row_details((intervals or {}).get((metric, category))))


def _write_results(ws: Workspace, run_id: str, name: str, rows: list[dict]) -> str:
    path = ws.dir("runs") / run_id / f"{name}.jsonl"
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def evaluate(ws: Workspace, model_id: str, suite: str, *, limit: int | None = None, samples: int | None = None,
             baseline_id: str | None = None, progress: Progress = None,
             cancel: threading.Event | None = None) -> dict:
    """Run a suite on the model (and on the baseline with the same data and settings); record one row per metric.
    The internal suite takes the model's base fork as the baseline when none is named."""
    if suite not in EVAL_SUITES:
        raise StudioError(f"unknown suite {suite!r}; choose one of {', '.join(EVAL_SUITES)}")
    for name, value in (("--limit", limit), ("--samples", samples)):
        if value is not None and value < 1:
            raise StudioError(f"{name} must be at least 1")
    store = ws.store()
    try:
        chain = store.chain(store.require_model(model_id)["id"])
        if baseline_id is None and suite in HELD_OUT_SUITES and len(chain) > 1:
            baseline_id = chain[-1]["id"]  # the held-out benchmarks score base and candidate in the same run
        if baseline_id is not None:
            store.require_model(baseline_id)
            if baseline_id == model_id:
                raise StudioError("the baseline must be another model")
        with store.run("eval", model_id=model_id, base_id=baseline_id,
                       config={"suite": suite, "limit": limit, "samples": samples, "baseline": baseline_id}) as run:
            run_id = run.id
            say = progress or (lambda e: None)
            say({"event": "started", "message": f"eval {suite} on {model_id}"})
            base_out = None
            if suite == "latency" and baseline_id is not None:  # interleaved on the same contexts in one run
                out, base_out = _latency_paired(ws, store, model_id, baseline_id, limit, samples, progress, cancel)
            else:
                like = target(store, baseline_id).get("quant_type") if baseline_id is not None else None
                out = _run_suite(ws, store, model_id, suite, limit, samples, progress, cancel, like=like)
            check(cancel, "evaluation")
            settings = {**out["settings"], "data": out["data"]}
            settings_hash = sha256_json(settings)
            if baseline_id is not None and base_out is None:
                say({"event": "baseline", "message": f"eval {suite} on the baseline {baseline_id}"})
                base_out = _run_suite(ws, store, baseline_id, suite, limit, samples, progress, cancel,
                                      fixed=out["fixed"])
                check(cancel, "evaluation")
            from app import intervals

            found = intervals.record_run(store, run_id, suite, settings_hash, model_id, out, baseline_id, base_out)
            if base_out is not None:
                _record(store, baseline_id, suite, run_id, base_out, settings_hash, settings, None, found["baseline"])
            _record(store, model_id, suite, run_id, out, settings_hash, settings, baseline_id, found["candidate"])
            results_path = _write_results(ws, run_id, "results", out["results"])
            result = {"suite": suite, "model": model_id, "run": run_id, "metrics": out["metrics"],
                      "baseline": baseline_id, "baseline_metrics": base_out["metrics"] if base_out else None,
                      "settings_hash": settings_hash, "settings": settings, "evaluated": out["target"],
                      "results_path": results_path, **out["details"]}
            result["scores"], result["comparisons"] = intervals.json_rows(found["candidate"], base_out is not None)
            result["warnings"] = sorted({s["warning"] for s in result["scores"] if s["warning"]})
            if base_out is not None:
                result["baseline_results_path"] = _write_results(ws, run_id, "baseline_results", base_out["results"])
                result["deltas"] = _deltas(suite, out["metrics"], base_out["metrics"])
                result["baseline_scores"] = intervals.json_rows(found["baseline"], False)[0]
            run.result = {k: v for k, v in result.items() if k not in ("settings",)}
        return result
    except Cancelled:
        raise StudioError("evaluation cancelled; nothing recorded") from None
    finally:
        store.close()


def _deltas(suite: str, cand: dict, base: dict) -> dict:
    if suite in HELD_OUT_SUITES:
        from eval.internal import deltas

        return deltas(cand, base)
    return {k: cand[k] - base[k] for k in cand if isinstance(cand.get(k), (int, float))
            and isinstance(base.get(k), (int, float))}


# -- one completion (the CLI's `complete`, the TUI's completion trial) ----------------------------------------------
def complete(ws: Workspace, model_id: str, prefix: str, suffix: str = "", max_tokens: int = 32,
             on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """One fill-in-the-middle completion (a plain prefix completion where the model has no FIM tokens).
    `on_text` gets each new piece of the text as it streams; `cancel` stops the generation early."""
    from eval.backends import BackendError
    from eval.prompts import completion_prompt, completion_stops

    if max_tokens < 1:
        raise StudioError("max tokens must be at least 1")
    store = ws.store()
    try:
        tgt = target(store, model_id)
    finally:
        store.close()
    backend = _backend(tgt["path"], cached=True)
    try:
        out = backend.complete(completion_prompt(prefix, suffix, backend.fim), max_tokens=max_tokens,
                               stop=completion_stops(backend.fim), on_text=on_text, cancel=cancel)
    except BackendError as exc:
        raise StudioError(str(exc)) from None
    return {"model": model_id, **out.as_dict(), "fim": backend.fim.name if backend.fim else None,
            "backend": backend.kind, "evaluated": tgt}
