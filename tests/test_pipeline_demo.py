"""The demo's inputs and guards: the sample repos carry every internal-benchmark category, parse cleanly and hold
no secrets; the demo refuses bad input in one line; its model id follows the snapshot."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "assets" / "sample-repos"
LANGUAGES = {".py": "python", ".ts": "typescript", ".tsx": "tsx"}


def _source_files():
    return sorted(p for p in SAMPLES.rglob("*") if p.suffix in LANGUAGES and "__pycache__" not in p.parts)


def test_sample_repos_cover_the_benchmark_categories():
    from training.curation import snippets, split

    rules = split.load_rules(ROOT / "assets" / "categories.toml")
    counts: Counter = Counter()
    lines = 0
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        lines += text.count("\n")
        parsed = snippets.parse(text, LANGUAGES[path.suffix])
        assert parsed.error is None, f"{path}: {parsed.error}"
        rel = path.relative_to(SAMPLES / path.relative_to(SAMPLES).parts[0]).as_posix()  # repo-relative
        for unit in parsed.units:
            counts[split.categorise(rules, rel, unit.qualname, LANGUAGES[path.suffix], unit.kind,
                                    unit.signature)] += 1
    assert lines >= 2000, lines  # "a few thousand lines in all"
    for category in ("agent-patterns", "typescript-types", "python-async", "pack-system"):
        assert counts[category] >= 5, (category, dict(counts))
    repos = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
    assert repos == ["agent-hub", "fleet-console"]
    for repo in repos:
        assert (SAMPLES / repo / "README.md").is_file() and (SAMPLES / repo / ".gitignore").is_file()


def test_sample_repos_hold_no_secrets():
    from training.curation import secrets

    for path in _source_files():
        result = secrets.scan(path.read_text(encoding="utf-8"), path.name)
        assert result.findings == [], (path, result.findings)


def test_demo_refuses_bad_steps_in_one_line(cli, ws_root):
    proc = cli("demo", "--max-steps", "0", "--json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: --max-steps must be at least 1, got 0"]


def test_demo_model_id_follows_the_snapshot(workspace):
    from app.demo import demo_model_id

    store = workspace.store()
    try:
        store.add_model({"id": "forkies/b@v1.0.0", "relation": "fork"})
        store.add_model({"id": "research/demo/team-coder-6steps", "parent_id": "forkies/b@v1.0.0",
                         "relation": "lora-finetune", "details": {"snapshot_id": "snap-aaaaaaaaaaaa"}})
    finally:
        store.close()
    assert demo_model_id(workspace, 6, "snap-aaaaaaaaaaaa") == "research/demo/team-coder-6steps"
    assert demo_model_id(workspace, 6, "snap-bbbbbbbbbbbb") == "research/demo/team-coder-6steps-bbbbbbbb"
    assert demo_model_id(workspace, 12, "snap-bbbbbbbbbbbb") == "research/demo/team-coder-12steps"
