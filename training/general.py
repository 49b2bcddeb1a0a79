"""The general-code set shipped with the studio (assets/general/): code from outside any team's repos, in the
snapshot JSONL format (docs/CONVENTIONS.md).

- heldout.jsonl: scored beside the team's held-out set (eval suite `general`), so a tune that makes the model
  worse at code in general shows as a regression (checklist item `general-no-regression`).
- train.jsonl: a pool of training samples from *other files* of the same source, which `train --replay SHARE`
  mixes into the team's samples to hold on to general ability.

Both were built once from a pinned package with the studio's own curation (`python -m training.general build`);
where they come from and under which license is in assets/general/PROVENANCE.md. FIM samples are stored in the
StarCoder FIM format and re-laid in the format of the model that reads them.
"""
from __future__ import annotations

import random
from pathlib import Path

from training import fim
from training.fileio import iter_jsonl

ROOT = Path(__file__).resolve().parent.parent / "assets" / "general"
NAME = "general-graphql-core-3.2.8"
HELDOUT = ROOT / "heldout.jsonl"
TRAIN = ROOT / "train.jsonl"
MAX_REPLAY = 0.9


class ReplayError(ValueError):
    """A replay share that cannot be used (one line for the user)."""


def relay(sample: dict, fmt: fim.FimFormat | None) -> dict:
    """A sample with its FIM prompt re-laid in `fmt` (PSM), or, for a model without FIM tokens, as the plain
    prefix -> middle completion that curation makes for such a base."""
    if sample.get("kind") != "fim":
        return sample
    parts = fim.split(sample["prompt"])
    if parts is None:
        return sample
    prefix, suffix = parts
    if fmt is None:
        return {**sample, "kind": "completion", "prompt": prefix}
    return {**sample, "prompt": fmt.psm(prefix, suffix)}


def replay_samples(share: float, team_samples: int, fmt: fim.FimFormat | None, seed: int = 42,
                   pool: Path = TRAIN) -> list[dict]:
    """General samples to add to `team_samples` team samples so that they are `share` of the mix (as many as the
    pool holds at most), chosen with a seeded draw and re-laid in the base's FIM format."""
    if not 0 <= share <= MAX_REPLAY:
        raise ReplayError(f"--replay must be a share between 0 and {MAX_REPLAY}, not {share}")
    if share == 0:
        return []
    if not Path(pool).is_file():
        raise ReplayError(f"the general-code training pool is missing at {pool}; reinstall blackroad-studio")
    rows = [row for _, row in iter_jsonl(pool)]
    want = min(len(rows), round(team_samples * share / (1 - share)))
    chosen = random.Random(seed).sample(range(len(rows)), want)
    return [relay(rows[i], fmt) for i in sorted(chosen)]


def build(source: Path, tokenizer_dir: Path, out: Path = ROOT, heldout_samples: int = 400,
          train_samples: int = 2000, seed: int = 42) -> dict:
    """Curate `source` (a package's source folder) with the studio's engine and keep a held-out set and a training
    pool from disjoint files: every file goes to one side by the split's seeded hash."""
    import json
    import tempfile

    from training.curation import curate as engine
    from training.curation.samples import SampleConfig
    from training.fileio import atomic_write_text

    with tempfile.TemporaryDirectory() as tmp:
        cfg = engine.CurateConfig(tokenizer_dir=str(tokenizer_dir), heldout_rate=0.3, heldout_min_samples=0,
                                  samples=SampleConfig(fim_format=fim.STARCODER.name, seed=seed), seed=seed)
        result = engine.build([engine.Source(source.name, str(source))], cfg, Path(tmp) / "cache.db",
                              Path(tmp) / "datasets")
        folder = Path(result["output"])
        held = [row for _, row in iter_jsonl(folder / "heldout.jsonl")]
        train = [row for _, row in iter_jsonl(folder / "train.jsonl")]
    rng = random.Random(seed)
    held = sorted(rng.sample(held, min(heldout_samples, len(held))), key=lambda r: r["id"])
    train = sorted(rng.sample(train, min(train_samples, len(train))), key=lambda r: r["id"])
    for name, rows in (("heldout.jsonl", held), ("train.jsonl", train)):
        atomic_write_text(out / name, "".join(json.dumps({**r, "category": None}, ensure_ascii=False) + "\n"
                                              for r in rows))
    return {"heldout": len(held), "train": len(train), "files": result["files_kept"]}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Build assets/general from a package's source folder.")
    ap.add_argument("command", choices=["build"])
    ap.add_argument("source", type=Path)
    ap.add_argument("tokenizer_dir", type=Path)
    args = ap.parse_args()
    print(build(args.source, args.tokenizer_dir))
