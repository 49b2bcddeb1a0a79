"""A/B splits of a capability between models: parsing `--split CAPABILITY=MODEL_A:0.9,MODEL_B:0.1`, the sticky
arm of each key, and the label a request row records (which the Staging pane parses back)."""
from __future__ import annotations

import hashlib


def choose_arm(capability: str, who: str, arms: list[tuple[str, float]]) -> str:
    """The arm of a split for a key: a uniform number from the hash of (capability, key) against the cumulative
    weights, so a key sees the same model every time and keys divide in the weights' proportions."""
    u = int.from_bytes(hashlib.sha256(f"{capability}\0{who}".encode()).digest()[:8], "big") / 2**64
    total = sum(w for _, w in arms)
    acc = 0.0
    for arm, weight in arms:
        acc += weight / total
        if u < acc:
            return arm
    return arms[-1][0]


def split_label(capability: str, arms: list[tuple[str, float]]) -> str:
    return f"{capability}=" + ",".join(f"{m}:{w:g}" for m, w in arms)


def parse_split(text: str) -> tuple[str, list[tuple[str, float]]]:
    """'CAPABILITY=MODEL_A:0.9,MODEL_B:0.1' → (capability, [(model, weight), ...]); ValueError when malformed."""
    capability, sep, rest = text.partition("=")
    if not sep or not capability or not rest:
        raise ValueError(f"--split {text!r}: give CAPABILITY=MODEL_A:0.9,MODEL_B:0.1")
    arms = []
    for part in rest.split(","):
        model, sep, weight = part.rpartition(":")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or not model or not value > 0:
            raise ValueError(f"--split {text!r}: each arm is MODEL:WEIGHT with a weight above 0")
        arms.append((model, value))
    if len(arms) < 2:
        raise ValueError(f"--split {text!r}: a split needs two arms or more")
    return capability, arms
