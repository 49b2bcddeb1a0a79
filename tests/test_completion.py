"""The completion engine on real models (the embedded SmolLM2 GGUF through llama.cpp, a tiny Qwen2 through
transformers), `complete`, and `evaluate` recording its numbers (internal benchmark with a baseline, latency)."""
import json
import shutil

import pytest

from train_snapshot import write_snapshot
from training.fim import QWEN, STARCODER

PREFIX = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n"


@pytest.fixture(scope="module")
def smollm():
    from app.forks import embedded_gguf
    from eval.llama_backend import LlamaBackend

    backend = LlamaBackend(embedded_gguf("smollm2-135m"), n_ctx=2048)
    yield backend
    backend.close()


def test_llama_backend_streams_stops_and_reuses_the_prefix(smollm):
    assert smollm.fim is None  # SmolLM2 has no FIM tokens: plain prefix prompts
    pieces = []
    cold = smollm.complete(PREFIX, max_tokens=24, reuse=False, on_text=pieces.append)
    assert cold.reused_tokens == 0 and cold.tokens <= 24 and cold.text
    assert "".join(pieces) == cold.text
    assert 0 < cold.ms_first_token <= cold.ms_total
    warm = smollm.complete(PREFIX, max_tokens=24)
    assert warm.text == cold.text  # greedy: the reused cache gives the same tokens
    assert warm.reused_tokens == cold.prompt_tokens
    edited = smollm.complete(PREFIX + "    ", max_tokens=8)
    assert 0 < edited.reused_tokens < edited.prompt_tokens
    stopped = smollm.complete(PREFIX, max_tokens=24, stop=["\n"], reuse=False)
    assert "\n" not in stopped.text and stopped.stopped_by == "stop"
    assert cold.text.startswith(stopped.text)
    chat = smollm.chat_prompt([{"role": "user", "content": "hi"}])
    assert "<|im_start|>user\nhi<|im_end|>" in chat and chat.endswith("<|im_start|>assistant\n")


def test_hf_backend_batched_sampling(tiny_qwen2):
    from eval.backends import open_backend

    backend = open_backend(tiny_qwen2)
    assert backend.kind == "transformers" and backend.fim == QWEN
    greedy = backend.complete("def add(a, b):", max_tokens=6)
    assert greedy.tokens <= 6 and greedy.ms_first_token is not None
    assert backend.complete("def add(a, b):", max_tokens=6).text == greedy.text
    samples = backend.sample("def add(a, b):", 5, max_tokens=6, temperature=1.0, batch_size=4)
    assert len(samples) == 5 and len({s.text for s in samples}) > 1


def _snapshot(ws, tmp_path):
    rows = [
        {"id": "h1", "kind": "completion", "prompt": PREFIX, "completion": "    return a + b\n", "language": "python",
         "repo": "r", "path": "a.py", "tokens": 20, "category": "functions"},
        {"id": "h2", "kind": "fim", "prompt": STARCODER.psm("import os\n\n", "\nprint(path)\n"),
         "completion": "path = os.getcwd()", "language": "python", "repo": "r", "path": "b.py", "tokens": 12,
         "category": "scripts"},
        {"id": "h3", "kind": "completion", "prompt": "class Stack:\n    def push(self, x):\n",
         "completion": "        self.items.append(x)\n", "language": "python", "repo": "r", "path": "c.py",
         "tokens": 15, "category": None},
    ]
    write_snapshot(ws, "snap-test", rows=[], heldout=rows)


