"""The one-click pipeline: train → merge → export → eval (internal, HumanEval, latency) → cards → checklist.

Each step is recorded in a `pipeline` run row (runs.result["steps"]): the hash of what went in, what came out
(artifact ids, eval row ids, paths with sha256) and how long it took. A step is skipped when an earlier record of
the same step for the same model has the same input hash and every output still verifies on disk (or in the
store), so a pipeline stopped anywhere, by a crash, Ctrl-C or the cancel event, resumes where it stopped.
The checklist comes last, after the cards (its attribution item looks for the notices they write), and is
re-read every time: it writes nothing and depends on the clock (expiry, days in stage).
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from app.errors import StudioError
from app.ids import folder_name
from app.pipeline_steps import STEP_NAMES
from app.store import Store
from app.workspace import Workspace
from eval.suites import SUITES
from training.cancel import Cancelled
from training.fileio import sha256_file, sha256_json

Progress = Callable[[dict], None]
DEFAULT_TYPES = ("q8_0", "q4_k_m")


class PipelineCancelled(StudioError, Cancelled):
    """The cancel event was set; finished steps are recorded and the next run resumes after them."""


@dataclass
class PipelineConfig:
    """Everything that decides what the pipeline produces (and so goes into the steps' input hashes)."""

    base_id: str
    snapshot_id: str
    model_id: str
    max_steps: int | None = None
    epochs: int | None = None
    seq_len: int | None = None
    nproc: int = 1
    train_options: dict = field(default_factory=dict)  # other TrainConfig fields (batch_size, micro_batch_size...)
    types: tuple[str, ...] = DEFAULT_TYPES
    suites: tuple[str, ...] = SUITES
    humaneval_limit: int | None = 20
    internal_limit: int | None = None
    general_limit: int | None = None
    latency_samples: int | None = None
    baseline: bool = True
    to_stage: str = "internal"
    cards: bool = True

    def validate(self) -> None:
        unknown = sorted(set(self.suites) - set(SUITES))
        if unknown:
            raise StudioError(f"unknown eval suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
        if not self.types:
            raise StudioError("export needs at least one GGUF type (e.g. q8_0,q4_k_m)")
        for name in ("max_steps", "epochs", "seq_len", "humaneval_limit", "internal_limit", "general_limit",
                     "latency_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise StudioError(f"{name.replace('_', '-')} must be at least 1, got {value}")


@dataclass
class _Step:
    name: str
    inputs: dict
    action: Callable[[], dict]
    outputs: Callable[[dict], list[dict]]
    record: dict = field(default_factory=dict)


# -- outputs: what a step leaves behind, and how to check it is still there ------------------------------------
def _artifact_outputs(store: Store, entries: list[dict], kind: str | None = None) -> list[dict]:
    """Map {path, sha256} results of an entry point to the artifact rows the store holds for them."""
    out = []
    for entry in entries:
        path, sha = str(entry["path"]), entry.get("sha256")
        sql = "SELECT id, kind, path, sha256 FROM artifacts WHERE path = ?" + (" AND kind = ?" if kind else "")
        rows = store.query(sql + " ORDER BY id DESC", [path, kind] if kind else [path])
        row = next((r for r in rows if sha is None or r["sha256"] == sha), None)
        out.append({"artifact": row["id"], "path": path, "sha256": row["sha256"]} if row
                   else {"path": path, "sha256": sha})
    return out


def _verify_output(store: Store, out: dict) -> str | None:
    """None when the output is still what the record says; else the reason it is not."""
    from app import evidence

    if "eval_rows" in out:
        ids = out["eval_rows"]
        if not ids:
            return "no eval rows recorded"
        found = store.one(f"SELECT COUNT(*) AS n FROM eval_results WHERE id IN ({','.join('?' * len(ids))})", ids)
        return None if found["n"] == len(ids) else "eval rows missing from the store"
    if "artifact" in out:
        art = store.one("SELECT * FROM artifacts WHERE id = ?", [out["artifact"]])
        if art is None:
            return f"artifact {out['artifact']} is not in the store"
        return evidence.verify_artifact(store, art)
    path = Path(out["path"])
    if not path.exists():
        return f"{path} is missing"
    if out.get("sha256") is None:
        return None
    actual = evidence.tree_sha256(path, {}) if path.is_dir() else sha256_file(path)
    return None if actual == out["sha256"] else f"{path} changed on disk"


# -- the pipeline ----------------------------------------------------------------------------------------------
class Pipeline:
    """One invocation: a run row, the steps in order, skip-or-run for each."""

    def __init__(self, ws: Workspace, cfg: PipelineConfig, progress: Progress | None = None,
                 cancel: threading.Event | None = None):
        self.ws, self.cfg = ws, cfg
        self.progress = progress or (lambda event: None)
        self.cancel = cancel or threading.Event()
        self.run_id: str | None = None  # minted by the store when the run starts
        self.steps: dict[str, dict] = {}
        self.results: dict[str, dict] = {}

    # -- recording --------------------------------------------------------------------------------------------
    def _emit(self, step: str, status: str, message: str, **extra: Any) -> None:
        self.progress({"event": "pipeline", "pipeline": self.run_id, "step": step, "status": status,
                       "message": message, **extra})

    def _inner(self, step: str) -> Progress:
        """Forward an engine's events tagged with the pipeline step; training steps get a one-line message."""
        def forward(event: dict) -> None:
            extra = {}
            if "message" not in event and event.get("event") == "step" and "loss" in event:
                total = event.get("total_steps") or event.get("max_steps")
                extra["message"] = (f"{step}: step {event.get('step')}{f'/{total}' if total else ''} "
                                    f"loss {event['loss']:.4f}, {event.get('tokens_per_second') or 0:.0f} tokens/s"
                                    + (f", eta {event['eta_s']:.0f} s" if event.get("eta_s") is not None else ""))
            self.progress({**event, **extra, "pipeline": self.run_id, "step": event.get("step", step),
                           "pipeline_step": step})
        return forward

    def _save(self, store: Store) -> None:
        store.update("runs", "id", self.run_id, {"result": {"steps": self.steps}})

    def _previous(self, store: Store, name: str, inputs_hash: str) -> dict | None:
        """The newest finished record of this step, for this model, with the same inputs, whose outputs verify."""
        rows = store.query("SELECT id, config, result FROM runs WHERE kind = 'pipeline' AND id IS NOT ? "
                           "ORDER BY created DESC, id DESC", [self.run_id])
        for row in rows:
            if (row["config"] or {}).get("model_id") != self.cfg.model_id:
                continue
            rec = ((row["result"] or {}).get("steps") or {}).get(name)
            if not rec or rec.get("status") not in ("done", "skipped") or rec.get("inputs") != inputs_hash:
                continue
            problems = [p for p in (_verify_output(store, o) for o in rec.get("outputs", [])) if p]
            if not problems:
                return {**rec, "from_run": rec.get("from_run") or row["id"]}
        return None

    # -- running ----------------------------------------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        cfg.validate()
        with self.ws.store() as store:  # opening it marks earlier runs whose process is gone as interrupted
            base = store.require_model(cfg.base_id)
            snap = store.require_snapshot(cfg.snapshot_id)
            cfg.snapshot_id = snap["id"]
            existing = store.model(cfg.model_id)
            if existing is not None:  # refuse a settings clash before anything is recorded
                train_run = store.run_row((existing.get("details") or {}).get("run_id") or "")
                if train_run is not None:
                    self._check_settings(train_run)
            started = time.monotonic()
            with store.run("pipeline", base_id=base["id"], snapshot_id=snap["id"],
                           model_id=cfg.model_id if existing else None, config=asdict(cfg),
                           config_hash=sha256_json(asdict(cfg))) as run:
                self.run_id = run.id
                for name in self._plan():
                    if self.cancel.is_set():
                        raise PipelineCancelled(f"pipeline cancelled before {name}; run it again to resume")
                    self._do(name)
                result = self._result(time.monotonic() - started)
                run.result = {**result, "steps": self.steps}
        return result

    def _plan(self) -> list[str]:
        return [name for name in STEP_NAMES
                if not (name.startswith("eval-") and name[5:] not in self.cfg.suites)
                and not (name == "cards" and not self.cfg.cards)]

    def _do(self, name: str) -> None:
        store = self.ws.store()
        try:
            step = self._builders()[name](store)
        finally:
            store.close()
        inputs_hash = sha256_json(step.inputs)
        store = self.ws.store()
        try:
            previous = None if name == "checklist" else self._previous(store, name, inputs_hash)
            if previous is not None:
                self.steps[name] = {**previous, "status": "skipped", "seconds": 0.0,
                                    "original_seconds": previous.get("original_seconds", previous.get("seconds"))}
                self.results[name] = previous.get("result") or {}
                self._save(store)
                store.event("pipeline.step", model_id=self.cfg.model_id, run_id=self.run_id, step=name,
                            status="skipped", from_run=previous["from_run"])
                self._emit(name, "skipped", f"{name}: already done (run {previous['from_run']}), outputs verified")
                return
            self.steps[name] = {"status": "running", "inputs": inputs_hash, "started": store.now()}
            self._save(store)
        finally:
            store.close()
        self._emit(name, "started", f"{name}: started")
        t0 = time.monotonic()
        try:
            result = step.action()
        except BaseException as exc:
            cancelled = self.cancel.is_set()
            self._record(name, {"status": "cancelled" if cancelled else "failed", "inputs": inputs_hash,
                                "error": str(exc) or type(exc).__name__, "seconds": round(time.monotonic() - t0, 2)})
            self._emit(name, "cancelled" if cancelled else "failed", f"{name}: {'cancelled' if cancelled else 'failed'}: {exc}")
            if cancelled and isinstance(exc, Exception):
                raise PipelineCancelled(f"pipeline cancelled during {name}; run it again to resume") from exc
            raise
        seconds = round(time.monotonic() - t0, 2)
        if self.cancel.is_set():
            self._record(name, {"status": "cancelled", "inputs": inputs_hash, "seconds": seconds})
            raise PipelineCancelled(f"pipeline cancelled during {name}; run it again to resume")
        outputs = step.outputs(result) if name != "checklist" else []
        self.results[name] = result
        with self.ws.store() as store:
            finished = store.now()
        self._record(name, {"status": "skipped" if result.get("adopted") else "done", "inputs": inputs_hash,
                            "outputs": outputs, "seconds": seconds, "finished": finished,
                            "result": _compact(result)})
        self._emit(name, "finished", f"{name}: done in {seconds:.1f} s", seconds=seconds)

    def _record(self, name: str, rec: dict) -> None:
        self.steps[name] = rec
        store = self.ws.store()
        try:
            if store.model(self.cfg.model_id) is not None:
                store.update("runs", "id", self.run_id, {"model_id": self.cfg.model_id})
            self._save(store)
            store.event("pipeline.step", model_id=self.cfg.model_id, run_id=self.run_id, step=name,
                        status=rec["status"], seconds=rec.get("seconds"))
        finally:
            store.close()

    def _result(self, seconds: float) -> dict:
        store = self.ws.store()
        try:
            model = store.model(self.cfg.model_id) or {}
            from app import evidence

            artifacts = [{"kind": a["kind"], "type": a["quant_type"], "path": a["path"], "sha256": a["sha256"],
                          "size_bytes": a["size_bytes"]}
                         for a in evidence.current_artifacts(store, self.cfg.model_id)]
        finally:
            store.close()
        checklist = self.results.get("checklist") or {}
        return {
            "pipeline": self.run_id, "model": self.cfg.model_id, "base": self.cfg.base_id,
            "snapshot": self.cfg.snapshot_id, "gguf": model.get("gguf_path"), "merged": model.get("path"),
            "steps": [{"name": n, "status": self.steps[n]["status"], "seconds": self.steps[n].get("seconds"),
                       **({"original_seconds": self.steps[n]["original_seconds"]}
                          if self.steps[n].get("original_seconds") is not None else {}),
                       **({"from_run": self.steps[n]["from_run"]} if self.steps[n].get("from_run") else {})}
                      for n in self.steps],
            "metrics": {s: (self.results.get(f"eval-{s}") or {}).get("metrics") for s in self.cfg.suites},
            "baseline_metrics": {s: (self.results.get(f"eval-{s}") or {}).get("baseline_metrics")
                                 for s in self.cfg.suites},
            "artifacts": artifacts,
            "checklist": {"to": self.cfg.to_stage, "ready": checklist.get("ready"),
                          "failing": checklist.get("failing", [])},
            "ready": bool(checklist.get("ready")),
            "cards": [f.get("path") for f in (self.results.get("cards") or {}).get("files", [])],
            "seconds": round(seconds, 2),
        }

    # -- the steps --------------------------------------------------------------------------------------------
    def _step_train(self, store: Store) -> _Step:
        cfg = self.cfg
        base = store.require_model(cfg.base_id)
        snap = store.require_snapshot(cfg.snapshot_id)
        inputs = {"base": base["id"], "base_sha256": base["source_sha256"], "snapshot": snap["content_hash"],
                  "max_steps": cfg.max_steps, "epochs": cfg.epochs, "seq_len": cfg.seq_len, "nproc": cfg.nproc,
                  "options": cfg.train_options}
        existing = store.model(cfg.model_id)
        if existing is not None:
            details = existing.get("details") or {}
            if existing.get("parent_id") != base["id"] or details.get("snapshot_id") not in (snap["id"], None):
                raise StudioError(f"{cfg.model_id} already exists and was trained from {existing.get('parent_id')} "
                                  f"on {details.get('snapshot_id')}; pick a new --id")

        def action() -> dict:
            from app import training_jobs

            finished, resume = self._train_state()
            if finished is not None:
                self._emit("train", "adopted", f"train: {cfg.model_id} was already trained (run {finished['id']})")
                return {**(finished.get("result") or {}), "adopted": True}
            return training_jobs.train(self.ws, cfg.base_id, cfg.snapshot_id, cfg.model_id, max_steps=cfg.max_steps,
                                       epochs=cfg.epochs, seq_len=cfg.seq_len, nproc=cfg.nproc, resume=resume,
                                       progress=self._inner("train"), cancel=self.cancel, **cfg.train_options)

        def outputs(result: dict) -> list[dict]:
            return self._lookup(lambda s: _artifact_outputs(s, [{"path": result["adapter"]}], "adapter"))

        return _Step("train", inputs, action, outputs)

    def _step_merge(self, store: Store) -> _Step:
        adapter = self._output_sha("train")

        def action() -> dict:
            from app import training_jobs

            return training_jobs.merge(self.ws, self.cfg.model_id, progress=self._inner("merge"))

        def outputs(result: dict) -> list[dict]:
            return self._lookup(lambda s: _artifact_outputs(s, [result], "merged"))

        return _Step("merge", {"adapter": adapter}, action, outputs)

    def _step_export(self, store: Store) -> _Step:
        merged = self._output_sha("merge")
        types = tuple(self.cfg.types) + self._baseline_type(store)

        def action() -> dict:
            from app import exporting

            result = exporting.export(self.ws, self.cfg.model_id, types=types, out=self._export_dir(types),
                                      progress=self._inner("export"), cancel=self.cancel)
            self._repoint_gguf(result["artifacts"])
            return result

        def outputs(result: dict) -> list[dict]:
            return self._lookup(lambda s: _artifact_outputs(s, result["artifacts"], "gguf"))

        return _Step("export", {"merged": merged, "types": list(types)}, action, outputs)

    def _eval_step(self, store: Store, suite: str) -> _Step:
        cfg = self.cfg
        model = store.require_model(cfg.model_id)
        gguf = model.get("gguf_path")
        gguf_sha = next((a["sha256"] for a in reversed(store.artifacts(cfg.model_id, "gguf")) if a["path"] == gguf),
                        None)
        limit = {"humaneval": cfg.humaneval_limit, "internal": cfg.internal_limit, "general": cfg.general_limit}.get(suite)
        samples = cfg.latency_samples if suite == "latency" else None
        baseline = cfg.base_id if cfg.baseline else None
        inputs = {"suite": suite, "gguf": gguf_sha or self._output_sha("export"), "limit": limit, "samples": samples,
                  "baseline": baseline, "snapshot": cfg.snapshot_id}
        before = store.one("SELECT COALESCE(MAX(id), 0) AS id FROM eval_results")["id"]

        def action() -> dict:
            from app import evaluating

            return evaluating.evaluate(self.ws, cfg.model_id, suite, limit=limit, samples=samples,
                                       baseline_id=baseline, progress=self._inner(f"eval-{suite}"),
                                       cancel=self.cancel)

        def outputs(result: dict) -> list[dict]:
            return self._lookup(lambda s: [{"eval_rows": [r["id"] for r in s.query(
                "SELECT id FROM eval_results WHERE model_id = ? AND suite = ? AND id > ? ORDER BY id",
                [cfg.model_id, suite, before])]}])

        return _Step(f"eval-{suite}", inputs, action, outputs)

    def _builders(self) -> dict[str, Callable[[Store], _Step]]:
        """Each step of STEP_NAMES and the method that builds it."""
        evals = {f"eval-{suite}": (lambda store, suite=suite: self._eval_step(store, suite)) for suite in SUITES}
        return {"train": self._step_train, "merge": self._step_merge, "export": self._step_export, **evals,
                "cards": self._step_cards, "checklist": self._step_checklist}

    def _step_checklist(self, store: Store) -> _Step:
        def action() -> dict:
            from app import promotion

            return promotion.checklist(self.ws, self.cfg.model_id, self.cfg.to_stage)

        return _Step("checklist", {"to": self.cfg.to_stage}, action, lambda result: [])

    def _step_cards(self, store: Store) -> _Step:
        from app import evidence

        arts = [(a["id"], a["sha256"]) for a in evidence.current_artifacts(store, self.cfg.model_id)
                if a["kind"] not in evidence.CARD_KINDS]
        last_eval = store.one("SELECT MAX(id) AS id FROM eval_results WHERE model_id = ?", [self.cfg.model_id])["id"]
        inputs = {"artifacts": arts, "last_eval": last_eval}

        def action() -> dict:
            from app import cards

            return cards.write_cards(self.ws, self.cfg.model_id)

        def outputs(result: dict) -> list[dict]:
            return self._lookup(lambda s: _artifact_outputs(s, result.get("files", [])))

        return _Step("cards", inputs, action, outputs)

    # -- helpers ----------------------------------------------------------------------------------------------
    def _check_settings(self, run: dict) -> None:
        """Refuse to carry on a model whose training run used other settings than the ones asked for now."""
        wanted = {"max_steps": self.cfg.max_steps, "epochs": self.cfg.epochs, "seq_len": self.cfg.seq_len,
                  "nproc": self.cfg.nproc if self.cfg.nproc != 1 else None, **self.cfg.train_options}
        had = run.get("config") or {}
        differ = sorted(k for k, v in wanted.items() if v is not None and had.get(k) != v)
        if differ:
            raise StudioError(f"{self.cfg.model_id} was trained with other settings ("
                              + ", ".join(f"{k}={had.get(k)}, not {wanted[k]}" for k in differ)
                              + "); leave them out to resume it, or pick a new id")

    def _train_state(self) -> tuple[dict | None, bool]:
        """(finished training run to adopt, resume?) for a model that may exist from an earlier attempt.

        A model whose training run finished (by an earlier pipeline or by `train` itself) and whose adapter
        verifies is adopted; one whose run was cut short is resumed from its last checkpoint."""
        from app import evidence

        store = self.ws.store()
        try:
            model = store.model(self.cfg.model_id)
            if model is None:
                return None, False
            run = store.run_row((model.get("details") or {}).get("run_id") or "")
            if run is None or run["kind"] != "train":
                raise StudioError(f"{self.cfg.model_id} exists but has no training run; pick a new id")
            self._check_settings(run)
            if run["status"] != "finished":
                return None, True
            adapters = [a for a in store.artifacts(self.cfg.model_id, "adapter") if a["run_id"] == run["id"]]
            if adapters and evidence.verify_artifact(store, adapters[-1]) is None:
                return run, False
            raise StudioError(f"the adapter of {self.cfg.model_id} is missing or changed on disk; "
                              "train a new model id")
        finally:
            store.close()

    def _lookup(self, fn: Callable[[Store], list[dict]]) -> list[dict]:
        store = self.ws.store()
        try:
            return fn(store)
        finally:
            store.close()

    def _export_dir(self, types: tuple[str, ...]) -> Path:
        """The model's artifacts folder, or, when an earlier (partial or damaged) export left files there, a
        sibling named after this run: recorded artifacts are never overwritten."""
        folder = self.ws.dir("artifacts") / folder_name(self.cfg.model_id)
        if folder.is_dir() and any(p.name.endswith(tuple(f"-{t}.gguf" for t in types)) for p in folder.iterdir()):
            return folder.with_name(f"{folder.name}.{self.run_id}")
        return folder

    def _baseline_type(self, store: Store) -> tuple[str, ...]:
        """The baseline's GGUF type when the exporter can write it and it is not asked for already: the evals then
        judge the candidate at the base's quantization (app.evaluating.target), not a finer one."""
        from app.evaluating import target
        from export.tensor_names import ALL_TYPES

        if not self.cfg.baseline:
            return ()
        try:
            qtype = target(store, self.cfg.base_id).get("quant_type")
        except StudioError:
            return ()
        return (qtype,) if qtype in ALL_TYPES and qtype not in self.cfg.types else ()

    def _repoint_gguf(self, artifacts: list[dict]) -> None:
        """After a re-export, point the model's default GGUF at the new file of the same type when the old one
        no longer verifies (export only sets it the first time)."""
        from app import evidence

        store = self.ws.store()
        try:
            model = store.require_model(self.cfg.model_id)
            current = [a for a in store.artifacts(self.cfg.model_id, "gguf") if a["path"] == model.get("gguf_path")]
            if current and evidence.verify_artifact(store, current[-1]) is None:
                return
            qtype = current[-1]["quant_type"] if current else None
            new = next((a for a in artifacts if a["type"] == qtype), artifacts[0] if artifacts else None)
            if new is not None:
                store.update("models", "id", self.cfg.model_id, {"gguf_path": new["path"]})
                store.event("model.gguf_path", model_id=self.cfg.model_id, run_id=self.run_id, path=new["path"],
                            reason="the previous default GGUF is missing or changed on disk")
        finally:
            store.close()

    def _output_sha(self, step: str) -> list[str | None]:
        rec = self.steps.get(step) or {}
        return [o.get("sha256") for o in rec.get("outputs", [])]


def _compact(result: dict) -> dict:
    """A step's result without bulky fields (per-sample eval results, card markdown) for the run record."""
    return {k: v for k, v in (result or {}).items() if k not in ("results", "markdown", "samples", "items")}


def run_pipeline(ws: Workspace, model_id: str, *, base_id: str | None = None, snapshot_id: str | None = None,
                 progress: Progress | None = None, cancel: threading.Event | None = None, **options: Any) -> dict:
    """Run (or resume) the whole loop for `model_id` (a research id). For a model that already exists, base and
    snapshot default to the ones it was trained from; for a new one they are required. Options are the
    PipelineConfig fields (max_steps, epochs, seq_len, types, suites, humaneval_limit, ...)."""
    from app import ids

    ids.parse(model_id, stage="research")
    store = ws.store()
    try:
        existing = store.model(model_id)
    finally:
        store.close()
    if existing is not None:
        base_id = base_id or existing.get("parent_id")
        snapshot_id = snapshot_id or (existing.get("details") or {}).get("snapshot_id")
    if not base_id or not snapshot_id:
        raise StudioError(f"{model_id} does not exist yet: give --base and --snapshot to train it")
    cfg = PipelineConfig(base_id=base_id, snapshot_id=snapshot_id, model_id=model_id, **options)
    return Pipeline(ws, cfg, progress, cancel).run()
