"""The accelerator there is, for the Training pane's defaults: nvidia-smi, so probing needs no torch. (The memory
estimate itself is the launch's own check: app.training_jobs.train with dry_run, see panes/train_form.py.)"""
from __future__ import annotations

import os
import shutil
import subprocess


def probe_hardware() -> dict:
    """GPUs from nvidia-smi (no torch import in the UI process) and the machine's RAM."""
    info: dict = {"gpus": [], "ram_bytes": None}
    try:
        info["ram_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout
            for line in out.strip().splitlines():
                name, mem = [p.strip() for p in line.rsplit(",", 1)]
                info["gpus"].append({"name": name, "memory_bytes": int(float(mem) * 1024 ** 2)})
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return info


_PROBED: dict = {}


def hardware_of(app) -> dict:
    """The app's fixed hardware (screenshots, tests) or this machine's, probed once per process."""
    if getattr(app, "hardware", None):
        return app.hardware
    if not _PROBED:
        _PROBED.update(probe_hardware())
    return _PROBED
