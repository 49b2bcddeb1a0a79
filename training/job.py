"""The training child process: `python -m training.job CONFIG.json [--resume]` (or under torchrun).

Streams one JSON object per line on stdout and appends the same lines to the config's log_path; SIGTERM (and
SIGINT) mean "stop within one micro batch": the unfinished step's gradients are dropped and the last finished step
is checkpointed (training/trainer.py). Exit 0 when finished or cancelled, 1 when failed (the last
line is then a `failed` event with a one-line `error`).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback


class _Emitter:
    def __init__(self, log_path: str | None, rank: int):
        self.rank = rank
        self.log = open(log_path, "a", encoding="utf-8") if log_path and rank == 0 else None

    def __call__(self, event: dict) -> None:
        if self.rank != 0:
            return
        line = json.dumps(event, default=str)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if self.log:
            self.log.write(line + "\n")
            self.log.flush()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: python -m training.job CONFIG.json [--resume]", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from training.checkpoint import CheckpointError
    from training.config import ConfigError, TrainConfig

    rank = int(os.environ.get("RANK", "0"))
    cancel = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: cancel.set())
    emit = _Emitter(None, rank)
    try:
        cfg = TrainConfig.load(paths[0])
        emit = _Emitter(cfg.log_path, rank)
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        from training.trainer import TrainError, train

        train(cfg, progress=emit, cancel=cancel, resume=resume)
        return 0
    except (ConfigError, CheckpointError) as exc:
        emit({"event": "failed", "error": str(exc)})
    except Exception as exc:  # noqa: BLE001  the job's contract: every failure ends in one `failed` line
        known = type(exc).__name__ == "TrainError"
        emit({"event": "failed", "error": str(exc) if known else f"{type(exc).__name__}: {exc}".splitlines()[0]})
        if not known:
            traceback.print_exc(file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
