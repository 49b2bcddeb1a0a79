"""Training checkpoints: adapter, optimizer, scheduler, scaler, RNG states and data position, written atomically.

A checkpoint is a folder `checkpoints/step-NNNNNNNN/` built under a temporary name and renamed into place, so a
folder with that name is always complete; a run killed (even with -9) mid-write leaves only a temp folder, which
the next save or load sweeps away. The newest complete folder is the one `--resume` continues from.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from training.fileio import sha256_tree, size_of

_NAME = re.compile(r"^step-(\d{8})$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read: the message is one line for the user."""


def rng_state() -> dict:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def list_checkpoints(root: Path | str) -> list[tuple[int, Path]]:
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir() and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest(root: Path | str) -> Path | None:
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def _sweep_temps(root: Path) -> None:
    for p in root.glob(".step-*"):
        shutil.rmtree(p, ignore_errors=True)


def save(root: Path | str, step: int, *, model, optimizer, scheduler, scaler, rng_states: list[dict],
         state: dict, keep: int = 2) -> dict:
    """Write checkpoint `step` (model = the PEFT model; rng_states: one per process); returns path, sha256, size."""
    import torch

    root = Path(root)
    final = root / f"step-{step:08d}"
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        _sweep_temps(root)
        tmp = Path(tempfile.mkdtemp(prefix=f".step-{step:08d}.", dir=root))
        model.save_pretrained(str(tmp / "adapter"), safe_serialization=True)
        # through our own file objects so a full disk surfaces as an OSError with its errno, not a zip-writer assert
        with open(tmp / "optimizer.pt", "wb") as fh:
            torch.save(optimizer.state_dict(), fh)
        with open(tmp / "states.pt", "wb") as fh:
            torch.save({"scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else None,
                        "rng": rng_states}, fh)
        (tmp / "trainer_state.json").write_text(json.dumps({**state, "step": step}, indent=2, sort_keys=True))
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        tmp = None
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        previous = latest(root)
        kept = f"; the checkpoint of step {int(previous.name[5:])} is intact" if previous else ""
        raise CheckpointError(f"cannot write the checkpoint of step {step} in {root}: {reason}{kept}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for _step, old in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return {"path": str(final), "sha256": sha256_tree(final), "size_bytes": size_of(final), "step": step}


def load(path: Path | str, *, model, optimizer, scheduler, scaler, rank: int = 0) -> dict:
    """Restore a checkpoint into live objects; returns its trainer_state (step, micro batch, config hash...)."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(path)
    try:
        state = json.loads((path / "trainer_state.json").read_text())
        adapter = load_file(str(path / "adapter" / "adapter_model.safetensors"))
        opt_state = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
        states = torch.load(path / "states.pt", map_location="cpu", weights_only=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from None
    result = set_peft_model_state_dict(model, adapter)
    if getattr(result, "unexpected_keys", None):
        raise CheckpointError(f"the checkpoint {path} does not match this model ({result.unexpected_keys[:2]})")
    optimizer.load_state_dict(opt_state)
    scheduler.load_state_dict(states["scheduler"])
    if scaler is not None and states.get("scaler"):
        scaler.load_state_dict(states["scaler"])
    rngs = states["rng"]
    set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
    return state
