"""Read models for the panes: plain functions over a Store (and the files it points at), no textual.

Workers call these in a thread with their own Store connection; panes only render what comes back."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from eval.suites import improvement

if TYPE_CHECKING:  # the store (sqlite-utils) loads in the workers, after the first paint
    from app.store import Store

# Extensions → language, for the language mix of a watched repo that curation has not described yet.
EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".ts": "typescript", ".tsx": "typescript", ".js": "javascript",
    ".jsx": "javascript", ".mjs": "javascript", ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp", ".rb": "ruby",
    ".php": "php", ".swift": "swift", ".scala": "scala", ".sh": "bash", ".sql": "sql", ".md": "markdown",
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".css": "css", ".html": "html",
}
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", "dist", "build", ".mypy_cache", ".tox"}


def model_ids(store: Store, stages: tuple[str, ...] | None = None) -> list[str]:
    return [m["id"] for m in store.models() if stages is None or m["stage"] in stages]


def offered_models(store: Store, stages: tuple[str, ...] | None = None) -> list[dict]:
    """The models the panes offer to use: forks, promoted models, and research models whose training run finished.
    A cancelled, failed or still running run's model is left out (Lineage still shows it, with its run)."""
    finished = {r["id"] for r in store.query("SELECT id FROM runs WHERE kind = 'train' AND status = 'finished'")}
    return [m for m in store.models() if (stages is None or m["stage"] in stages)
            and (m["stage"] != "research" or (m.get("details") or {}).get("run_id") in finished)]


def language_mix(path: str | Path, limit: int = 20000) -> dict[str, int]:
    """Files per language under `path` by extension (at most `limit` files looked at)."""
    counts: Counter = Counter()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in filenames:
            lang = EXTENSIONS.get(Path(name).suffix.lower())
            if lang:
                counts[lang] += 1
            seen += 1
            if seen >= limit:
                return dict(counts)
    return dict(counts)


def format_mix(mix: dict[str, int], top: int = 3) -> str:
    total = sum(mix.values())
    if not total:
        return "–"
    parts = sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return " ".join(f"{lang} {100 * n / total:.0f}%" for lang, n in parts)


def repos_overview(store: Store, changed: Callable[[dict], int] | None = None) -> list[dict]:
    """Watched repos with their language mix and the files changed since the last snapshot: `changed(row)` counts
    them (app.repos.changed_files: the watcher's marks plus a stat check against the curation cache); without
    it, the watcher's marks alone."""
    marks = {r["repo"]: r["n"] for r in store.query("SELECT repo, count(*) AS n FROM repo_changes GROUP BY repo")}
    out = []
    for repo in store.query("SELECT * FROM repos ORDER BY name"):
        details = repo.get("details") or {}
        mix = details.get("languages")
        present = Path(repo["path"]).is_dir()
        if not isinstance(mix, dict):
            mix = language_mix(repo["path"]) if present else {}
        count = changed(repo) if changed is not None and present else marks.get(repo["name"], 0)
        out.append({**repo, "languages": mix, "changed": count, "missing": not Path(repo["path"]).exists()})
    return out


def snapshots(store: Store) -> list[dict]:
    return store.query("SELECT * FROM snapshots ORDER BY created DESC, id DESC")


def read_samples(snapshot: dict, limit: int = 400) -> list[dict]:
    """The first `limit` samples of each split of a snapshot, with `split` added; unreadable lines are skipped."""
    out: list[dict] = []
    for split in ("train", "heldout"):
        path = Path(snapshot["path"]) / f"{split}.jsonl"
        if not path.is_file():
            continue
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if n >= limit:
                    break
                try:
                    sample = json.loads(line)
                except ValueError:
                    continue
                out.append({**sample, "split": split})
    return out


