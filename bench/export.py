"""HF -> GGUF F16 of a Qwen2.5-0.5B-shaped model (random bf16 weights from a config): ours against llama.cpp's
convert_hf_to_gguf.py from the llama-cpp-python sdist, side by side in one run.

    .venv/bin/python bench/export.py [--repeats 3] [--sdist PATH.tar.gz]
    .venv/bin/python bench/export.py --quality [--sdist PATH.tar.gz]

--quality measures what quantization costs instead, on a trained model (the embedded SmolLM2-135M, as a fork
prepares it) and real code (export.parity_child's corpus): KL and top-1 of llama.cpp's logits on each file against
the float model in torch, for our Q8_0 and Q4_K_M files and for llama.cpp's own (convert_hf_to_gguf.py to F16,
then llama_model_quantize, which is what llama-quantize calls; and convert_hf_to_gguf.py --outtype q8_0 direct),
all measured on the same positions in one child process. Prints the KL ratio of ours to each llama.cpp route and
exits 1 when ours is worse than every route llama.cpp offers for that type.

The sdist is downloaded from PyPI at run time into a temporary folder (never committed). Its vocab-only
ggml-vocab-qwen2.gguf supplies the Qwen2 tokenizer (rebuilt as tokenizer.json), so llama.cpp's converter
recognises the pre-tokenizer. Prints medians of wall time and peak RSS (each run a fresh process, measured with
wait4), their ratios ours/theirs (goal: both <= 1.0), and a tensor-by-tensor comparison (names, types, shapes,
bytes) of the two files, which must find no difference.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

VERSION = "0.3.36"
ROOT = Path(__file__).resolve().parent.parent
PREFIX = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # this script is bench/export.py: keep it from shadowing the export package


def fetch_sdist(dest: Path) -> Path:
    """The llama-cpp-python sdist, through pip (PyPI's JSON API is not reachable everywhere pip is)."""
    print(f"downloading the llama-cpp-python {VERSION} sdist with pip", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    f"llama-cpp-python=={VERSION}", "-d", str(dest)], check=True)
    return next(dest.glob(f"llama_cpp_python-{VERSION}.tar.gz"))


def unpack(sdist: Path, dest: Path) -> Path:
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "models/ggml-vocab-qwen2.gguf")
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers()
                   if m.name.startswith(PREFIX) and m.name[len(PREFIX):].startswith(wanted)]
        tar.extractall(dest, members=members, filter="data")
    return dest / PREFIX


def qwen2_tokenizer(vocab_gguf: Path, out: Path) -> None:
    """tokenizer.json + tokenizer_config.json for Qwen2, rebuilt from llama.cpp's vocab-only GGUF."""
    import re

    from gguf import GGUFReader

    from export.vocab import QWEN2_REGEX

    reader = GGUFReader(str(vocab_gguf))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    merges = reader.fields["tokenizer.ggml.merges"].contents()
    vocab, added = {}, []
    for i, (tok, kind) in enumerate(zip(tokens, types)):
        if kind == 1:
            vocab[tok] = i
        elif not re.fullmatch(r"\[PAD\d+\]", tok):
            added.append({"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": kind == 3})
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "bos_token": None, "add_bos_token": False, "model_max_length": 32768, "errors": "replace"}))


def build_model(out: Path, vocab_gguf: Path) -> None:
    """Qwen2.5-0.5B's shape (24 layers, hidden 896, 14 heads, 2 kv heads, vocab 151936, tied), random bf16."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                      rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                      bos_token_id=151643, eos_token_id=151643)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    del model
    qwen2_tokenizer(vocab_gguf, out)


def sentencepiece(tmp: Path) -> Path:
    """Their converter imports sentencepiece even for BPE models; one in the temp folder only."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(tmp / "sp"),
                    "sentencepiece==0.2.1"], check=True)
    return tmp / "sp"


def measure(cmd: list[str], cwd: Path, env: dict) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one fresh process (this process must stay small: see main)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss * 1024


