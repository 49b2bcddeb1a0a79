"""Snapshot JSONL → token windows for training: prompt masking, FIM trained whole, packing with position resets.

Each sample becomes (input ids, targets) where targets are already shifted (targets[i] is the token that position i
must predict, or -100), so the loss needs no shift and a packed window never trains one sample's last token to
predict the next sample's first. Samples are packed best-fit decreasing into `seq_len` windows; position ids restart at 0 at
every sample, which transformers turns into a block-diagonal causal mask (sdpa/eager) or varlen attention
(flash-attention), so no token attends across a sample boundary.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.fileio import JsonLinesError, iter_jsonl

IGNORE = -100


class DataError(ValueError):
    """The snapshot cannot be trained on: the message is one line for the user."""


@dataclass
class Window:
    input_ids: np.ndarray     # int64 [n]
    targets: np.ndarray       # int64 [n], IGNORE where no loss
    position_ids: np.ndarray  # int64 [n], restarting at 0 for every packed sample


@dataclass
class TokenizedData:
    windows: list[Window]
    pad_id: int
    stats: dict


def read_samples(path: Path | str) -> list[dict]:
    """The samples of a snapshot's train.jsonl, checked line by line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    samples = []
    try:
        for number, row in iter_jsonl(path):
            if not isinstance(row, dict) or row.get("kind") not in ("completion", "fim"):
                raise DataError(f"{path.name} line {number}: kind must be 'completion' or 'fim'")
            if not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
                raise DataError(f"{path.name} line {number}: prompt and completion must be strings")
            samples.append(row)
    except JsonLinesError as exc:
        raise DataError(str(exc)) from None
    if not samples:
        raise DataError(f"the snapshot has no training samples ({path} is empty)")
    return samples


def eos_id(tokenizer, hf_dir: Path | str) -> int:
    """The end-of-text id appended to every sample (from tokenizer_config.json, else config.json)."""
    from training.tokenizer import special_tokens

    name = special_tokens(str(hf_dir)).get("eos_token")
    if name is not None and tokenizer.token_to_id(name) is not None:
        return tokenizer.token_to_id(name)
    cfg = json.loads((Path(hf_dir) / "config.json").read_text(encoding="utf-8"))
    eos = cfg.get("eos_token_id")
    eos = eos[0] if isinstance(eos, list) else eos
    if eos is None:
        raise DataError(f"{hf_dir} names no end-of-text token (tokenizer_config.json eos_token or config.json)")
    return int(eos)


def encode_samples(samples: list[dict], tokenizer, eos: int, seq_len: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict]:
    """(ids, targets) per usable sample, truncated to seq_len; samples left with no target token are dropped."""
    prompts = tokenizer.encode_batch([s["prompt"] for s in samples], add_special_tokens=False)
    completions = tokenizer.encode_batch([s["completion"] for s in samples], add_special_tokens=False)
    out, dropped, truncated = [], 0, 0
    for sample, p, c in zip(samples, prompts, completions):
        ids = np.asarray(p.ids + c.ids + [eos], dtype=np.int64)
        first_target = 1 if sample["kind"] == "fim" else max(1, len(p.ids))  # index of the first predicted token
        if len(ids) > seq_len:
            ids, truncated = ids[:seq_len], truncated + 1
        targets = np.full(len(ids), IGNORE, dtype=np.int64)
        if len(ids) > first_target:
            targets[first_target - 1:len(ids) - 1] = ids[first_target:]
        if not (targets != IGNORE).any():
            dropped += 1
            continue
        out.append((ids, targets))
    return out, {"samples": len(samples), "dropped_no_target": dropped, "truncated": truncated}


def pack(encoded: list[tuple[np.ndarray, np.ndarray]], seq_len: int, enabled: bool = True) -> list[Window]:
    """Best-fit decreasing packing into windows of at most seq_len tokens (one sample per window when disabled)."""
    windows = []
    for group in pack_groups([len(e[0]) for e in encoded], seq_len, enabled):
        parts = [encoded[i] for i in group]
        windows.append(Window(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                              np.concatenate([np.arange(len(p[0]), dtype=np.int64) for p in parts])))
    return windows


def pack_groups(lengths: list[int], seq_len: int, enabled: bool = True) -> list[list[int]]:
    """Which samples (by index) share a window. Longest samples first, each into the open window it fills most
    tightly (bisect over the windows' free space), which leaves windows nearly full: fewer windows, so less padding
    compute per real token than next-fit."""
    import bisect

    if not enabled:
        groups = [[i] for i in range(len(lengths))]
    else:
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        groups, free = [], []  # free: sorted (space left, window index)
        for i in order:
            n = lengths[i]
            at = bisect.bisect_left(free, (n, -1))
            if at < len(free):
                space, w = free.pop(at)
                groups[w].append(i)
                if space - n > 0:
                    bisect.insort(free, (space - n, w))
            else:
                groups.append([i])
                if seq_len - n > 0:
                    bisect.insort(free, (seq_len - n, len(groups) - 1))
    return groups