def snapshot_report(snapshot: dict) -> dict:
    """Why files were dropped (reason → count) and secret findings by file and kind, never their values."""
    stats = snapshot.get("stats") or {}
    manifest: dict = {}
    path = Path(snapshot["path"]) / "manifest.json"
    if path.is_file():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            manifest = {}
    dropped = stats.get("dropped") or manifest.get("dropped") or {}
    if isinstance(dropped, list):  # a list of {path, reason}: count by reason
        dropped = dict(Counter(d.get("reason", "?") for d in dropped if isinstance(d, dict)))
    findings = manifest.get("secrets") or manifest.get("secret_findings") or stats.get("secret_findings") or []
    secrets: Counter = Counter()
    for f in findings if isinstance(findings, list) else []:
        if isinstance(f, dict):
            secrets[(f.get("repo", ""), f.get("path") or f.get("file") or "?", f.get("kind") or f.get("type") or "?")] += 1
    return {
        "dropped": dict(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))),
        "secrets": [{"repo": r, "path": p, "kind": k, "count": n} for (r, p, k), n in sorted(secrets.items())],
        "stats": stats,
        "excluded": manifest.get("excluded") or (snapshot.get("config") or {}).get("exclude") or [],
    }


def runs(store: Store, kind: str | None = None, limit: int = 50) -> list[dict]:
    if kind is None:
        return store.query("SELECT * FROM runs ORDER BY created DESC, id DESC LIMIT ?", [limit])
    return store.query("SELECT * FROM runs WHERE kind = ? ORDER BY created DESC, id DESC LIMIT ?", [kind, limit])


def loss_curve(store: Store, run_id: str) -> tuple[list[int], list[float]]:
    rows = [r for r in store.metrics(run_id) if r["loss"] is not None]
    return [r["step"] for r in rows], [r["loss"] for r in rows]


def current_evals(store: Store, model_id: str) -> dict[tuple, dict]:
    """The latest row per (suite, metric, category) of a model."""
    latest: dict[tuple, dict] = {}
    for row in store.eval_results(model_id):
        latest[(row["suite"], row["metric"], row["category"])] = row
    return latest


def default_baseline(store: Store, model_id: str) -> str | None:
    """The baseline its evals were run against, else the fork it descends from."""
    for row in reversed(store.eval_results(model_id)):
        if row.get("baseline_model_id"):
            return row["baseline_model_id"]
    chain = store.chain(model_id)
    return chain[-1]["id"] if len(chain) > 1 else None


def compare_evals(store: Store, candidate: str, baseline: str | None) -> list[dict]:
    """Base vs candidate per suite, category and metric, with the delta and whether it is an improvement.

    The baseline number is the one measured with the same settings (settings_hash) when there is one."""
    cand = current_evals(store, candidate)
    base_rows = store.eval_results(baseline) if baseline else []
    out = []
    for (suite, metric, category), row in sorted(cand.items(), key=lambda kv: (kv[0][0], kv[0][2] or "", kv[0][1])):
        same = [b for b in base_rows if (b["suite"], b["metric"], b["category"]) == (suite, metric, category)]
        matched = [b for b in same if b["settings_hash"] == row["settings_hash"]]
        base = (matched or same)[-1] if (matched or same) else None
        base_value = base["value"] if base else None
        delta = None if base_value is None or row["value"] is None else row["value"] - base_value
        better = improvement(metric, delta)
        out.append({"suite": suite, "category": category, "metric": metric, "base": base_value,
                    "candidate": row["value"], "delta": delta, "better": better,
                    "same_settings": bool(matched) or base is None})
    return out


def lineage_tables(store: Store, model_id: str | None = None, limit: int = 500) -> dict[str, list[dict]]:
    """Runs, artifacts, evals and events: all of them (latest `limit`), or those recorded for one model."""
    if model_id is not None:
        from app.lineage import graph

        found = graph(store, model_id)
        return {key: found[key] for key in ("runs", "artifacts", "evals", "events")}
    return {
        "runs": store.query("SELECT * FROM runs ORDER BY created DESC, id DESC LIMIT ?", [limit]),
        "artifacts": store.query("SELECT * FROM artifacts ORDER BY id DESC LIMIT ?", [limit]),
        "evals": store.query("SELECT * FROM eval_results ORDER BY id DESC LIMIT ?", [limit]),
        "events": store.query("SELECT * FROM events ORDER BY id DESC LIMIT ?", [limit]),
    }


def matches(row: list, needle: str) -> bool:
    """Case-insensitive substring search over a table row's cells."""
    needle = needle.strip().lower()
    return not needle or any(needle in str(cell).lower() for cell in row)
