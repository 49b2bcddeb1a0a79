"""The curation engine: sources → filtered, secret-free, deduplicated, split samples → a hashed snapshot.

Per file (in worker processes for large runs): filters, secrets, tree-sitter units, samples, token limits,
categories and dedup keys. Per run: the file cache decides what to reprocess, dedup runs over every unit of every
source, and the snapshot writer names the result by its content. Takes progress(event) and a cancel Event.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from training.curation import dedup, files, secrets, snapshot, snippets, split
from training.curation.file_cache import FileCache, FileResult, pack, source_key, unpack
from training.cancel import Cancelled
from training.fileio import sha256_file, sha256_json
from training.curation.samples import SampleConfig, apply_limits, unit_samples

ENGINE_VERSION = 3      # bump when processing changes meaning, so cached results are recomputed
PARALLEL_MIN_FILES = 200


@dataclass
class Source:
    name: str
    root: str
    kind: str = "folder"            # git | folder
    commit: str | None = None


@dataclass
class CurateConfig:
    tokenizer_dir: str
    samples: SampleConfig = field(default_factory=SampleConfig)
    heldout_rate: float = split.DEFAULT_RATE             # files under it are held out, then the split grows...
    heldout_min_samples: int = split.DEFAULT_MIN_SAMPLES  # ... to this many samples ...
    heldout_max_share: float = split.DEFAULT_MAX_SHARE    # ... within this share of all samples (split.py)
    seed: int = 42
    secrets_policy: str = "drop"    # drop: units touching a finding go; redact: keep them with placeholders
    dedup_threshold: float = dedup.THRESHOLD
    categories: list = field(default_factory=list)    # split.rules_to_dicts(...)
    base_id: str | None = None
    workers: int = 0                # 0: one per core
    false_positives: frozenset = frozenset()    # fingerprints of secret findings a reviewer marked

    def identity(self) -> dict:
        """What the output depends on (not where the tokenizer lies: its content hash instead)."""
        tok = Path(self.tokenizer_dir) / "tokenizer.json"
        return {"engine_version": ENGINE_VERSION, "tokenizer_sha256": sha256_file(tok), "base_id": self.base_id,
                "samples": self.samples.to_dict(), "heldout_rate": self.heldout_rate, "seed": self.seed,
                "heldout_min_samples": self.heldout_min_samples, "heldout_max_share": self.heldout_max_share,
                "secrets_policy": self.secrets_policy, "dedup": {"threshold": self.dedup_threshold,
                                                                 "num_perm": dedup.NUM_PERM},
                "categories": self.categories,
                **({"secret_false_positives": sorted(self.false_positives)} if self.false_positives else {}),
                "filters": {"max_bytes": files.MAX_BYTES, "max_line": files.MAX_LINE,
                            "max_mean_line": files.MAX_MEAN_LINE, "min_alnum": files.MIN_ALNUM}}


# -- one file -----------------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(cfg: CurateConfig, worker: bool = False) -> None:
    if worker:      # one process per core already: the tokenizer's own threads would only compete
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from training.tokenizer import load

    _WORKER["cfg"] = cfg
    _WORKER["tokenizer"] = load(cfg.tokenizer_dir)
    _WORKER["rules"] = split.rules_from_dicts(cfg.categories)


def process_file(repo: str, relpath: str, path: str, known_sha: str | None = None) -> tuple[str, FileResult | None]:
    """(sha256, result); the result is None when the content hash equals known_sha (nothing to redo)."""
    cfg: CurateConfig = _WORKER["cfg"]
    reason = files.drop_reason_by_path(relpath)
    language = files.language_of(relpath)
    try:
        size = os.stat(path).st_size
        if size > files.MAX_BYTES and reason != "env_file":      # never read a huge file just to drop it
            return "", FileResult(language, reason or "too_large", "", size)
        data = Path(path).read_bytes()
    except OSError:
        return "", FileResult(language, "unreadable")
    sha = hashlib.sha256(data).hexdigest()
    if known_sha == sha:
        return sha, None
    if reason == "env_file":
        found = secrets.env_file_findings(data.decode("utf-8", "replace"))
        return sha, FileResult(None, reason, sha, len(data), findings=found)
    if reason is None:
        reason, text = files.drop_reason_by_content(data)
    if reason is not None:
        return sha, FileResult(language, reason, sha, len(data))
    scanned = secrets.scan(text, relpath, false_positives=cfg.false_positives)
    result = FileResult(language, None, sha, len(data), findings=scanned.findings)  # held out or not: _assemble
    parsed = snippets.parse(scanned.text, language)
    result.parse_error = parsed.error is not None
    dropped: Counter = Counter()
    pending = []
    for unit in parsed.units:
        if cfg.secrets_policy == "drop" and any(a <= unit.end_line and b >= unit.start_line
                                                for a, b, *_ in scanned.live):
            dropped["secret"] += 1
            continue
        pending.append((unit, unit_samples(repo, relpath, language, parsed, unit, cfg.samples)))
    kept = {id(s) for s in apply_limits([s for _, ss in pending for s in ss], _WORKER["tokenizer"], cfg.samples,
                                        dropped)}
    units = [(unit, [s for s in samples if id(s) in kept]) for unit, samples in pending]
    units = [(unit, samples) for unit, samples in units if samples]
    packed = []
    for (unit, samples), (exact, signature) in zip(units, dedup.keys([u.header + u.body for u, _ in units])):
        category = split.categorise(_WORKER["rules"], relpath, unit.qualname, language, unit.kind, unit.signature)
        lines = [(_JSON({"id": s.id, "kind": s.kind, "prompt": s.prompt, "completion": s.completion,
                         "language": language, "repo": repo, "path": relpath, "tokens": s.tokens,
                         "category": None}) + "\n").encode("utf-8") for s in samples]
        packed.append((lines, [s.tokens for s in samples], exact, signature, category))
    result.pack_units(packed)
    result.samples_dropped = dict(dropped)
    return sha, result


_JSON = json.JSONEncoder(ensure_ascii=False).encode     # json.dumps(..., ensure_ascii=False) builds one per call
_NO_CATEGORY = b'"category": null}\n'


def _with_category(lines: bytes, category: str | None) -> bytes:
    """A unit's JSONL lines with their `category` set (units are categorised in process_file; lines are written
    with none, since whether a file is held out is decided over all files, in _assemble). `category` is each line's
    last key, and a raw newline only ends a line (JSON escapes those in strings), so every line's tail is replaced
    as bytes, without decoding the lines again."""
    if category is None:
        return lines
    return lines.replace(_NO_CATEGORY, b'"category": ' + _JSON(category).encode("utf-8") + b"}\n")


def _process_packed(task: tuple[str, str, str, str | None]) -> tuple[str, bytes | None]:
    """process_file with its result packed as the cache stores it (None: content unchanged)."""
    sha, result = process_file(*task)
    return sha, None if result is None else pack(result)


def _process_chunk(chunk: list[tuple[str, str, str, str | None]]) -> list:
    return [_process_packed(task) for task in chunk]


# -- a run --------------------------------------------------------------------------------------------------------
def _emit(progress, **event) -> None:
    if progress is not None:
        progress(event)


def _plan(source: Source, cache: FileCache, config_hash: str, marked: set[str], excluded=None):
    """Walk a source; split its files into cached results and tasks to process."""
    rows = cache.rows(source_key(source.name, source.root))
    cached, tasks, stats, symlinks, path_dropped = {}, [], {}, [], {}
    for entry in files.walk(source.root):
        if entry.is_symlink:
            symlinks.append(entry.relpath)
            continue
        reason = files.drop_reason_by_path(entry.relpath)
        if excluded is not None and excluded.match_file(entry.relpath):
            reason = "excluded"
        if reason is not None and reason != "env_file":
            path_dropped[entry.relpath] = reason
            continue
        stats[entry.relpath] = entry.stat or (0, 0)
        row = rows.get(entry.relpath)
        fresh = row is not None and row.config_hash == config_hash
        if fresh and entry.stat is not None and (row.size, row.mtime_ns) == entry.stat and entry.relpath not in marked:
            cached[entry.relpath] = row
        else:
            tasks.append((source.name, entry.relpath, entry.path, row.sha256 if fresh else None))
            if fresh:
                cached[entry.relpath] = row       # used when the content turns out unchanged
    return cached, tasks, stats, symlinks, path_dropped


def _run_tasks(tasks, cfg: CurateConfig, progress, cancel, total: int, sink: Callable[[list], None]) -> dict:
    """Process the tasks; each batch of (task, (sha, packed result or None)) goes to `sink` as it is done. Returns
    the worker path taken: {"start": "inline" | "fork" | "spawn", "processes"}."""
    workers = cfg.workers or min(os.cpu_count() or 1, 8)
    if len(tasks) < PARALLEL_MIN_FILES or workers < 2:
        if tasks:
            _init_worker(cfg)
        batch = []
        for i, task in enumerate(tasks):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            batch.append((task, _process_packed(task)))
            if (i + 1) % 50 == 0 or i + 1 == len(tasks):
                sink(batch)
                batch = []
                _emit(progress, event="progress", stage="process", done=i + 1, total=total)
        return {"start": "inline", "processes": 1}
    import concurrent.futures as cf

    size = max(4, min(32, len(tasks) // (workers * 8)))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    saved = os.environ.get("TOKENIZERS_PARALLELISM")
    try:
        context = _pool_context(cfg, tasks)
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                    initargs=(cfg, True)) as pool:
            futures = {pool.submit(_process_chunk, chunk): chunk for chunk in chunks}
            done = 0
            try:
                for fut in cf.as_completed(futures):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    chunk = futures.pop(fut)
                    sink(list(zip(chunk, fut.result())))
                    done += len(chunk)
                    _emit(progress, event="progress", stage="process", done=done, total=total)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    finally:
        if saved is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = saved
    return {"start": context.get_start_method(), "processes": workers}


def _pool_context(cfg: CurateConfig, tasks):
    """Fork workers from a warmed-up parent (tokenizer, grammars and detect-secrets loaded once, inherited by
    every worker) when this process has no other threads; otherwise spawn fresh ones, which is always safe."""
    import multiprocessing

    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from training.curation.samples import warm_counter

    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _init_worker(cfg)
    warm_counter(_WORKER["tokenizer"])
    for language in sorted({files.language_of(rel) for _, rel, _, _ in tasks} - {None}):
        if language in snippets.SPECS:
            snippets.parser_for(language)
    secrets.warm_up()
    return multiprocessing.get_context("fork")


def build(sources: list[Source], cfg: CurateConfig, cache_path: Path, datasets_dir: Path, out: Path | None = None,
          marked: dict[str, set[str]] | None = None, progress: Callable[[dict], None] | None = None,
          cancel: threading.Event | None = None, exclude: tuple[str, ...] = (),
          feedback: dict | None = None) -> dict:
    """Curate the sources into a snapshot; returns the stats (the caller records them).

    feedback: {"model": id, "captures": [...]}: that model's accepted completions as train samples
    (training/curation/feedback.py), said in the manifest and the stats.

    exclude: gitignore-style patterns, relative to each source's root, for files to leave out this time (counted
    as dropped "excluded"). They are part of the snapshot's config but not of the per-file cache's key."""
    identity = cfg.identity()
    config_hash = sha256_json(identity)
    excluded = None
    if exclude:
        import pathspec

        excluded = pathspec.GitIgnoreSpec.from_lines(list(exclude))
        identity = {**identity, "exclude": list(exclude)}
    if feedback is not None:
        identity = {**identity, "feedback": {"model": feedback["model"]}}
    marked = marked or {}
    keys = {s.name: source_key(s.name, s.root) for s in sources}
    if len(keys) != len(sources):
        raise ValueError("two sources share a name")
    cache = FileCache(cache_path)
    try:
        per_source, all_tasks = [], []
        for source in sources:
            cached, tasks, stats, symlinks, path_dropped = _plan(source, cache, config_hash,
                                                                 marked.get(source.name, set()), excluded)
            skipped = {rel: "symlink" for rel in symlinks} | path_dropped
            per_source.append((source, cached, stats, skipped))
            all_tasks.extend(tasks)
        total = sum(len(s[2]) + len(s[3]) for s in per_source)
        _emit(progress, event="progress", stage="scan", done=total, total=total,
              message=f"{total} files, {len(all_tasks)} to process")
        sizes = {(s.name, rel): st[0] for s, _, stats, _ in per_source for rel, st in stats.items()}
        all_tasks.sort(key=lambda t: -sizes.get((t[0], t[1]), 0))      # big files first: no straggler at the end
        fresh: dict[tuple[str, str], FileResult] = {}
        touches: dict[str, list] = {}
        stat_of = {(s.name, rel): st for s, _, stats, _ in per_source for rel, st in stats.items()}

        def record(batch: list) -> None:
            """A batch of processed files into the cache as it comes (the parent waits on the workers anyway), so
            the packed results never pile up: only the unpacked ones are kept, for the snapshot."""
            writes: dict[str, list] = {}
            for (repo, rel, _, _), (sha, blob) in batch:
                size, mtime = stat_of[(repo, rel)]
                if blob is None:
                    touches.setdefault(repo, []).append((rel, size, mtime))
                else:
                    fresh[(repo, rel)] = result = unpack(blob)
                    if result.reason != "unreadable":
                        writes.setdefault(repo, []).append((rel, size, mtime, sha, config_hash, blob))
            for repo, items in writes.items():
                cache.put_many(keys[repo], items)

        workers = _run_tasks(all_tasks, cfg, progress, cancel, len(all_tasks), record)
        for repo, items in touches.items():
            cache.touch_many(keys[repo], items)
        for source, _, stats, _ in per_source:
            cache.forget_missing(keys[source.name], set(stats))
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        _emit(progress, event="progress", stage="dedup", message="removing duplicates")
        counts = {"files_reprocessed": len(fresh), "files_rehashed": len(all_tasks), "workers": workers}
        return _assemble(per_source, fresh, cfg, identity, datasets_dir, out, counts, progress, feedback)
    finally:
        cache.close()


def _assemble(per_source, fresh, cfg, identity, datasets_dir, out, counts_in, progress, feedback=None) -> dict:
    """counts_in: files_reprocessed (content new or changed), files_rehashed (stat changed or marked) and workers
    (the worker path the files took)."""
    import numpy as np

    dropped, samples_dropped, languages = Counter(), Counter(), {}
    findings, results, scores, parse_errors = [], [], [], 0
    files_scanned = files_kept = 0
    for source, cached, stats, skipped in per_source:
        files_scanned += len(stats) + len(skipped)
        dropped.update(skipped.values())
        for rel in sorted(stats):
            result = fresh.get((source.name, rel))
            if result is None:      # the row's blob goes as its result comes: not both in memory at the peak
                result = cached.pop(rel).result()
            findings.extend({"repo": source.name, "path": rel, "line": f.line, "kind": f.kind,
                             "fingerprint": f.fingerprint, "masked": f.masked,
                             **({"false_positive": True} if f.false_positive else {})}
                            for f in map(secrets.Finding._make, result.findings))
            samples_dropped.update(result.samples_dropped)
            if result.reason is not None:
                dropped[result.reason] += 1
                continue
            files_kept += 1
            parse_errors += result.parse_error
            languages.setdefault(result.language, {"files": 0, "snippets": 0, "samples": 0, "tokens": 0})
            languages[result.language]["files"] += 1
            if result.n_units:
                results.append(result)
                scores.append(split.heldout_score(source.name, rel, cfg.seed))
    exact = np.frombuffer(b"".join(r.exact for r in results), dtype="<u8").reshape(-1, 2)[:, 0]
    sigs = np.frombuffer(b"".join(r.signatures for r in results), dtype="<u4").reshape(len(exact), dedup.NUM_PERM)
    keep, n_exact, n_near = dedup.duplicates(exact, sigs, cfg.dedup_threshold)
    train, heldout, counts, categories, category_samples = [], [], Counter(), Counter(), Counter()
    first = np.cumsum([0] + [r.n_units for r in results[:-1]], dtype=np.int64)    # each file's first unit
    unit_samples = np.frombuffer(b"".join(r.unit_samples for r in results), dtype=np.int32)

    def per_file(values) -> list[int]:
        """Sums over each file's kept units, for all files in one numpy pass."""
        return np.add.reduceat(np.where(keep, values, 0), first).tolist() if results else []

    kept_units, kept_samples = per_file(np.ones(len(keep), dtype=np.int64)), per_file(unit_samples)
    kept_tokens = per_file(np.frombuffer(b"".join(r.unit_tokens for r in results), dtype=np.int64))
    held_out = split.choose_heldout(list(zip(scores, kept_samples)), cfg.heldout_rate, cfg.heldout_min_samples,
                                    cfg.heldout_max_share)
    for r, held, a, n_kept, n_samples, n_tokens in zip(results, held_out, first.tolist(), kept_units, kept_samples,
                                                       kept_tokens):
        r.heldout = held
        if held or n_kept < r.n_units:
            mask = keep[a:a + r.n_units]
            ends = np.frombuffer(r.unit_ends, dtype=np.int64).tolist()
            starts = [0] + ends[:-1]
            kept = np.flatnonzero(mask).tolist()
            if held:  # held-out lines carry their unit's category
                heldout.extend(_with_category(r.lines[starts[i]:ends[i]], r.categories[i]) for i in kept)
                for i in kept:
                    if r.categories[i]:
                        category_samples[r.categories[i]] += int(unit_samples[a + i])
                        categories[r.categories[i]] += 1
            else:
                train.extend(r.lines[starts[i]:ends[i]] for i in kept)
        else:
            train.append(r.lines)
        lang = languages[r.language]
        lang["snippets"] += n_kept
        lang["samples"] += n_samples
        lang["tokens"] += n_tokens
        counts["heldout" if held else "train"] += n_samples
        if held:            # every held-out snippet counts in "overall"; categorised ones in theirs too
            categories["overall"] += n_kept
    feedback_stats = None
    if feedback is not None:
        from training.curation import feedback as fb
        from training.tokenizer import load

        fb_lines, feedback_stats = fb.lines(feedback["model"], feedback["captures"], cfg.samples,
                                            load(cfg.tokenizer_dir))
        train.extend(fb_lines)
        counts["train"] += len(fb_lines)
    _emit(progress, event="progress", stage="write", message="writing the snapshot")
    stats = {"files_scanned": files_scanned, "files_kept": files_kept, "snippets": int(keep.sum()),
             "samples": {"train": counts["train"], "heldout": counts["heldout"]},
             "tokens": sum(v["tokens"] for v in languages.values()),
             "secrets_found": sum(not f.get("false_positive") for f in findings), "secret_findings": findings,
             "secrets_marked_false_positive": sum(bool(f.get("false_positive")) for f in findings),
             "duplicates_removed": n_exact + n_near, "duplicates": {"exact": n_exact, "near": n_near},
             "languages": {k: languages[k] for k in sorted(languages)},
             "dropped": {k: v for k, v in sorted(dropped.items()) if v},
             "samples_dropped": dict(sorted(samples_dropped.items())),
             "heldout_categories": dict(sorted(categories.items())),
             "heldout_indicative": split.indicative(category_samples), "parse_errors": parse_errors,
             **({"feedback": feedback_stats} if feedback_stats else {})}
    manifest = {"format": 1, "sources": [asdict(s) for s, *_ in per_source], "stats": stats,
                "excluded": identity.get("exclude", []),
                **({"feedback": feedback_stats["summary"]} if feedback_stats else {})}
    digest, folder, file_info = snapshot.write(datasets_dir, b"".join(train), b"".join(heldout), identity,
                                               manifest, out)
    return {"snapshot": snapshot.snapshot_id(digest), "content_hash": digest, "output": str(folder),
            "files": file_info, "config": identity, **counts_in, **stats}
