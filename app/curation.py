"""`curate`: resolve the base model, the sources and the rules, run the curation engine, record the snapshot."""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable

from app.errors import StudioError
from app.forks import DEMO_BASE_ID
from app.repos import cache_path, git_head, require_repo
from app.workspace import Workspace

DEFAULT_CATEGORIES = Path(__file__).resolve().parent.parent / "assets" / "categories.toml"
RESULT_ONLY = ("config", "files", "content_hash", "files_reprocessed", "files_rehashed", "output", "snapshot",
               "workers")


def resolve_base(store, base_id: str | None) -> dict:
    """The base whose tokenizer measures the samples: the given id, the only fork, or the demo base."""
    if base_id:
        return store.require_model(base_id)
    forks = store.query("SELECT * FROM models WHERE stage = 'forkies' ORDER BY created")
    if len(forks) == 1:
        return forks[0]
    demo = store.model(DEMO_BASE_ID)
    if demo is not None:
        return demo
    if not forks:
        raise StudioError("no base model in this workspace: fork one first (blackroad-studio fork ...)")
    raise StudioError(f"several base models ({', '.join(f['id'] for f in forks)}): pick one with --base")


def tokenizer_dir(base: dict) -> str:
    path = base.get("path")
    if not path or not (Path(path) / "tokenizer.json").is_file():
        raise StudioError(f"{base['id']} has no HF directory with a tokenizer.json to count tokens with")
    return path


@lru_cache(maxsize=8)
def fim_format_for(tok_dir: str) -> str | None:
    """The FIM format the base's vocabulary supports (None: plain prefix → completion samples)."""
    from training import fim
    from training.tokenizer import load

    found = fim.detect(load(tok_dir).get_vocab(with_added_tokens=True))
    return found.name if found else None


def category_rules(ws: Workspace) -> list[dict]:
    from training.curation import split

    own = ws.root / "categories.toml"
    try:
        return split.rules_to_dicts(split.load_rules(own if own.is_file() else DEFAULT_CATEGORIES))
    except split.CategoryError as exc:
        raise StudioError(str(exc)) from None


def _sources(store, repos, paths) -> tuple[list, list[dict], list[str]]:
    """(engine sources, skipped sources with reasons, names of the registered repos used)."""
    from training.curation.curate import Source

    sources, skipped, used = [], [], []
    names = list(repos) or ([] if paths else [r["name"] for r in store.query("SELECT name FROM repos ORDER BY name")])
    if not names and not paths:
        raise StudioError("nothing to curate: add a repo (blackroad-studio repos add PATH) or pass --path DIR")
    for name in dict.fromkeys(names):
        row = require_repo(store, name)
        root = Path(row["path"])
        if not root.is_dir():
            skipped.append({"name": name, "path": row["path"], "reason": "folder no longer exists"})
            continue
        commit = git_head(root) if row["kind"] == "git" else None
        sources.append(Source(name, str(root), row["kind"], commit))
        used.append(name)
    taken = {s.name for s in sources}
    for raw in paths:
        folder = Path(raw).expanduser()
        if not folder.is_dir():
            raise StudioError(f"--path {raw}: not a folder")
        folder = folder.resolve()
        name, n = folder.name or "root", 2
        while name in taken:
            name, n = f"{folder.name}-{n}", n + 1
        taken.add(name)
        commit = git_head(folder)
        sources.append(Source(name, str(folder), "git" if commit else "folder", commit))
    return sources, skipped, used


def _feedback(store, model: str) -> dict:
    """The captured accepted completions of a served model, for the engine."""
    from app import routes

    model_id = routes.resolve(store, model, through_routes=False)
    if model_id is None:
        raise StudioError(f"--feedback {model}: neither a model id nor a stage alias of this workspace")
    captures = store.query("SELECT completion_id, prompt, suffix, accepted, language FROM feedback_captures "
                           "WHERE model_id = ? ORDER BY completion_id", [model_id])
    if not captures:
        raise StudioError(f"--feedback {model_id}: no accepted completions captured (serve it with --capture)")
    return {"model": model_id, "captures": captures}


def curate(ws: Workspace, repos=(), paths=(), out=None, base_id=None,
           progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None,
           heldout_rate: float = 0.10, fim_rate: float = 0.5, seed: int = 42, exclude=(),
           heldout_min_samples: int = 200, feedback_model: str | None = None) -> dict:
    """Build a dataset snapshot and record it; returns the `curate --json` dict. The held-out split holds the
    files under `heldout_rate`, grown to `heldout_min_samples` samples (capped; training/curation/split.py).

    exclude: gitignore-style patterns (relative to each repo) to leave out of this snapshot.
    feedback_model: a model (id or stage alias) whose accepted completions `serve --capture` kept join the train
    split, tagged with their provenance."""
    from app.secret_marks import marked_fingerprints
    from training.curation import curate as engine
    from training.curation.samples import SampleConfig

    store = ws.store()
    started = store.now()
    try:
        base = resolve_base(store, base_id)
        tok_dir = tokenizer_dir(base)
        sources, skipped, used = _sources(store, repos, paths)
        for item in skipped:
            if progress:
                progress({"event": "log", "message": f"skipping repo {item['name']}: {item['reason']}"})
        if not sources:
            raise StudioError("nothing to curate: " + "; ".join(f"{s['name']}: {s['reason']}" for s in skipped))
        feedback = _feedback(store, feedback_model) if feedback_model else None
        marked: dict[str, set[str]] = {}
        for name in used:
            marked[name] = {r["relpath"] for r in store.query("SELECT relpath FROM repo_changes WHERE repo = ?", [name])}
        cfg = engine.CurateConfig(
            tokenizer_dir=tok_dir, base_id=base["id"], heldout_rate=heldout_rate, seed=seed,
            heldout_min_samples=heldout_min_samples,
            samples=SampleConfig(fim_format=fim_format_for(tok_dir), fim_rate=fim_rate, seed=seed),
            categories=category_rules(ws), false_positives=marked_fingerprints(store))
        try:
            result = engine.build(sources, cfg, cache_path(ws), ws.dir("datasets"), Path(out) if out else None,
                                  marked, progress, cancel, exclude=tuple(exclude), feedback=feedback)
        except engine.Cancelled:
            raise StudioError("curation cancelled; nothing was recorded") from None
        except NotADirectoryError as exc:
            raise StudioError(str(exc)) from None
        stats = {k: v for k, v in result.items() if k not in RESULT_ONLY}
        source_rows = [{"name": s.name, "path": s.root, "kind": s.kind, "commit": s.commit} for s in sources]
        store.add_snapshot(result["snapshot"], result["content_hash"], result["output"], result["config"], stats,
                           source_rows)
        with store.conn:
            for name in used:
                store.conn.execute("DELETE FROM repo_changes WHERE repo = ? AND seen <= ?", [name, started])
        result["base"] = base["id"]
        result["sources"] = source_rows
        result["skipped"] = skipped
        result.pop("config", None)
        return result
    finally:
        store.close()
