"""Does tuning help? The embedded SmolLM2-135M, LoRA-tuned on the sample repos on the CPU, scored against its base
on the held-out split (code the base has never seen: files of the sample repos held out by the curation split) and
on the shipped general-code set, with paired 95% intervals; a learning curve at 0, 25, 50 and 100% of the steps.

    flock /tmp/bench.lock .venv/bin/python bench/adapt.py --workspace /tmp/adapt-ws --general-limit 200

The defaults are the recipe measured in docs/benchmarks.md: 60 steps of 8 x 256 tokens at lr 1e-3 train in 20 minutes
on the 2-core CPU.

Base and every checkpoint are scored the same way: merged into HF weights (the base as it is), written as an F16
GGUF (no parity pass, these files are for this comparison only) and completed greedily by llama.cpp, so no
quantization difference sits between the two sides. Intervals and paired deltas are eval.stats', as in the studio.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the repository first on the path, as the studio itself runs
sys.path[0] = str(ROOT)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def gguf_of(ws, hf_dir: Path, out: Path) -> Path:
    """An F16 GGUF of an HF folder (reused when it exists)."""
    from app.exporting import export

    found = sorted(out.glob("*-f16.gguf")) if out.is_dir() else []
    if found:
        return found[0]
    result = export(ws, str(hf_dir), types=("f16",), out=out, verify="none")
    return Path(result["artifacts"][0]["path"])


def score(gguf: Path, rows: list[dict], label: str) -> list[dict]:
    from eval import internal
    from eval.llama_backend import LlamaBackend

    t0 = time.monotonic()
    backend = LlamaBackend(gguf, n_ctx=4096)
    try:
        out = internal.run(backend, rows)["results"]
    finally:
        backend.close()
    log(f"{label}: {len(out)} samples scored in {time.monotonic() - t0:.0f} s")
    return out


def summary(samples: list[dict], base: list[dict] | None) -> dict:
    from eval import stats
    from eval.internal import STATISTICS

    stat = STATISTICS["score"]
    out = stats.summarize(samples, stat)
    if base is not None:
        out.update(stats.paired_delta(samples, base, stat))
    return out


def fmt(s: dict) -> str:
    from eval import stats

    text = f"{s['value']:.4f} [{s['ci95'][0]:.4f}, {s['ci95'][1]:.4f}] n={s['n']}"
    if s.get("delta") is not None:
        lo, hi = s["delta_ci95"]
        verdict = "significant" if s["significant"] else "within noise"
        # a bootstrap p of 0 means no resample crossed 0: p < 1/RESAMPLES, not p = 0
        p = f"p<{1 / stats.RESAMPLES:.2g}" if s["p_value"] == 0 else f"p={s['p_value']:.3g}"
        text += f"; delta {s['delta']:+.4f} [{lo:+.4f}, {hi:+.4f}] {verdict}, {p}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/adapt-ws"))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--micro-batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--replay", type=float, default=0.0)
    ap.add_argument("--id", default=None, help="research model id (default from the settings)")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N held-out samples (a smoke run)")
    ap.add_argument("--general-limit", type=int, default=None, help="score only the first N general samples")
    args = ap.parse_args()

    from app.curation import curate
    from app.evaluating import evaluate
    from app.forks import DEMO_BASE_ID, fork
    from app.training_jobs import train
    from app.workspace import Workspace
    from eval.internal import read_heldout
    from training import general
    from training.merge import merge_adapter

    load = [os.getloadavg()]
    t_all = time.monotonic()
    ws = Workspace.open(args.workspace)
    with ws.store() as store:
        have_base = store.model(DEMO_BASE_ID) is not None
    if not have_base:
        log("forking the embedded SmolLM2-135M")
        fork(ws, "embedded:smollm2-135m", DEMO_BASE_ID)
    with ws.store() as store:
        base_dir = Path(store.model(DEMO_BASE_ID)["path"])
    repos = sorted(p for p in (ROOT / "assets" / "sample-repos").iterdir() if p.is_dir())
    snap = curate(ws, paths=[str(p) for p in repos], base_id=DEMO_BASE_ID)
    heldout_path = Path(snap["output"]) / "heldout.jsonl"
    heldout = read_heldout(heldout_path, limit=args.limit)
    general_rows = read_heldout(general.HELDOUT, limit=args.general_limit)
    log(f"snapshot {snap['snapshot']}: {snap['samples']['train']} training samples, {len(heldout)} held out "
        f"({len({r['path'] for r in heldout})} files); general set {len(general_rows)} samples")

    model_id = args.id or (f"research/bench/adapt-{args.steps}s-lr{args.lr:g}-r{args.rank}"
                           + (f"-replay{args.replay:g}" if args.replay else ""))
    quarter = max(1, args.steps // 4)
    with ws.store() as store:
        existing = store.model(model_id)
    t_train = time.monotonic()
    if existing is None:
        log(f"training {model_id}: {args.steps} steps of {args.batch_size} x {args.seq_len} tokens, lr {args.lr:g}")
        result = train(ws, DEMO_BASE_ID, snap["snapshot"], model_id, max_steps=args.steps, seq_len=args.seq_len,
                       batch_size=args.batch_size, micro_batch_size=args.micro_batch_size,
                       learning_rate=args.lr, lora_r=args.rank, lora_alpha=2 * args.rank,
                       checkpoint_every=quarter, keep_checkpoints=8, replay=args.replay or None,
                       progress=lambda e: log(e["message"]) if e.get("event") == "log" else None)
        train_s = time.monotonic() - t_train
        log(f"trained in {train_s:.0f} s: final loss {result['final_loss']:.4f}, "
            f"{result['tokens_per_second']:.0f} tokens/s")
    else:
        train_s = None
        log(f"{model_id} exists; scoring it again")
    load.append(os.getloadavg())
    with ws.store() as store:
        row = store.model(model_id)
        run = store.run_row(row["details"]["run_id"])
        losses = store.metrics(run["id"])
    ckpt_root = Path(run["log_path"]).parent / "checkpoints"
    points = {0: None}
    for fraction in (0.25, 0.5, 1.0):
        step = args.steps if fraction == 1.0 else max(1, round(args.steps * fraction))
        points[step] = ckpt_root / f"step-{step:08d}" / "adapter"
    scratch = args.workspace / "bench-adapt" / model_id.replace("/", "__")
    curve, base_scores, final_scores = [], None, None
    t_eval = time.monotonic()
    for step, adapter in points.items():
        if adapter is None:
            hf = base_dir
        else:
            hf = scratch / f"merged-{step}"
            if not (hf / "config.json").is_file():
                if not (adapter / "adapter_config.json").is_file():
                    log(f"no checkpoint adapter at {adapter}; skipping step {step}")
                    continue
                merge_adapter(base_dir, adapter, hf)
        gguf = gguf_of(ws, hf, scratch / f"gguf-{step}")
        scored = score(gguf, heldout, f"step {step}")
        if adapter is None:
            base_scores = scored
        s = summary(scored, None if adapter is None else base_scores)
        loss = next((m["loss"] for m in losses if m["step"] == step), None)
        curve.append({"step": step, "fraction": step / args.steps, "loss": loss, **s})
        print(f"step {step:>4} ({step / args.steps:>4.0%}): internal score {fmt(s)}", flush=True)
        if step == args.steps:
            final_scores = (gguf, scored)
    eval_s = time.monotonic() - t_eval

    general_out = None
    if final_scores is not None:
        base_gguf = gguf_of(ws, base_dir, scratch / "gguf-0")
        g_base = score(base_gguf, general_rows, "general, base")
        g_tuned = score(final_scores[0], general_rows, "general, tuned")
        general_out = summary(g_tuned, g_base)
        general_out["base_value"] = summary(g_base, None)["value"]
        print(f"general set: base {general_out['base_value']:.4f}, tuned {fmt(general_out)}", flush=True)
    load.append(os.getloadavg())
    report = {"model": model_id, "snapshot": snap["snapshot"], "train_samples": snap["samples"]["train"],
              "heldout_samples": len(heldout), "general_samples": len(general_rows),
              "recipe": {k: getattr(args, k) for k in ("steps", "seq_len", "batch_size", "micro_batch_size", "lr",
                                                        "rank", "replay")},
              "train_seconds": train_s, "eval_seconds": round(eval_s, 1), "curve": curve, "general": general_out,
              "loadavg": load, "total_seconds": round(time.monotonic() - t_all, 1)}
    out = scratch / "report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "curve"}, default=str))
    print(f"report: {out}")


if __name__ == "__main__":
    main()
