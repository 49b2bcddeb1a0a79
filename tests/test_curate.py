"""curate end to end on real files: keys and lineage, deterministic hash, dedup, split and categories, the
per-file cache, the watchdog marking a file stale, and bad inputs skipped with a reason."""
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from app.curation import curate
from app.errors import StudioError
from app.forks import fork
from app.repos import add_repo, list_repos
from app.workspace import Workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "curation" / "repo"
LINE_KEYS = {"id", "kind", "prompt", "completion", "language", "repo", "path", "tokens", "category"}


@pytest.fixture
def ws(tmp_path, tiny_qwen2):
    w = Workspace.open(tmp_path / "ws")
    fork(w, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    return w


def _repo(tmp_path, name="shop"):
    root = tmp_path / name
    shutil.copytree(FIXTURES, root)
    (root / "README.md").write_text("# shop\n")
    return root


def _lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_curate_records_a_snapshot(ws, tmp_path):
    add_repo(ws, _repo(tmp_path))
    events = []
    result = curate(ws, progress=events.append)
    for key in ("snapshot", "output", "files_scanned", "files_kept", "snippets", "secrets_found",
                "duplicates_removed", "languages", "dropped"):
        assert key in result
    assert result["snapshot"] == "snap-" + result["content_hash"][:12]
    assert result["files_scanned"] == 4 and result["files_kept"] == 3
    assert result["dropped"] == {"unsupported_language": 1}
    assert set(result["languages"]) == {"python", "typescript", "javascript"}
    assert {e["stage"] for e in events if "stage" in e} >= {"scan", "process", "write"}
    out = Path(result["output"])
    rows = _lines(out / "train.jsonl") + _lines(out / "heldout.jsonl")
    assert rows and all(set(r) == LINE_KEYS for r in rows)
    assert all(r["repo"] == "shop" and 10 <= r["tokens"] for r in rows)
    assert {r["kind"] for r in rows} == {"completion", "fim"}          # tiny qwen2 has Qwen's FIM tokens
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["content_hash"] == result["content_hash"]
    assert manifest["config"]["samples"]["fim_format"] == "qwen"
    store = ws.store()
    snap = store.snapshot(result["snapshot"])
    store.close()
    assert snap["content_hash"] == result["content_hash"]
    assert snap["stats"]["files_kept"] == 3 and snap["sources"][0]["name"] == "shop"
    assert snap["config"]["base_id"] == "forkies/tiny@v0.1.0"


def test_same_inputs_same_hash_and_cache(ws, tmp_path, tiny_qwen2):
    root = _repo(tmp_path)
    first = curate(ws, paths=[str(root)])
    again = curate(ws, paths=[str(root)])
    assert again["snapshot"] == first["snapshot"] and again["files_reprocessed"] == 0
    other = Workspace.open(tmp_path / "ws2")
    fork(other, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    copy = tmp_path / "elsewhere" / "shop"
    shutil.copytree(root, copy)
    third = curate(other, paths=[str(copy)])
    assert third["snapshot"] == first["snapshot"]
    assert (Path(third["output"]) / "train.jsonl").read_bytes() == (Path(first["output"]) / "train.jsonl").read_bytes()
    changed = curate(ws, paths=[str(root)], fim_rate=0.0)         # config is part of the hash
    assert changed["snapshot"] != first["snapshot"]


def test_incremental_reprocesses_only_changed_files(ws, tmp_path):
    root = _repo(tmp_path)
    first = curate(ws, paths=[str(root)])
    assert first["files_reprocessed"] == 3
    target = root / "src" / "inventory.py"
    target.write_text(target.read_text() + "\n\ndef restock_all(inventory):\n    for sku in inventory.items:\n"
                      "        inventory.add(sku, 10)\n    return len(inventory.items)\n")
    second = curate(ws, paths=[str(root)])
    assert second["files_reprocessed"] == 1 and second["snapshot"] != first["snapshot"]
    os.utime(root / "web" / "cart.js", (time.time() + 5, time.time() + 5))      # touched, same content
    third = curate(ws, paths=[str(root)])
    assert third["files_rehashed"] == 1 and third["files_reprocessed"] == 0
    assert third["snapshot"] == second["snapshot"]
    datasets = Path(second["output"]).parent        # a snapshot already there: no second copy, no staging left
    assert sorted(p.name for p in datasets.iterdir()) == sorted({first["snapshot"], second["snapshot"]})
    (root / "web" / "cart.js").unlink()
    fourth = curate(ws, paths=[str(root)])
    assert fourth["files_reprocessed"] == 0 and "javascript" not in fourth["languages"]


def test_dedup_across_repos(ws, tmp_path):
    body = "".join(f"    value_{i} = compute(x, {i})\n" for i in range(20))
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
    (a / "calc.py").write_text(f"def heavy(x):\n{body}    return x\n")
    (b / "calc.py").write_text(f"def heavy(x):\n{body}    return x\n")                     # exact copy
    (b / "calc2.py").write_text("def heavy(x):\n" + body.replace("compute(x, 7)", "compute(x, 70)")
                                + "    return x\n")                                          # near copy
    (b / "other.py").write_text("def unique(y):\n    total = 0\n    for i in range(y):\n        total += i * i\n"
                                "    return total + 42\n")
    result = curate(ws, paths=[str(a), str(b)], heldout_rate=0.0)
    assert result["duplicates"] == {"exact": 1, "near": 1}
    assert result["duplicates_removed"] == 2 and result["snippets"] == 2
    rows = _lines(Path(result["output"]) / "train.jsonl")
    assert {(r["repo"], r["path"]) for r in rows} == {("a", "calc.py"), ("b", "other.py")}


def test_split_by_file_with_workspace_categories(ws, tmp_path):
    root = tmp_path / "many"
    for i in range(40):
        folder = root / ("agents" if i % 2 else "lib")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod_{i}.py").write_text(
            f"async def fetch_{i}(client):\n    data = await client.get('/items/{i}')\n    return data['v{i}']\n\n\n"
            f"def plain_{i}(xs):\n    out = []\n    for x in xs:\n        out.append(x * {i} + 1)\n    return out\n")
    (ws.root / "categories.toml").write_text(
        '[[category]]\nname = "agents"\npaths = ["agents/*"]\n\n[[category]]\nname = "async"\n'
        'languages = ["python"]\nsignature = "^async def"\n')
    result = curate(ws, paths=[str(root)], heldout_rate=0.3)
    out = Path(result["output"])
    train, held = _lines(out / "train.jsonl"), _lines(out / "heldout.jsonl")
    assert held and train
    assert not ({r["path"] for r in train} & {r["path"] for r in held})          # by file, never by snippet
    assert all(r["category"] is None for r in train)
    for r in held:
        expected = "agents" if r["path"].startswith("agents/") else ("async" if "async def" in r["prompt"] else None)
        assert r["category"] == expected
    cats = result["heldout_categories"]
    assert set(cats) <= {"agents", "async", "overall"}
    assert cats["overall"] == len({(r["path"], r["id"]) for r in held if r["kind"] == "completion"})
    assert cats.get("agents", 0) + cats.get("async", 0) <= cats["overall"]


def test_bad_categories_file_is_a_user_error(ws, tmp_path):
    (ws.root / "categories.toml").write_text("[[category]]\npaths = ['x']\n")
    with pytest.raises(StudioError, match="has no name"):
        curate(ws, paths=[str(_repo(tmp_path))])


def test_watchdog_marks_a_file_stale(ws, tmp_path):
    from app.watch import RepoWatcher

    root = _repo(tmp_path)
    add_repo(ws, root, "shop")
    curate(ws)
    assert list_repos(ws)["repos"][0]["changed_files"] == 0
    seen = []
    with RepoWatcher(ws, on_change=lambda repo, rel: seen.append((repo, rel))) as watcher:
        assert watcher.running
        time.sleep(0.3)
        (root / "src" / "new_module.py").write_text("def f(a):\n    return [a] * 3\n")
        deadline = time.time() + 10
        while ("shop", "src/new_module.py") not in seen and time.time() < deadline:
            time.sleep(0.1)
    assert ("shop", "src/new_module.py") in seen
    store = ws.store()
    marks = {r["relpath"] for r in store.query("SELECT relpath FROM repo_changes WHERE repo = 'shop'")}
    store.close()
    assert "src/new_module.py" in marks
    assert list_repos(ws)["repos"][0]["changed_files"] == 1
    result = curate(ws)
    assert result["files_reprocessed"] == 1
    assert list_repos(ws)["repos"][0]["changed_files"] == 0


def test_bad_inputs_are_skipped_with_a_reason(ws, tmp_path):
    root = _repo(tmp_path)
    (root / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    with open(root / "huge.py", "wb") as fh:             # sparse: 2 GB that are never read
        fh.truncate(2_000_000_000)
    os.symlink(root, root / "loop")
    os.symlink(root / "missing.py", root / "dangling.py")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "unreadable.py"))          # a socket: listed like a file, unreadable even for root
    try:
        empty = tmp_path / "empty"
        empty.mkdir()
        gone = tmp_path / "gone"
        gone.mkdir()
        (gone / "a.py").write_text("def a():\n    return 1\n")
        add_repo(ws, root, "shop")
        add_repo(ws, empty, "empty")
        add_repo(ws, gone, "gone")
        shutil.rmtree(gone)
        result = curate(ws)
    finally:
        sock.close()
    assert result["skipped"] == [{"name": "gone", "path": str(gone.resolve()), "reason": "folder no longer exists"}]
    assert result["dropped"]["not_utf8"] == 1 and result["dropped"]["symlink"] == 2
    assert result["dropped"]["unreadable"] == 1 and result["dropped"]["too_large"] == 1
    assert result["files_kept"] == 3
    listed = {r["name"]: r for r in list_repos(ws)["repos"]}
    assert listed["gone"]["exists"] is False and listed["empty"]["changed_files"] == 0
    with pytest.raises(StudioError, match="folder no longer exists"):
        curate(ws, repos=["gone"])
    with pytest.raises(StudioError, match="no repo named"):
        curate(ws, repos=["nope"])