def with_replay(samples: list[dict], replay: float, fim_format, seed: int) -> list[dict]:
    """The team's samples plus general-code samples making up `replay` of the mix (training.general)."""
    from training import general

    try:
        return samples + general.replay_samples(replay, len(samples), fim_format, seed)
    except general.ReplayError as exc:
        raise DataError(str(exc)) from None


def load(train_path: Path | str, hf_dir: Path | str, seq_len: int, pack_samples: bool = True, replay: float = 0.0,
         seed: int = 42) -> TokenizedData:
    """Read, tokenise, mask and pack a snapshot's train.jsonl with the base model's tokenizer (plus `replay`, a
    share of general-code samples re-laid in the base's FIM format)."""
    from training import fim
    from training.tokenizer import load as load_tokenizer

    samples = read_samples(train_path)
    team = len(samples)
    try:
        tokenizer = load_tokenizer(str(hf_dir))
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None
    if replay:
        samples = with_replay(samples, replay, fim.detect(tokenizer.get_vocab(with_added_tokens=True)), seed)
    eos = eos_id(tokenizer, hf_dir)
    encoded, stats = encode_samples(samples, tokenizer, eos, seq_len)
    stats["replay_samples"] = len(samples) - team
    if not encoded:
        raise DataError(f"no sample of the snapshot has a completion token within --seq-len {seq_len}")
    windows = pack(encoded, seq_len, pack_samples)
    tokens = sum(len(w.input_ids) for w in windows)
    stats.update(windows=len(windows), tokens=tokens,
                 target_tokens=int(sum((w.targets != IGNORE).sum() for w in windows)),
                 packing_efficiency=round(tokens / (len(windows) * seq_len), 4))
    return TokenizedData(windows, eos, stats)


def plan_steps(train_path: Path | str, *, seq_len: int, batch_size: int, micro_batch_size: int, epochs: float,
               max_steps: int | None = None, pack_samples: bool = True, replay: float = 0.0, seed: int = 42) -> dict:
    """How many optimizer steps a recipe gives on a snapshot, before anything is loaded: windows from the token
    counts curation recorded per sample (plus the end-of-text token, cut at seq_len), packed as `load` packs them,
    then steps as the trainer counts them. {steps, windows, samples, tokens, epochs}."""
    samples = read_samples(train_path)
    if replay:
        samples = with_replay(samples, replay, None, seed)
    lengths = [min(seq_len, int(s.get("tokens") or 0) + 1) for s in samples]
    windows = len(pack_groups(lengths, seq_len, pack_samples))
    per_epoch = math.ceil(windows / micro_batch_size)
    steps = max_steps or max(1, math.ceil(epochs * per_epoch / (batch_size // micro_batch_size)))
    return {"steps": steps, "windows": windows, "samples": len(samples), "tokens": sum(lengths),
            "epochs": round(steps * batch_size / windows, 2) if windows else 0.0}


MIN_LEARNING_STEPS = 100  # fewer optimizer steps barely move a LoRA from its zero init (bench/adapt.py)


def steps_message(plan: dict, min_steps: int = MIN_LEARNING_STEPS) -> tuple[str, bool]:
    """(the line the studio says before a launch, whether it is a warning)."""
    line = (f"the recipe gives {plan['steps']} optimizer steps on this snapshot ({plan['samples']} samples packed "
            f"into {plan['windows']} windows, {plan['epochs']:g} epochs' worth)")
    if plan["steps"] >= min_steps:
        return line, False
    return (line + f": too few to move a LoRA (fewer than {min_steps}); raise --epochs or --max-steps, add data, "
            "or lower --batch-size"), True


class MicroBatches:
    """The deterministic stream of micro batches: epoch e visits the windows in a permutation seeded by seed + e.

    Micro batch m (a global index over all epochs) is a pure function of (seed, m), so a resumed run sees
    exactly the batches an uninterrupted one would.
    """

    def __init__(self, data: TokenizedData, micro_batch_size: int, seed: int):
        self.data, self.size, self.seed = data, micro_batch_size, seed
        self.per_epoch = math.ceil(len(data.windows) / micro_batch_size)
        self._perm_epoch, self._perm = -1, None

    def indices(self, m: int) -> np.ndarray:
        epoch, within = divmod(m, self.per_epoch)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng(self.seed + epoch).permutation(len(self.data.windows))
            self._perm_epoch = epoch
        return self._perm[within * self.size:(within + 1) * self.size]

    def batch(self, m: int) -> dict:
        """Tensors for micro batch m, right-padded to its longest window (padding is its own masked segment)."""
        import torch

        windows = [self.data.windows[i] for i in self.indices(m)]
        width = max(len(w.input_ids) for w in windows)
        ids = np.full((len(windows), width), self.data.pad_id, dtype=np.int64)
        targets = np.full((len(windows), width), IGNORE, dtype=np.int64)
        positions = np.zeros((len(windows), width), dtype=np.int64)
        for row, w in enumerate(windows):
            n = len(w.input_ids)
            ids[row, :n], targets[row, :n], positions[row, :n] = w.input_ids, w.targets, w.position_ids
            positions[row, n:] = np.arange(width - n)
        return {"input_ids": torch.from_numpy(ids), "targets": torch.from_numpy(targets),
                "position_ids": torch.from_numpy(positions), "tokens": int(sum(len(w.input_ids) for w in windows))}
