"""Our LoRA training loop over peft (no HF Trainer): where the speed comes from.

- Packed windows with per-sample position ids (training.data): no padding compute, no attention across samples.
- The lm_head runs only on rows that carry a target, through a fused chunked cross-entropy (training.loss):
  masked prompt tokens skip the vocab projection, and full logits never exist.
- Gradient checkpointing (non-reentrant) on by default on the GPU; autocast bf16 (fp16 + loss scaling where bf16
  is missing), fp32 on the CPU; fused AdamW on CUDA.
- The loss of a step is normalised by the step's target-token count (over all micro batches and processes), so
  the gradient does not depend on how the batch was split: resume and DDP reproduce the one-process run.

Events go to `progress(dict)`; `cancel` (threading.Event) is looked at before every micro batch: the run stops
within one micro batch, drops the unfinished step's gradients and checkpoints the last finished step with the
random state as it was when the dropped step began, so `--resume` redoes that step exactly.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from training import checkpoint, ddp, memory
from training.config import TrainConfig
from training.data import IGNORE, DataError, MicroBatches, load as load_data
from training.fileio import atomic_dir, sha256_file, sha256_tree, size_of
from training.loss import fused_linear_cross_entropy


class TrainError(RuntimeError):
    """A run that cannot start or continue: the message is one line for the user."""


@dataclass
class Runtime:
    device: str
    precision: str
    gradient_checkpointing: bool

    @property
    def weight_dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]

    def autocast(self):
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=self.weight_dtype)


def resolve_runtime(cfg: TrainConfig) -> Runtime:
    """CUDA when present; bf16 where the GPU supports it, else fp16; fp32 on the CPU; checkpointing on on CUDA."""
    import torch

    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainError("device cuda was asked for but no CUDA GPU is visible")
    precision = cfg.precision
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if device == "cuda" else "fp32"
    if precision == "fp16" and device == "cpu":
        raise TrainError("fp16 training needs a GPU; use fp32 (or bf16) on the CPU")
    if cfg.qlora and device != "cuda":
        raise TrainError("QLoRA needs a CUDA GPU and bitsandbytes; train without --qlora on the CPU")
    ckpt = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else device == "cuda"
    return Runtime(device, precision, ckpt)


def plan_memory(cfg: TrainConfig, rt: Runtime, model_cfg: dict, parameters: int) -> dict:
    """The memory estimate of one process; raises memory.WontFitError when it exceeds what is free."""
    weight_bytes = 0.55 if cfg.qlora else rt.weight_dtype.itemsize
    parts = memory.estimate(model_cfg, parameters, seq_len=cfg.seq_len, micro_batch=cfg.micro_batch_size,
                            lora_r=cfg.lora_r, targets=cfg.target_modules, weight_bytes=weight_bytes,
                            act_bytes=rt.weight_dtype.itemsize, gradient_checkpointing=rt.gradient_checkpointing,
                            ce_chunk=cfg.ce_chunk_tokens, cuda=rt.device == "cuda")
    free = cfg.memory_budget_bytes or memory.available_bytes(rt.device)
    parts["free"] = free
    memory.check(parts, free, seq_len=cfg.seq_len, device=rt.device, qlora=cfg.qlora)
    return parts


def count_parameters(model_cfg: dict, base_path: str) -> int:
    from training.base_model import _estimate_parameters, _safetensors_parameters

    return _safetensors_parameters(Path(base_path)) or _estimate_parameters(model_cfg)


def build_model(cfg: TrainConfig, rt: Runtime, base=None):
    """The base in the run's dtype (4-bit for QLoRA) with LoRA adapters on the target projections.

    `base` is an already built transformers model to use instead of loading cfg.base_path (benchmarks build a
    7B-shaped model from a config on the GPU rather than writing 15 GB of random weights to disk)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": rt.weight_dtype, "attn_implementation": "sdpa"}
    if rt.device == "cuda":
        try:
            import flash_attn  # noqa: F401  (varlen kernels read the packed position ids directly)

            kwargs["attn_implementation"] = "flash_attention_2"
        except ImportError:
            pass
    if cfg.qlora:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise TrainError("QLoRA needs bitsandbytes (pip install bitsandbytes)") from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=rt.weight_dtype)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = base if base is not None else AutoModelForCausalLM.from_pretrained(cfg.base_path, **kwargs)
    model.config.use_cache = False
    if cfg.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=rt.gradient_checkpointing)
    elif rt.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    missing = [m for m in cfg.target_modules if not any(n.endswith("." + m) for n, _ in model.named_modules())]
    if missing:
        raise TrainError(f"the base model has no modules named {', '.join(missing)} to put LoRA on")
    torch.manual_seed(cfg.seed)  # LoRA A init: identical on every process and every resume
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lora)
    if not cfg.qlora:
        peft_model.to(rt.device)
    return peft_model