def compare(ours: Path, theirs: Path) -> tuple[list[str], int]:
    """Every difference in tensor names, types, shapes or bytes between two GGUF files."""
    import numpy as np
    from gguf import GGUFReader

    a = {t.name: t for t in GGUFReader(str(ours)).tensors}
    b = {t.name: t for t in GGUFReader(str(theirs)).tensors}
    diffs = [f"only in ours: {n}" for n in sorted(set(a) - set(b))]
    diffs += [f"only in theirs: {n}" for n in sorted(set(b) - set(a))]
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.tensor_type != y.tensor_type:
            diffs.append(f"{name}: type {x.tensor_type.name} vs {y.tensor_type.name}")
        elif list(x.shape) != list(y.shape):
            diffs.append(f"{name}: shape {list(x.shape)} vs {list(y.shape)}")
        elif not np.array_equal(np.asarray(x.data).view(np.uint8), np.asarray(y.data).view(np.uint8)):
            diffs.append(f"{name}: bytes differ")
    return diffs, len(a)


def llama_quantize(src: Path, dst: Path, qtype: str) -> None:
    """What llama-quantize does: llama_model_quantize with the default parameters, in a child process (the
    exporter's own route, export.quantize)."""
    from export.quantize import quantize

    quantize(src, dst, qtype)