def test_cli_json_and_errors(cli, ws_root, tmp_path, tiny_qwen2):
    assert cli("fork", str(tiny_qwen2), "--id", "forkies/tiny@v0.1.0").returncode == 0
    no_repos = cli("curate")
    assert no_repos.returncode == 1 and no_repos.stderr.strip().count("\n") == 0
    assert "nothing to curate" in no_repos.stderr
    root = _repo(tmp_path)
    out = cli("curate", "--path", str(root), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)                        # exactly one JSON object on stdout
    assert result["files_kept"] == 3
    bad = cli("curate", "--path", str(tmp_path / "nope"))
    assert bad.returncode == 1 and "not a folder" in bad.stderr and "Traceback" not in bad.stderr
    base = cli("curate", "--path", str(root), "--base", "forkies/none@v1.0.0")
    assert base.returncode == 1 and "no model" in base.stderr


def test_signatures_and_bands_match_datasketch():
    import zlib

    import numpy as np
    from datasketch import MinHash
    from datasketch.lsh import _optimal_param

    from training.curation import dedup

    for text in ("def f(x):\n    return x\n", "a\nb\nc\n" * 3 + "def g():\n  pass\n", ""):
        reference = MinHash(num_perm=dedup.NUM_PERM, seed=dedup.SEED, scheme="affine32", hashfunc=int)
        shingles = sorted({zlib.crc32(line.encode()) for line in dedup.normalised_lines(text)})
        if shingles:
            reference.update_batch(shingles)
        assert np.array_equal(np.frombuffer(dedup.signature(text), dtype="<u4"), reference.hashvalues)
    for (threshold, num_perm), bands in dedup._KNOWN_BANDS.items():
        assert _optimal_param(threshold, num_perm, 0.5, 0.5) == bands


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_worker_processes_give_the_same_snapshot(tmp_path, tiny_qwen2, monkeypatch, start):
    """Large runs go to worker processes (forked from a warmed parent, or spawned when threads are running)."""
    from training.curation import curate as engine

    root = _repo(tmp_path)
    for i in range(6):
        (root / "src" / f"extra_{i}.py").write_text(f"def extra_{i}(a, b):\n    c = a * {i} + b\n    return c - {i}\n")
    cfg = engine.CurateConfig(tokenizer_dir=str(tiny_qwen2), heldout_rate=0.2)
    inline = engine.build([engine.Source("shop", str(root))], cfg, tmp_path / "c1.db", tmp_path / "d1")
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 2)
    if start == "spawn":
        monkeypatch.setattr(engine.threading, "active_count", lambda: 2)
    pooled = engine.build([engine.Source("shop", str(root))], engine.CurateConfig(
        tokenizer_dir=str(tiny_qwen2), heldout_rate=0.2, workers=2), tmp_path / "c2.db", tmp_path / "d2")
    assert pooled["files_reprocessed"] == inline["files_reprocessed"] == 9
    assert pooled["snapshot"] == inline["snapshot"]


