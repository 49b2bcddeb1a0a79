"""Pack manifests (``pack.json``): what a pack provides, what it needs, and where its code lives."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor.packs.version import Constraint, Version

NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
ENTRYPOINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ManifestError(ValueError):
    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PackManifest:
    name: str
    version: Version
    description: str = ""
    requires: dict[str, Constraint] = field(default_factory=dict)
    skills: dict[str, str] = field(default_factory=dict)       # skill name -> "module:function"
    agents: dict[str, str] = field(default_factory=dict)       # agent kind -> "module:Class"
    permissions: tuple[str, ...] = ()
    root: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


KNOWN_PERMISSIONS = {"network", "filesystem.read", "filesystem.write", "subprocess", "secrets.read"}


def parse_manifest(data: dict[str, Any], source: str = "pack.json", root: Path | None = None) -> PackManifest:
    """Validate a manifest dict; every problem is reported at once, not only the first."""
    problems: list[str] = []
    name = data.get("name", "")
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"name {name!r} must be lowercase letters, digits and dashes")
    try:
        version = Version.parse(str(data.get("version", "")))
    except ValueError as exc:
        problems.append(str(exc))
        version = Version(0, 0, 0)
    requires: dict[str, Constraint] = {}
    for dep, spec in (data.get("requires") or {}).items():
        try:
            requires[dep] = Constraint.parse(str(spec))
        except ValueError as exc:
            problems.append(f"requires.{dep}: {exc}")
    if name in requires:
        problems.append("a pack cannot require itself")
    skills = dict(data.get("skills") or {})
    agents = dict(data.get("agents") or {})
    for section, entries in (("skills", skills), ("agents", agents)):
        for key, target in entries.items():
            if not isinstance(target, str) or not ENTRYPOINT.match(target):
                problems.append(f"{section}.{key}: {target!r} is not 'module:attribute'")
    permissions = tuple(data.get("permissions") or ())
    unknown = sorted(set(permissions) - KNOWN_PERMISSIONS)
    if unknown:
        problems.append(f"unknown permissions: {', '.join(unknown)}")
    if not skills and not agents:
        problems.append("a pack must provide at least one skill or agent")
    if problems:
        raise ManifestError(source, problems)
    return PackManifest(name=name, version=version, description=str(data.get("description", "")),
                        requires=requires, skills=skills, agents=agents, permissions=permissions, root=root)


def load_manifest(pack_dir: Path) -> PackManifest:
    path = pack_dir / "pack.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(str(path), ["missing pack.json"]) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(str(path), [f"invalid JSON at line {exc.lineno}: {exc.msg}"]) from None
    if not isinstance(data, dict):
        raise ManifestError(str(path), ["the manifest must be a JSON object"])
    return parse_manifest(data, str(path), root=pack_dir)
