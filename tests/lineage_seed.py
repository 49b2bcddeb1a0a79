"""A seeded lineage store for promotion and card tests: a fork, a dataset snapshot, a finished training run, a
research model with adapter, merged weights and a GGUF on disk, and evals recorded per docs/CONVENTIONS.md.

The workspace's clock is pinned (a ticking fake clock handed to every store) so timestamps, and the golden
LINEAGE.md, are stable.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from training.fileio import sha256_file, sha256_tree, size_of

T0 = dt.datetime(2026, 11, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
BASE = "forkies/qwen2.5-coder-7b@v1.0.0"
RESEARCH = "research/platform/coder"
SNAPSHOT = "snap-20261101-7c1e"
QWEN_ADDED = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
              "<|repo_name|>", "<|file_sep|>"]


class Clock:
    """Each call is one minute after the previous one."""

    def __init__(self, start: dt.datetime = T0):
        self.t = start

    def __call__(self) -> dt.datetime:
        self.t += dt.timedelta(minutes=1)
        return self.t


def pin_clock(ws, start: dt.datetime = T0) -> Clock:
    """Give the workspace (and so every store it opens) a ticking clock starting at `start`."""
    clock = Clock(start)
    ws.clock = clock
    return clock


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _tokenizer_files(folder: Path) -> None:
    vocab = {t: i for i, t in enumerate(["a", "b", "def", "return"])}
    _write(folder / "tokenizer.json", json.dumps({
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "added_tokens": [{"id": 100 + i, "content": t, "special": True} for i, t in enumerate(QWEN_ADDED)]}))
    _write(folder / "tokenizer_config.json", json.dumps({"eos_token": "<|endoftext|>"}))


def seed(ws) -> dict:
    """Seed the store; returns ids and paths. Nothing is evaluated yet (see record_evals)."""
    root = ws.root
    store = ws.store()
    base_dir = root / "models" / "base-hf"
    _write(base_dir / "config.json", '{"model_type": "qwen2"}')
    _tokenizer_files(base_dir)
    store.add_model({"id": BASE, "relation": "fork", "license": "apache-2.0", "architecture": "qwen2",
                     "parameters": 7615616512, "context_length": 32768, "vocab_size": 152064,
                     "source": "Qwen/Qwen2.5-Coder-7B", "source_sha256": sha256_tree(base_dir), "path": str(base_dir),
                     "details": {"upstream": {"source_kind": "hub", "source": "Qwen/Qwen2.5-Coder-7B",
                                              "hub_id": "Qwen/Qwen2.5-Coder-7B"}}}, event="model.forked")
    base_gguf = _write(root / "models" / "base-q8_0.gguf", b"GGUF base model bytes")
    base_art = store.add_artifact("gguf", base_gguf, sha256_file(base_gguf), size_of(base_gguf), model_id=BASE,
                                  quant_type="q8_0")
    store.add_artifact("hf-weights", base_dir, sha256_tree(base_dir), size_of(base_dir), model_id=BASE)
    snap_dir = root / "datasets" / SNAPSHOT
    _write(snap_dir / "train.jsonl", '{"id": "1"}\n')
    # the shapes training/curate.py records
    store.add_snapshot(SNAPSHOT, "7c1e" * 16, snap_dir,
                       config={"samples": {"min_tokens": 10, "max_tokens": 2048, "fim_rate": 0.5},
                               "heldout_rate": 0.05, "seed": 42, "secrets_policy": "drop",
                               "dedup": {"threshold": 0.85}},
                       stats={"files_scanned": 412, "files_kept": 380, "snippets": 5120,
                              "samples": {"train": 4864, "heldout": 256}, "secrets_found": 2,
                              "secret_findings": [
                                  {"repo": "agent-hub", "path": "agent_hub/settings.py", "line": 12, "kind": "aws-key"},
                                  {"repo": "web-console", "path": ".env", "line": 3, "kind": "password"}],
                              "duplicates_removed": 41, "duplicates": {"exact": 30, "near": 11},
                              "languages": {"python": {"files": 300, "snippets": 3500, "tokens": 910000},
                                            "typescript": {"files": 80, "snippets": 1620, "tokens": 402000}},
                              "dropped": {"secret": 2, "too_short": 20, "generated": 9},
                              "classification": "internal source code; no customer data"},
                       sources=[{"name": "agent-hub", "root": str(root / "repos" / "agent-hub"), "kind": "git",
                                 "commit": "4f2a9c1e"},
                                {"name": "web-console", "root": str(root / "repos" / "web-console"), "kind": "git",
                                 "commit": "b81d03aa"}])
    lora = {"r": 16, "alpha": 32, "dropout": 0.05,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
    adapter = root / "runs" / "train-1" / "adapter"
    _write(adapter / "adapter_config.json", json.dumps({"r": 16}))
    _write(adapter / "adapter_model.safetensors", b"adapter weights")
    store.add_model({"id": RESEARCH, "parent_id": BASE, "relation": "lora-finetune", "license": "apache-2.0",
                     "architecture": "qwen2", "parameters": 7615616512, "context_length": 32768,
                     "vocab_size": 152064,
                     "details": {"run_id": "train-1", "snapshot_id": SNAPSHOT, "adapter_path": str(adapter),
                                 "lora": lora}})
    store.add_run("train-1", "train", base_id=BASE, model_id=RESEARCH, snapshot_id=SNAPSHOT, seed=42,
                  host="gpu-box", status="running",
                  config={"learning_rate": 2e-4, "epochs": 3, "effective_batch_size": 16, "seq_len": 4096,
                          "warmup_ratio": 0.03, "lr_scheduler": "cosine", "precision": "bf16", "lora": lora,
                          "hardware": {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3", "gpus": 1},
                          "versions": {"torch": "2.11.0", "transformers": "5.17.0", "peft": "0.21.2"}},
                  config_hash="cf" * 32, started="2026-11-01T09:10:00+00:00")
    for step, loss in ((1, 1.42), (150, 0.83), (300, 0.61)):
        store.add_metric("train-1", step, loss=loss, lr=2e-4, tokens_per_second=5400.0)
    store.set_run_status("train-1", "finished", finished="2026-11-01T11:40:00+00:00",
                         result={"final_loss": 0.61, "tokens_per_second": 5400.0, "steps": 300})
    store.add_artifact("adapter", adapter, sha256_tree(adapter), size_of(adapter), model_id=RESEARCH,
                       run_id="train-1")
    merged = root / "models" / "research__platform__coder" / "merged"
    _write(merged / "config.json", '{"model_type": "qwen2"}')
    _write(merged / "model.safetensors", b"merged weights")
    _tokenizer_files(merged)
    store.add_artifact("merged", merged, sha256_tree(merged), size_of(merged), model_id=RESEARCH)
    gguf = _write(root / "artifacts" / "research__platform__coder" / "coder-q8_0.gguf", b"GGUF research q8_0")
    gguf_art = store.add_artifact("gguf", gguf, sha256_file(gguf), size_of(gguf), model_id=RESEARCH,
                                  quant_type="q8_0")
    store.update("models", "id", RESEARCH, {"path": str(merged), "gguf_path": str(gguf)})
    store.close()
    return {"base": BASE, "research": RESEARCH, "gguf": gguf, "gguf_art": gguf_art, "merged": merged,
            "base_art": base_art, "adapter": adapter}


def record_evals(ws, seeded: dict, pass1: float = 0.75, base_pass1: float = 0.72, internal: float = 0.84,
                 p95: float = 412.0, model_id: str = RESEARCH, artifact_id: int | None = None) -> None:
    """HumanEval on candidate and base (same settings), the internal benchmark, the general-code set beside the
    base, and latency; with the per-sample scores behind them (no latency samples: those rows show no interval)."""
    store = ws.store()
    art = artifact_id if artifact_id is not None else seeded["gguf_art"]
    he = {"suite": "humaneval", "temperature": 0.0, "max_tokens": 512, "n": 1}
    store.add_eval_result(BASE, "humaneval", "pass@1", base_pass1, "he-0a1b2c3d4e5f", he,
                          artifact_id=seeded["base_art"], run_id=None)
    store.add_eval_result(model_id, "humaneval", "pass@1", pass1, "he-0a1b2c3d4e5f", he, artifact_id=art,
                          baseline_model_id=BASE)
    internal_settings = {"snapshot": SNAPSHOT, "max_tokens": 64}
    for category, value in (("overall", internal), ("python", internal + 0.02)):
        store.add_eval_result(model_id, "internal", "score", value, "in-9f8e7d6c5b4a", internal_settings,
                              category=category, artifact_id=art)
    store.add_eval_result(BASE, "internal", "score", 0.61, "in-9f8e7d6c5b4a", internal_settings,
                          category="overall", artifact_id=seeded["base_art"])
    general_settings = {"snapshot": "general-graphql-core-3.2.8", "max_tokens": 128}
    store.add_eval_result(BASE, "general", "score", 0.56, "ge-5a4b3c2d1e0f", general_settings, category="overall",
                          artifact_id=seeded["base_art"])
    store.add_eval_result(model_id, "general", "score", 0.55, "ge-5a4b3c2d1e0f", general_settings,
                          category="overall", artifact_id=art, baseline_model_id=BASE)
    lat = {"prompts": 50, "max_tokens": 32}
    store.add_eval_result(model_id, "latency", "p95_ms", p95, "lat-1234567890ab", lat, artifact_id=art)
    store.add_eval_result(model_id, "latency", "p50_ms", p95 / 2, "lat-1234567890ab", lat, artifact_id=art)
    record_samples(store, model_id, pass1, base_pass1, internal)
    store.close()


def _around(mean: float, n: int, spread: float, period: int = 1) -> list[float]:
    """n values averaging exactly `mean`: mean + spread and mean - spread, alternating every `period` values."""
    return [mean + (spread if (i // period) % 2 == 0 else -spread) for i in range(n)]


def record_samples(store, model_id: str, pass1: float, base_pass1: float, internal: float) -> None:
    """Per-sample scores behind record_evals' numbers (what intervals and paired deltas are computed from):
    100 HumanEval tasks (the base passes the first ones, the model the first ones too, more or fewer), 256
    internal samples (half python, a steady gain over the base), 300 general samples (a loss of 0.01 in noise)."""
    from app.intervals import record_samples as put

    def tasks(rate: float) -> list[dict]:
        return [{"key": f"HumanEval/{i}", "pass@1": float(i < round(rate * 100))} for i in range(100)]

    put(store, None, BASE, "humaneval", "he-0a1b2c3d4e5f", tasks(base_pass1))
    put(store, None, model_id, "humaneval", "he-0a1b2c3d4e5f", tasks(pass1))
    python = _around(internal + 0.02, 128, 0.1)
    others = _around(internal - 0.02, 128, 0.1)
    mine = [{"key": f"s{i}", "category": "python" if i < 128 else "agents", "edit_similarity": v,
             "exact_match_line": float(v > 0.8), "exact_match": 0.0} for i, v in enumerate(python + others)]
    put(store, None, model_id, "internal", "in-9f8e7d6c5b4a", mine)
    put(store, None, BASE, "internal", "in-9f8e7d6c5b4a",
        [{**s, "edit_similarity": v} for s, v in zip(mine, _around(0.61, 256, 0.1))])
    base_general = _around(0.56, 300, 0.1, period=2)
    noise = _around(0.0, 300, 0.15)
    put(store, None, BASE, "general", "ge-5a4b3c2d1e0f",
        [{"key": f"g{i}", "edit_similarity": v} for i, v in enumerate(base_general)])
    put(store, None, model_id, "general", "ge-5a4b3c2d1e0f",
        [{"key": f"g{i}", "edit_similarity": v - 0.01 + e} for i, (v, e) in enumerate(zip(base_general, noise))])


def traffic(workspace, model_id, start, days, n, accepted, total_ms=120.0, prefix="c", split=None):
    """n ok requests of model_id spread over `days` from `start`, each shown, the first `accepted` selected (under
    the A/B split label `split`, when given)."""
    with workspace.store() as store:
        for i in range(n):
            t = start + dt.timedelta(days=days * i / max(1, n - 1))
            cid = f"{prefix}-{model_id}-{i}"
            store.conn.execute(
                "INSERT INTO serve_requests (time, completion_id, endpoint, key_name, model_id, split, status, "
                "http_status, total_ms, first_token_ms, completion_tokens, completion_chars) VALUES (?, ?, "
                "'/v1/completions', 'ed', ?, ?, 'ok', 200, ?, 20, 8, 30)",
                [t.isoformat(), cid, model_id, split, total_ms if i % 10 else total_ms * 2])
            for kind in ("view",) + (("select",) if i < accepted else ()):
                store.conn.execute("INSERT INTO completion_events (completion_id, kind, accepted_chars, time) "
                                   "VALUES (?, ?, 30, ?)", [cid, kind, t.isoformat()])
        store.conn.commit()