def test_cancel_records_nothing(ws, tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(StudioError, match="cancelled"):
        curate(ws, paths=[str(_repo(tmp_path))], cancel=cancel)
    store = ws.store()
    assert store.query("SELECT * FROM snapshots") == []
    store.close()
    assert not any(ws.dir("datasets").iterdir())


def test_exclusions_leave_files_out_and_are_recorded(ws, tmp_path):
    root = _repo(tmp_path)
    full = curate(ws, paths=[str(root)])
    result = curate(ws, paths=[str(root)], exclude=["web/", "!web/cart.js"])
    assert result["dropped"]["excluded"] == 1 and result["files_reprocessed"] == 0   # the cache still serves
    assert set(result["languages"]) == {"python", "javascript"}
    assert result["snapshot"] != full["snapshot"]
    manifest = json.loads((Path(result["output"]) / "manifest.json").read_text())
    assert manifest["excluded"] == ["web/", "!web/cart.js"]
    store = ws.store()
    assert store.snapshot(result["snapshot"])["config"]["exclude"] == ["web/", "!web/cart.js"]
    store.close()


def test_remove_repo_forgets_its_cache_rows(ws, tmp_path):
    from app.repos import cache_path, remove_repo
    from training.curation.file_cache import FileCache, source_key

    root = _repo(tmp_path)
    add_repo(ws, root, "shop")
    curate(ws)
    cache = FileCache(cache_path(ws))
    assert len(cache.stats(source_key("shop", str(root.resolve())))) == 3
    remove_repo(ws, "shop")
    assert cache.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 0
    cache.close()