def lr_lambda(total: int, warmup: int, kind: str) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * progress)) if kind == "cosine" else max(0.0, 1 - progress)
    return f


def step_loss(causal, batch: dict, rt: Runtime, chunk: int, scale: float):
    """Summed token loss of one micro batch times `scale`, with backward-ready graph."""
    ids = batch["input_ids"].to(rt.device, non_blocking=True)
    pos = batch["position_ids"].to(rt.device, non_blocking=True)
    targets = batch["targets"].to(rt.device, non_blocking=True)
    head = causal.get_output_embeddings()
    with rt.autocast():
        hidden = causal.model(input_ids=ids, position_ids=pos, use_cache=False).last_hidden_state
    rows = targets != IGNORE
    h = hidden[rows].to(head.weight.dtype)
    return fused_linear_cross_entropy(h, head.weight, targets[rows], chunk) * scale


def _memory_bytes(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def save_adapter(model, out_dir: Path) -> dict:
    """The final PEFT adapter, written to a temp folder and renamed into place."""
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
    return {"adapter": str(out_dir), "adapter_sha256": sha256_tree(out_dir), "adapter_size_bytes": size_of(out_dir)}


def train(cfg: TrainConfig, progress: Callable[[dict], None] | None = None,
          cancel: threading.Event | None = None, resume: bool = False, base=None) -> dict:
    """Run (or resume) LoRA training as `cfg` says; returns the final result dict (status, losses, adapter)."""
    rt = resolve_runtime(cfg)
    dist = ddp.setup(rt.device)
    try:
        return _Run(cfg, rt, dist, progress if dist.main else None, cancel or threading.Event()).run(resume, base)
    finally:
        ddp.teardown(dist)


class _Run:
    def __init__(self, cfg: TrainConfig, rt: Runtime, dist: ddp.Dist, progress, cancel: threading.Event):
        self.cfg, self.rt, self.dist, self.cancel = cfg, rt, dist, cancel
        self.emit = progress or (lambda event: None)
        self.out = Path(cfg.output_dir)
        self.ckpt_dir = self.out / "checkpoints"

    def _prepare(self):
        cfg = self.cfg
        try:
            model_cfg = memory.read_model_config(cfg.base_path)
        except (OSError, ValueError) as exc:
            raise TrainError(f"cannot read the base model's config in {cfg.base_path}: {exc}") from None
        context = model_cfg.get("max_position_embeddings")
        if context and cfg.seq_len > context:
            raise TrainError(f"--seq-len {cfg.seq_len} is beyond the base model's context of {context} tokens")
        try:
            data = load_data(cfg.train_path, cfg.base_path, cfg.seq_len, cfg.pack, replay=cfg.replay, seed=cfg.seed)
        except DataError as exc:
            raise TrainError(str(exc)) from None
        try:
            estimate = plan_memory(cfg, self.rt, model_cfg, count_parameters(model_cfg, cfg.base_path))
        except memory.WontFitError as exc:
            raise TrainError(str(exc)) from None
        return data, estimate

    def run(self, resume: bool, base=None) -> dict:
        import torch

        cfg, rt, dist = self.cfg, self.rt, self.dist
        data, estimate = self._prepare()
        model = build_model(cfg, rt, base)
        model.train()
        causal = model.get_base_model()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, betas=tuple(cfg.adam_betas), eps=cfg.adam_eps,
                                      weight_decay=cfg.weight_decay, **({"fused": True} if rt.device == "cuda" else {}))
        stream = MicroBatches(data, cfg.micro_batch_size, cfg.seed)
        per_step = cfg.micro_batches_per_step * dist.world
        total = cfg.max_steps or max(1, math.ceil(cfg.epochs * stream.per_epoch / per_step))
        warmup = int(cfg.warmup_ratio * total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(total, warmup, cfg.scheduler))
        scaler = torch.amp.GradScaler("cuda") if rt.precision == "fp16" else None
        recipe_hash = cfg.hash(sha256_file(cfg.train_path))
        torch.manual_seed(cfg.seed + dist.rank)  # dropout stream per process
        start = 0
        found = checkpoint.latest(self.ckpt_dir) if resume else None
        self.resumed_from = str(found) if found else None
        if found is not None:
            state = checkpoint.load(found, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                    rank=dist.rank)
            if state.get("recipe_hash") != recipe_hash:
                raise TrainError(f"the checkpoint {found} was written by another recipe or snapshot; "
                                 "start a new run instead of --resume")
            start = state["step"]
        self.emit({"event": "started", "pid": os.getpid(), "total_steps": total, "start_step": start,
                   "resumed_from": str(found) if found else None, "device": rt.device, "precision": rt.precision,
                   "gradient_checkpointing": rt.gradient_checkpointing, "world_size": dist.world,
                   "data": data.stats, "memory_estimate": estimate, "recipe_hash": recipe_hash,
                   "trainable_parameters": sum(p.numel() for p in params)})
        return self._loop(model, causal, params, optimizer, scheduler, scaler, stream, start, total, recipe_hash)

    def _checkpoint(self, step, model, optimizer, scheduler, scaler, recipe_hash) -> dict | None:
        rngs = ddp.gather_objects(self.dist, checkpoint.rng_state())
        if not self.dist.main:
            return None
        info = checkpoint.save(self.ckpt_dir, step, model=model, optimizer=optimizer, scheduler=scheduler,
                               scaler=scaler, rng_states=rngs, keep=self.cfg.keep_checkpoints,
                               state={"recipe_hash": recipe_hash, "micro_batch": step * self.cfg.micro_batches_per_step
                                      * self.dist.world, "world_size": self.dist.world})
        self.emit({"event": "checkpoint", **info})
        return info

    def _cancelled(self, step: int, total: int, ckpt: dict | None, dropped: int, per_step: int) -> dict:
        result = {"status": "cancelled", "step": step, "total_steps": total,
                  "checkpoint": ckpt["path"] if ckpt else self.resumed_from if step else None,
                  "dropped_micro_batches": dropped, "micro_batches_per_step": per_step}
        self.emit({"event": "cancelled", **result})
        return result

    def _stop_mid_step(self, step, start, done, per_step, total, step_rng, last_ckpt, model, optimizer, scheduler,
                       scaler, recipe_hash) -> dict:
        """Cancelled before micro batch `done` of step `step + 1`: drop its gradients, put the random state back
        to where the step began and checkpoint step `step` (unless it is on disk already)."""
        optimizer.zero_grad(set_to_none=True)
        checkpoint.set_rng_state(step_rng)
        if step > start and (last_ckpt is None or last_ckpt["step"] != step):
            last_ckpt = self._checkpoint(step, model, optimizer, scheduler, scaler, recipe_hash)
        return self._cancelled(step, total, last_ckpt, done, per_step)

    def _loop(self, model, causal, params, optimizer, scheduler, scaler, stream, start, total, recipe_hash) -> dict:
        import torch

        cfg, rt, dist = self.cfg, self.rt, self.dist
        per_step = cfg.micro_batches_per_step * dist.world
        tokens_seen, t0, loss_value, last_ckpt = 0, time.perf_counter(), None, None
        step = start
        while step < total:
            tick = time.perf_counter()
            mine = [stream.batch(m) for m in range(step * per_step, (step + 1) * per_step)][dist.rank::dist.world]
            n_targets = ddp.all_reduce_sum(dist, float(sum(int((b["targets"] != IGNORE).sum()) for b in mine)),
                                           rt.device)
            loss_sum = 0.0
            step_rng = checkpoint.rng_state()  # restored if the step is dropped half way, for an exact resume
            for done, batch in enumerate(mine):
                if ddp.any_flag(dist, self.cancel.is_set()):
                    return self._stop_mid_step(step, start, done, len(mine), total, step_rng, last_ckpt, model,
                                               optimizer, scheduler, scaler, recipe_hash)
                loss = step_loss(causal, batch, rt, cfg.ce_chunk_tokens, 1.0 / n_targets)
                (scaler.scale(loss) if scaler else loss).backward()
                loss_sum += float(loss.detach())
            ddp.all_reduce_grads(dist, params)
            if scaler:
                scaler.unscale_(optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
            lr = scheduler.get_last_lr()[0]
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = ddp.all_reduce_sum(dist, loss_sum, rt.device)
            step_tokens = ddp.all_reduce_sum(dist, float(sum(b["tokens"] for b in mine)), rt.device)
            tokens_seen += step_tokens
            now = time.perf_counter()
            avg = (now - t0) / (step - start)
            if step % cfg.log_every == 0 or step == total:
                self.emit({"event": "step", "step": step, "total_steps": total, "loss": round(loss_value, 6),
                           "lr": lr, "grad_norm": grad_norm, "tokens_per_second": step_tokens / (now - tick),
                           "memory_bytes": _memory_bytes(rt.device), "eta_s": round(avg * (total - step), 1),
                           "epoch": round(step * per_step / stream.per_epoch, 3)})
            cancelled = ddp.any_flag(dist, self.cancel.is_set())
            if step % cfg.checkpoint_every == 0 or (cancelled and step < total):
                last_ckpt = self._checkpoint(step, model, optimizer, scheduler, scaler, recipe_hash)
            if cancelled and step < total:
                return self._cancelled(step, total, last_ckpt, 0, len(mine))
        seconds = time.perf_counter() - t0
        result = {"status": "finished", "steps": total, "final_loss": loss_value,
                  "tokens_per_second": tokens_seen / seconds if seconds > 0 else None,
                  "train_seconds": round(seconds, 3), "tokens": int(tokens_seen)}
        if dist.main:
            result.update(save_adapter(model, self.out / "adapter"))
            self.emit({"event": "finished", **result})
        return result