@pytest.mark.slow
def test_evaluate_internal_with_baseline_records_rows(embedded_workspace, tmp_path):
    from app.evaluating import evaluate
    from app.forks import DEMO_BASE_ID, fork
    from app.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(embedded_workspace, root)
    ws = Workspace.open(root)
    fork(ws, "embedded:smollm2-135m", "forkies/other@v1.0.0", prepare=False)
    _snapshot(ws, tmp_path)
    events = []
    out = evaluate(ws, DEMO_BASE_ID, "internal", baseline_id="forkies/other@v1.0.0", progress=events.append)
    assert set(out["metrics"]) == {"overall", "functions", "scripts", "uncategorized"}
    assert out["metrics"]["overall"]["samples"] == 3
    # the same GGUF on both sides: identical greedy completions, zero deltas
    assert out["deltas"]["overall"] == {m: 0.0 for m in ("exact_match_line", "exact_match", "edit_similarity", "score")}
    store = ws.store()
    rows = store.eval_results(DEMO_BASE_ID, "internal")
    base_rows = store.eval_results("forkies/other@v1.0.0", "internal")
    gguf_art = store.artifacts(DEMO_BASE_ID, "gguf")[-1]
    assert len(rows) == 16 and len(base_rows) == 16
    assert {r["metric"] for r in rows} == {"exact_match_line", "exact_match", "edit_similarity", "score"}
    assert {r["settings_hash"] for r in rows + base_rows} == {out["settings_hash"]}
    assert all(r["artifact_id"] == gguf_art["id"] and r["baseline_model_id"] == "forkies/other@v1.0.0" for r in rows)
    assert all(r["baseline_model_id"] is None for r in base_rows)
    assert store.run_row(out["run"])["status"] == "finished"
    # per-sample scores behind every number: intervals, paired deltas (identical models: exactly zero, noise)
    assert store.one("SELECT COUNT(*) AS n FROM eval_samples WHERE run_id = ?", [out["run"]])["n"] == 6
    overall = next(r for r in rows if r["metric"] == "score" and r["category"] == "overall")
    assert overall["details"]["n"] == 3 and overall["details"]["significant"] is False
    store.close()
    scores = {(s["metric"], s["category"]): s for s in out["scores"]}
    assert scores[("score", "overall")]["n"] == 3 and len(scores[("score", "overall")]["ci95"]) == 2
    assert scores[("exact_match", "overall")]["method"] == "wilson" and scores[("score", "scripts")]["indicative"]
    assert out["comparisons"] and all(c["delta"] == 0 and c["delta_ci95"] == [0, 0] and c["significant"] is False
                                      for c in out["comparisons"])
    assert out["warnings"] == ["too few held-out samples to decide (n=1, fewer than 100)",
                               "too few held-out samples to decide (n=3, fewer than 100)"]
    lines = (root / "runs" / out["run"] / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 and any(e.get("event") == "sample" for e in events)


@pytest.mark.slow
def test_latency_suite_on_the_embedded_model(embedded_workspace, tmp_path):
    from app.evaluating import evaluate
    from app.forks import DEMO_BASE_ID
    from app.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(embedded_workspace, root)
    ws = Workspace.open(root)
    out = evaluate(ws, DEMO_BASE_ID, "latency", samples=2)
    m = out["metrics"]
    for key in ("p50_ms", "p95_ms", "p99_ms", "ttft_p95_ms", "tokens_per_second", "reuse_ttft_p95_ms"):
        assert m[key] is not None and m[key] > 0, key
    assert m["p50_ms"] <= m["p95_ms"] <= m["p99_ms"]
    assert out["settings"]["source"] == "sample repos"
    assert out["target"]["p95_ms"] == 500.0
    samples = [json.loads(x) for x in (root / "runs" / out["run"] / "results.jsonl").read_text().splitlines()]
    assert all(900 <= s["prompt_tokens"] <= 2300 and s["tokens"] <= 32 for s in samples), samples
    assert all(s["reused_tokens"] > 0.9 * s["prompt_tokens"] for s in samples)
    store = ws.store()
    metrics = {r["metric"] for r in store.eval_results(DEMO_BASE_ID, "latency")}
    store.close()
    assert metrics == {"p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms", "ttft_p95_ms", "tokens_per_second",
                       "reuse_ttft_p95_ms"}
    # against a baseline: both on the same contexts, interleaved in one run, with paired deltas
    from app.forks import fork

    fork(ws, "embedded:smollm2-135m", "forkies/other@v1.0.0", prepare=False)
    paired = evaluate(ws, DEMO_BASE_ID, "latency", samples=2, baseline_id="forkies/other@v1.0.0")
    assert paired["settings"]["interleaved"] is True and paired["baseline_metrics"]["p95_ms"] > 0
    deltas = {c["metric"]: c for c in paired["comparisons"]}
    assert deltas["p95_ms"]["n"] == 2 and len(deltas["p95_ms"]["delta_ci95"]) == 2
    assert any("too few contexts to decide (n=2" in w for w in paired["warnings"])


def test_complete_cli(cli, embedded_workspace, tmp_path):
    src = tmp_path / "code.py"
    src.write_text("import math\n\ndef area(r):\n    return \n")
    env = {"BLACKROAD_STUDIO_HOME": str(embedded_workspace)}
    from app.forks import DEMO_BASE_ID

    result = cli("complete", DEMO_BASE_ID, "--file", str(src), "--line", "4", "--column", "12", "--max-tokens", "8",
                 "--json", env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tokens"] <= 8 and out["ms_first_token"] > 0 and out["ms_total"] >= out["ms_first_token"]
    assert out["evaluated"]["kind"] == "gguf" and isinstance(out["text"], str)
    bad = cli("complete", DEMO_BASE_ID, "--file", str(src), "--line", "9", env=env)
    assert bad.returncode == 1 and "outside the file" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("complete", "forkies/nope@v1.0.0", "--prefix", "x", env=env)
    assert bad.returncode == 1 and "no model" in bad.stderr
    bad = cli("eval", DEMO_BASE_ID, "--suite", "nope", env=env)
    assert bad.returncode == 1 and "unknown suite" in bad.stderr


def test_split_at():
    from app.commands.complete import split_at

    text = "ab\ncd\n"
    assert split_at(text, 2, 2) == ("ab\nc", "d\n")
    assert split_at(text, 1, None) == ("ab", "\ncd\n")
    assert split_at(text, None, None) == (text, "")