def quality(tmp: Path, lcpp: Path, their_env: dict) -> None:
    """Quantization cost of our Q8_0/Q4_K_M files against llama.cpp's own, from the same trained model."""
    from app.exporting import export
    from app.forks import DEMO_BASE_ID, fork
    from app.workspace import Workspace
    from export.hf_source import open_model
    from export.parity import measure_files

    ws = Workspace.open(tmp / "ws")
    print("preparing the embedded SmolLM2-135M ...", file=sys.stderr)
    fork(ws, "embedded:smollm2-135m", DEMO_BASE_ID)
    model_dir = Path(ws.store().model(DEMO_BASE_ID)["path"])
    ours = export(ws, DEMO_BASE_ID, types="q8_0,q4_k_m", out=tmp / "ours", verify="none")
    files = [(Path(a["path"]), a["type"]) for a in ours["artifacts"]]
    f16 = tmp / "theirs-f16.gguf"
    subprocess.run([sys.executable, str(lcpp / "convert_hf_to_gguf.py"), str(model_dir), "--outtype", "f16",
                    "--outfile", str(f16)], cwd=lcpp, env=their_env, check=True, stdout=subprocess.DEVNULL)
    direct = tmp / "theirs-q8_0-direct.gguf"
    subprocess.run([sys.executable, str(lcpp / "convert_hf_to_gguf.py"), str(model_dir), "--outtype", "q8_0",
                    "--outfile", str(direct)], cwd=lcpp, env=their_env, check=True, stdout=subprocess.DEVNULL)
    for qtype in ("q8_0", "q4_k_m"):
        llama_quantize(f16, tmp / f"theirs-{qtype}.gguf", qtype)
        files.append((tmp / f"theirs-{qtype}.gguf", qtype))
    files.append((direct, "q8_0"))
    print("measuring logits (one child, every file on the same positions) ...", file=sys.stderr)
    reports = measure_files(open_model(model_dir), files, "logits")
    labels = ["ours q8_0", "ours q4_k_m", "theirs q8_0 (f16 + llama-quantize)", "theirs q4_k_m (f16 + llama-quantize)",
              "theirs q8_0 (convert --outtype q8_0)"]
    cost = {}
    print("model: SmolLM2-135M (the embedded fork), real code; cost = llama.cpp on the file vs the float model "
          "in torch")
    for label, report in zip(labels, reports):
        if "error" in report:
            raise SystemExit(f"{label}: {report['error']}")
        q, f = report["quantization"], report["logits"]
        cost[label] = q["kl_mean"]
        print(f"  {label:<38} KL {q['kl_mean']:.5f}  top-1 {q['top1_agreement']:.3f} (untied "
              f"{q['top1_agreement_untied']:.3f}) over {q['positions']} positions; file check rms "
              f"{f['relative_rms']:.3f}")
    routes = {"q8_0": (labels[0], [labels[4], labels[2]]), "q4_k_m": (labels[1], [labels[3]])}
    worse = []
    for qtype, (ours_label, theirs_labels) in routes.items():
        for theirs_label in theirs_labels:
            print(f"KL ratio {ours_label} / {theirs_label}: {cost[ours_label] / cost[theirs_label]:.4f}")
        if cost[ours_label] > max(cost[t] for t in theirs_labels):  # worse than every route llama.cpp offers
            worse.append(qtype)
    diffs, n = compare(files[0][0], direct)
    print(f"ours q8_0 vs convert_hf_to_gguf.py --outtype q8_0, tensor by tensor: {n} tensors, {len(diffs)} differences")
    if worse:
        print(f"ours is worse than every llama.cpp route for: {', '.join(worse)}")
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sdist", type=Path, help="a local llama-cpp-python sdist instead of downloading it")
    ap.add_argument("--quality", action="store_true", help="quantization cost against llama.cpp's files")
    ap.add_argument("--build-only", nargs=2, type=Path, metavar=("OUT", "VOCAB_GGUF"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build_model(*args.build_only)
        return
    if args.quality:
        with tempfile.TemporaryDirectory(prefix="bench-export-quality-") as tmp:
            tmp = Path(tmp)
            lcpp = unpack(args.sdist or fetch_sdist(tmp), tmp / "src")
            their_env = {**os.environ, "PYTHONPATH": str(sentencepiece(tmp))}
            quality(tmp, lcpp, their_env)
        return
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        tmp = Path(tmp)
        sdist = args.sdist or fetch_sdist(tmp)
        lcpp = unpack(sdist, tmp / "src")
        model = tmp / "qwen2.5-0.5b-shape"
        print("building the model ...", file=sys.stderr)
        # in a child: a forked process starts with its parent's RSS high-water mark, so the parent stays small
        subprocess.run([sys.executable, __file__, "--build-only", str(model),
                        str(lcpp / "models" / "ggml-vocab-qwen2.gguf")], check=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BLACKROAD_STUDIO_HOME": str(tmp / "ws")}
        their_env = {**os.environ, "PYTHONPATH": str(sentencepiece(tmp))}
        runs = {"ours": [], "theirs": []}
        for i in range(args.repeats):
            for who in ("theirs", "ours") if i % 2 else ("ours", "theirs"):
                out = tmp / f"{who}-{i}.gguf"
                if who == "ours":
                    cmd = [sys.executable, "-m", "app.cli", "export", str(model), "--type", "f16", "--verify", "none",
                           "--out", str(tmp / f"ours-{i}")]
                    wall, rss = measure(cmd, ROOT, env)
                    produced = next((tmp / f"ours-{i}").glob("*.gguf"))
                    produced.rename(out)
                else:
                    cmd = [sys.executable, str(lcpp / "convert_hf_to_gguf.py"), str(model), "--outtype", "f16",
                           "--outfile", str(out)]
                    wall, rss = measure(cmd, lcpp, their_env)
                runs[who].append((wall, rss))
                print(f"run {i} {who}: {wall:.2f} s, peak RSS {rss / 2**20:.0f} MiB", file=sys.stderr)
                if i < args.repeats - 1:
                    keep = {tmp / "ours-0.gguf", tmp / "theirs-0.gguf"}
                    if out not in keep:
                        out.unlink()
        med = {who: (statistics.median(w for w, _ in r), statistics.median(m for _, m in r)) for who, r in runs.items()}
        diffs, n = compare(tmp / "ours-0.gguf", tmp / "theirs-0.gguf")
        print(f"model: Qwen2.5-0.5B shape, random bf16 weights, -> F16; {args.repeats} runs each, medians")
        print(f"ours   (blackroad-studio export --verify none): {med['ours'][0]:7.2f} s  "
              f"peak RSS {med['ours'][1] / 2**20:7.0f} MiB")
        print(f"theirs (convert_hf_to_gguf.py {VERSION}):        {med['theirs'][0]:7.2f} s  "
              f"peak RSS {med['theirs'][1] / 2**20:7.0f} MiB")
        print(f"ratio ours/theirs: wall {med['ours'][0] / med['theirs'][0]:.2f}, "
              f"peak RSS {med['ours'][1] / med['theirs'][1]:.2f}")
        print(f"tensor comparison: {n} tensors, {len(diffs)} differences")
        for d in diffs[:20]:
            print("  " + d)
        if diffs:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
