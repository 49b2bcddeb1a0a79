"""Worker settings from the environment; no configuration files, no defaults that hide mistakes."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    pass


def _int(name: str, default: int, low: int = 1, high: int = 100_000) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    max_agents: int
    job_workers: int
    job_queue_size: int
    pack_dir: Path
    allowed_origins: tuple[str, ...]

    @classmethod
    def from_env(cls) -> "Settings":
        origins = tuple(o.strip() for o in os.environ.get("AGENT_HUB_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            max_agents=_int("AGENT_HUB_MAX_AGENTS", 64),
            job_workers=_int("AGENT_HUB_JOB_WORKERS", 4, high=256),
            job_queue_size=_int("AGENT_HUB_JOB_QUEUE", 1000),
            pack_dir=Path(os.environ.get("AGENT_HUB_PACK_DIR", "./packs")).expanduser(),
            allowed_origins=origins,
        )
