"""TrainConfig: the seed's LoRA recipe as defaults (docs/training.md), saved with every run and hashed.

The hash covers what changes the trained weights (recipe, data, base, seed); paths of outputs and the step budget
of a resumed run do not change what a step computes, so they stay out of it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from training.fileio import atomic_write_text, sha256_json

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
# Fields that say where things go or how often to report, not what is trained.
_NOT_HASHED = {"output_dir", "log_path", "checkpoint_every", "keep_checkpoints", "log_every", "max_steps",
               "memory_budget_bytes", "nproc", "device"}


class ConfigError(ValueError):
    """A config that cannot train: the message is one line for the user."""


@dataclass
class TrainConfig:
    base_path: str
    train_path: str
    output_dir: str
    # LoRA (the seed: r=16, alpha=32, dropout=0.05 on all attention and MLP projections)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(TARGET_MODULES))
    # optimiser and schedule (AdamW 2e-4, effective batch 16, 3 epochs, warmup 3%, cosine)
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    batch_size: int = 16          # effective: sequences (packed windows) per optimizer step, over all processes
    micro_batch_size: int = 4     # per process and forward pass; the rest is gradient accumulation
    epochs: float = 3.0
    max_steps: int | None = None  # overrides epochs when set
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    seed: int = 42
    # data
    seq_len: int = 1024
    pack: bool = True
    replay: float = 0.0           # share of the mix that is general-code samples (training.general), 0 .. 0.9
    # device and speed
    device: str = "auto"          # auto | cpu | cuda
    precision: str = "auto"       # auto: bf16 where the GPU supports it, fp16 otherwise, fp32 on the CPU
    gradient_checkpointing: bool | None = None  # None: on for CUDA, off on the CPU
    ce_chunk_tokens: int = 2048   # rows of logits alive at once in the fused loss
    qlora: bool = False
    nproc: int = 1
    memory_budget_bytes: int | None = None  # None: free VRAM (CUDA) or available RAM (CPU)
    # reporting and checkpoints
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 1
    log_path: str | None = None

    def __post_init__(self) -> None:
        self.target_modules = list(self.target_modules)
        self.adam_betas = tuple(self.adam_betas)
        self.validate()

    def validate(self) -> None:
        if self.lora_r < 1 or self.lora_alpha <= 0:
            raise ConfigError(f"LoRA rank and alpha must be positive (r={self.lora_r}, alpha={self.lora_alpha})")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"LoRA dropout must be in [0, 1), not {self.lora_dropout}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning rate must be positive, not {self.learning_rate}")
        if self.seq_len < 8:
            raise ConfigError(f"--seq-len must be at least 8, not {self.seq_len}")
        if self.micro_batch_size < 1 or self.batch_size < 1 or self.nproc < 1:
            raise ConfigError("batch sizes and --nproc must be at least 1")
        if self.batch_size % (self.micro_batch_size * self.nproc):
            raise ConfigError(f"effective batch {self.batch_size} is not a multiple of micro batch "
                              f"{self.micro_batch_size} x {self.nproc} processes")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"--max-steps must be at least 1, not {self.max_steps}")
        if self.max_steps is None and self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, not {self.epochs}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.scheduler not in ("cosine", "linear", "constant"):
            raise ConfigError(f"unknown scheduler {self.scheduler!r} (cosine, linear, constant)")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup ratio must be in [0, 1), not {self.warmup_ratio}")
        if not 0 <= self.replay <= 0.9:
            raise ConfigError(f"--replay must be a share between 0 and 0.9, not {self.replay}")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint interval must be at least 1 step")

    @property
    def micro_batches_per_step(self) -> int:
        """Micro batches one process runs per optimizer step (gradient accumulation)."""
        return self.batch_size // (self.micro_batch_size * self.nproc)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["adam_betas"] = list(self.adam_betas)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(**data)

    def hash(self, data_sha256: str | None = None, base_sha256: str | None = None) -> str:
        """sha256 of the recipe (plus the data's and base's hashes when given): equal hashes, equal training."""
        recipe = {k: v for k, v in self.to_dict().items() if k not in _NOT_HASHED | {"base_path", "train_path"}}
        if not recipe.get("replay"):  # no replay trains exactly as before replay existed: same hash
            recipe.pop("replay", None)
        return sha256_json({"recipe": recipe, "data": data_sha256, "base": base_sha256})

    def save(self, path: Path | str) -> str:
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the training config {path}: {exc}") from None
        return cls.from_dict(data)
