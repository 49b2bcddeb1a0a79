"""Model ids and stages (docs/CONVENTIONS.md): the id carries its stage as a prefix, and each stage its own shape."""
from __future__ import annotations

import re

from app.errors import StudioError

STAGES = ("forkies", "research", "internal", "production")
RESEARCH_TTL_DAYS = 90

_NAME = r"[a-z0-9][a-z0-9._-]*"
PATTERNS = {
    "forkies": re.compile(rf"^forkies/(?P<name>{_NAME})@v(?P<version>\d+\.\d+\.\d+)$"),
    "research": re.compile(rf"^research/(?P<owner>{_NAME})/(?P<name>{_NAME})$"),
    "internal": re.compile(rf"^internal/(?P<name>{_NAME})/v(?P<version>\d+)$"),
    "production": re.compile(rf"^production/(?P<name>{_NAME})/v(?P<version>\d+\.\d+)$"),
}
EXAMPLES = {
    "forkies": "forkies/NAME@vX.Y.Z",
    "research": "research/OWNER/NAME",
    "internal": "internal/NAME/vN",
    "production": "production/NAME/vMAJOR.MINOR",
}


def parse(model_id: str, stage: str | None = None) -> dict:
    """Split an id into stage, name, version, owner; raise StudioError when it is malformed."""
    prefix = model_id.split("/", 1)[0]
    if prefix not in STAGES:
        raise StudioError(f"model id {model_id!r} must start with one of {', '.join(s + '/' for s in STAGES)}")
    if stage is not None and prefix != stage:
        raise StudioError(f"model id {model_id!r} must be of the form {EXAMPLES[stage]}")
    m = PATTERNS[prefix].match(model_id)
    if not m:
        raise StudioError(f"model id {model_id!r} must be of the form {EXAMPLES[prefix]} (lowercase letters, digits, . _ -)")
    parts = m.groupdict()
    return {"stage": prefix, "name": parts["name"], "version": parts.get("version"), "owner": parts.get("owner")}


def folder_name(model_id: str) -> str:
    """The one folder (and file stem) name of a model id: `/` -> `__`, `@` -> `-`
    (forkies/qwen2.5-coder-7b@v1.0.0 -> forkies__qwen2.5-coder-7b-v1.0.0)."""
    return model_id.replace("/", "__").replace("@", "-")
