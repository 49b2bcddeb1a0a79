"""The training engine in-process on the tiny Qwen2: loss, masking and packing, fused CE, checkpointing, resume."""
import json
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from train_snapshot import samples
from training import data as tdata
from training.config import ConfigError, TrainConfig
from training.loss import fused_linear_cross_entropy, reference_cross_entropy
from training.trainer import Runtime, TrainError, build_model, step_loss, train


def _cfg(tmp_path, base, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    train_path = tmp_path / "train.jsonl"
    if not train_path.exists():
        train_path.write_text("".join(json.dumps(r) + "\n" for r in samples()))
    values = dict(base_path=str(base), train_path=str(train_path), output_dir=str(tmp_path / "run"), seq_len=128,
                  batch_size=4, micro_batch_size=2, learning_rate=3e-3, max_steps=8, checkpoint_every=4)
    values.update(kw)
    return TrainConfig(**values)


def test_defaults_are_the_seed_recipe(tmp_path):
    cfg = TrainConfig(base_path="b", train_path="t", output_dir="o")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (16, 32, 0.05)
    assert cfg.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (cfg.learning_rate, cfg.batch_size, cfg.epochs, cfg.warmup_ratio, cfg.scheduler, cfg.seed) == \
        (2e-4, 16, 3.0, 0.03, "cosine", 42)
    assert cfg.micro_batches_per_step == 4
    cfg.save(tmp_path / "c.json")
    again = TrainConfig.load(tmp_path / "c.json")
    assert again.hash("d") == cfg.hash("d") != cfg.hash("other data")
    again.max_steps, again.output_dir = 5, "elsewhere"  # budget and paths do not change what a step computes
    assert again.hash("d") == cfg.hash("d")
    again.lora_r = 8
    assert again.hash("d") != cfg.hash("d")
    with pytest.raises(ConfigError, match="multiple"):
        TrainConfig(base_path="b", train_path="t", output_dir="o", batch_size=6, micro_batch_size=4)


def test_fused_cross_entropy_matches_full_logits():
    torch.manual_seed(0)
    h = torch.randn(37, 24, requires_grad=True)
    w = torch.randn(101, 24, requires_grad=True)
    t = torch.randint(0, 101, (37,))
    fused = fused_linear_cross_entropy(h, w, t, chunk=8)  # 37 rows: chunks of 8 and a remainder of 5
    (fused * 0.5).backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    ref = reference_cross_entropy(h, w, t)
    (ref * 0.5).backward()
    assert torch.allclose(fused, ref, rtol=1e-5)
    assert torch.allclose(gh, h.grad, atol=1e-5) and torch.allclose(gw, w.grad, atol=1e-5)


def test_masking_and_packing(tiny_qwen2):
    from training.tokenizer import load

    tok = load(str(tiny_qwen2))
    eos = tdata.eos_id(tok, tiny_qwen2)
    rows = [{"kind": "completion", "prompt": "def add(a, b):\n", "completion": "    return a + b\n"},
            {"kind": "fim", "prompt": "<|fim_prefix|>x = 1<|fim_suffix|>\n<|fim_middle|>", "completion": " + 2"}]
    encoded, _ = tdata.encode_samples(rows, tok, eos, seq_len=64)
    (ids0, t0), (ids1, t1) = encoded
    n_prompt = len(tok.encode(rows[0]["prompt"], add_special_tokens=False).ids)
    # completion: nothing before the prompt's last token predicts; then every next token, ending with eos
    assert (t0[:n_prompt - 1] == tdata.IGNORE).all()
    assert list(t0[n_prompt - 1:-1]) == list(ids0[n_prompt:]) and ids0[-1] == eos and t0[-1] == tdata.IGNORE
    # fim: trained whole (every token after the first is a target)
    assert list(t1[:-1]) == list(ids1[1:])
    assert len(ids0) > len(ids1)
    windows = tdata.pack(encoded, seq_len=64)
    assert len(windows) == 1
    w = windows[0]
    assert list(w.position_ids) == list(range(len(ids0))) + list(range(len(ids1)))  # longest first
    # the first sample's last token never predicts the second sample's first token
    assert w.targets[len(ids0) - 1] == tdata.IGNORE
    assert len(tdata.pack(encoded, seq_len=64, enabled=False)) == 2
    # best fit: 6 samples of 5, 3, 3, 2, 2, 1 tokens fill two windows of 8 exactly
    fake = [(np.arange(n), np.arange(n)) for n in (3, 5, 2, 3, 1, 2)]
    packed = tdata.pack(fake, seq_len=8)
    assert sorted(len(x.input_ids) for x in packed) == [8, 8]
    assert sorted(np.concatenate([x.targets for x in packed]).tolist()) == sorted(
        np.concatenate([t for _, t in fake]).tolist())


def test_packed_window_attends_within_samples_only(tiny_qwen2):
    """Logits of two packed samples equal the logits of each sample alone (block-diagonal causal mask)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_qwen2), attn_implementation="sdpa").eval()
    a, b = torch.randint(5, 300, (1, 11)), torch.randint(5, 300, (1, 7))
    packed = torch.cat([a, b], dim=1)
    pos = torch.cat([torch.arange(11), torch.arange(7)])[None]
    with torch.no_grad():
        joint = model(input_ids=packed, position_ids=pos, use_cache=False).logits
        alone_b = model(input_ids=b, use_cache=False).logits
        leaky = model(input_ids=packed, use_cache=False).logits  # plain causal: b sees a
    assert torch.allclose(joint[:, 11:], alone_b, atol=1e-5)
    assert not torch.allclose(leaky[:, 11:], alone_b, atol=1e-3)


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path, tiny_qwen2):
    cfg = _cfg(tmp_path, tiny_qwen2)
    batch = tdata.MicroBatches(tdata.load(cfg.train_path, tiny_qwen2, 128), 2, 42).batch(0)
    grads = []
    for ckpt in (False, True):
        model = build_model(cfg, Runtime("cpu", "fp32", ckpt))
        model.train()
        torch.manual_seed(0)
        step_loss(model.get_base_model(), batch, Runtime("cpu", "fp32", ckpt), 16, 1.0).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6) and grads[0].abs().sum() > 0


def test_loss_goes_down_and_cancel_then_resume_matches(tmp_path, tiny_qwen2):
    full = []
    result = train(_cfg(tmp_path / "a", tiny_qwen2), progress=lambda e: e["event"] == "step" and full.append(e["loss"]))
    assert result["status"] == "finished" and len(full) == 8
    assert np.mean(full[-3:]) < np.mean(full[:3]) - 0.05, full

    cancel, first = threading.Event(), []

    def on_event(e):
        if e["event"] == "step":
            first.append(e["loss"])
            if e["step"] == 3:
                cancel.set()

    cfg_b = _cfg(tmp_path / "b", tiny_qwen2)
    stopped = train(cfg_b, progress=on_event, cancel=cancel)
    assert stopped["status"] == "cancelled" and stopped["step"] == 3 and stopped["checkpoint"].endswith("step-00000003")
    rest = []
    resumed = train(cfg_b, progress=lambda e: e["event"] == "step" and rest.append(e["loss"]), resume=True)
    assert resumed["status"] == "finished"
    assert first + rest == pytest.approx(full, rel=1e-6, abs=1e-7)


class _CancelBeforeCall(threading.Event):
    """An Event that reports set from its n-th look on: the trainer looks before every micro batch and at the end of
    every step, so the cancel lands at a known point inside a step."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.looks = n, 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.n or super().is_set()


def test_cancel_within_a_micro_batch_then_resume_matches(tmp_path, tiny_qwen2):
    """Cancel between the two micro batches of step 4: the run stops there (not at the end of the step), keeps the
    checkpoint of step 3, and the resumed run redoes step 4 with the same dropout draws: the losses of the
    uninterrupted run."""
    full = []
    train(_cfg(tmp_path / "a", tiny_qwen2, lora_dropout=0.1), progress=lambda e: e["event"] == "step"
          and full.append(e["loss"]))
    cfg = _cfg(tmp_path / "b", tiny_qwen2, lora_dropout=0.1)
    first, events = [], []

    def on_event(e):
        events.append(e["event"])
        if e["event"] == "step":
            first.append(e["loss"])

    # 2 micro batches a step, 3 looks a step: the 11th look is before the second micro batch of step 4
    stopped = train(cfg, progress=on_event, cancel=_CancelBeforeCall(11))
    assert stopped["status"] == "cancelled" and stopped["step"] == 3, stopped
    assert stopped["dropped_micro_batches"] == 1 and stopped["micro_batches_per_step"] == 2
    assert stopped["checkpoint"].endswith("step-00000003") and len(first) == 3
    assert events[-2:] == ["checkpoint", "cancelled"]
    rest = []
    resumed = train(cfg, progress=lambda e: e["event"] == "step" and rest.append(e["loss"]), resume=True)
    assert resumed["status"] == "finished"
    assert first + rest == pytest.approx(full, rel=1e-6, abs=1e-7)
    # cancelled at the very first look: nothing trained, nothing to keep
    stopped = train(_cfg(tmp_path / "c", tiny_qwen2), cancel=_CancelBeforeCall(1))
    assert stopped["step"] == 0 and stopped["checkpoint"] is None and stopped["dropped_micro_batches"] == 0


def test_refusals(tmp_path, tiny_qwen2):
    with pytest.raises(TrainError, match="beyond the base model's context of 512"):
        train(_cfg(tmp_path, tiny_qwen2, seq_len=1024))
    with pytest.raises(TrainError, match=r"needs about .* GiB .* available RAM.*--seq-len"):
        train(_cfg(tmp_path, tiny_qwen2, seq_len=512, micro_batch_size=4, memory_budget_bytes=40_000_000))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(TrainError, match="no training samples"):
        train(_cfg(tmp_path, tiny_qwen2, train_path=str(empty)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"kind": "completion", "prompt": "x", "completion": "y"}) + "\nnot json\n")
    with pytest.raises(TrainError, match="line 2 is not JSON"):
        train(_cfg(tmp_path, tiny_qwen2, train_path=str(bad)))
    with pytest.raises(TrainError, match="QLoRA needs a CUDA GPU"):
        train(_cfg(tmp_path, tiny_qwen2, qlora=True))


def test_disk_full_while_checkpointing(tmp_path, tiny_qwen2):
    """A write limit below the optimizer state's size (a real EFBIG from the kernel) fails the checkpoint cleanly."""
    cfg = _cfg(tmp_path, tiny_qwen2, checkpoint_every=1, max_steps=3, log_path=str(tmp_path / "train.log"))
    cfg.save(tmp_path / "config.json")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    out = subprocess.run([sys.executable, "-m", "training.job", str(tmp_path / "config.json")], capture_output=True,
                         text=True, timeout=300, preexec_fn=limit)
    assert out.returncode == 1, out.stderr
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["event"] == "failed"
    assert "cannot write the checkpoint of step 1" in last["error"] and "File too large" in last["error"]
    left = list((tmp_path / "run" / "checkpoints").iterdir())
    assert left == [], left  # neither a partial step folder nor a temp folder
