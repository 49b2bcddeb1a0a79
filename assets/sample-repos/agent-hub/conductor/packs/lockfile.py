"""``packs.lock``: the exact pack versions an install resolved to, so every worker installs the same set.

The lock records each pack's version and a hash of its manifest; installing from a lock skips resolution and
refuses a pack whose manifest changed since it was locked.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from conductor.packs.manifest import PackManifest
from conductor.packs.resolver import Catalog, install_order
from conductor.packs.version import Version

LOCK_VERSION = 1


class LockError(Exception):
    pass


def manifest_digest(manifest: PackManifest) -> str:
    """A stable hash of what a manifest declares (not where it lives on disk)."""
    body = {"name": manifest.name, "version": str(manifest.version),
            "requires": {k: str(v) for k, v in sorted(manifest.requires.items())},
            "skills": dict(sorted(manifest.skills.items())), "agents": dict(sorted(manifest.agents.items())),
            "permissions": sorted(manifest.permissions)}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class LockedPack:
    name: str
    version: Version
    digest: str

    def to_dict(self) -> dict:
        return {"version": str(self.version), "digest": self.digest}


@dataclass
class Lockfile:
    packs: dict[str, LockedPack]

    @classmethod
    def from_solution(cls, solution: Mapping[str, PackManifest]) -> "Lockfile":
        return cls({m.name: LockedPack(m.name, m.version, manifest_digest(m)) for m in install_order(solution)})

    def to_json(self) -> str:
        data = {"lock_version": LOCK_VERSION,
                "packs": {name: pack.to_dict() for name, pack in sorted(self.packs.items())}}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "packs.lock") -> "Lockfile":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LockError(f"{source}: invalid JSON at line {exc.lineno}") from None
        if data.get("lock_version") != LOCK_VERSION:
            raise LockError(f"{source}: unsupported lock version {data.get('lock_version')!r}")
        packs = {}
        for name, entry in (data.get("packs") or {}).items():
            try:
                packs[name] = LockedPack(name, Version.parse(entry["version"]), str(entry["digest"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise LockError(f"{source}: bad entry for {name}: {exc}") from None
        return cls(packs)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".lock.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Lockfile":
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))

    def manifests(self, catalog: Catalog) -> list[PackManifest]:
        """The locked manifests from the catalog, verified against their digests."""
        out = []
        for name, locked in self.packs.items():
            try:
                manifest = catalog.get(name, locked.version)
            except KeyError:
                raise LockError(f"{name}@{locked.version} is locked but not in the pack directory") from None
            if manifest_digest(manifest) != locked.digest:
                raise LockError(f"{name}@{locked.version} changed since it was locked; re-lock to accept it")
            out.append(manifest)
        return out

    def diff(self, other: "Lockfile") -> dict[str, tuple[str | None, str | None]]:
        """name -> (version here, version there) for every pack that differs."""
        names = set(self.packs) | set(other.packs)
        out = {}
        for name in sorted(names):
            mine = str(self.packs[name].version) if name in self.packs else None
            theirs = str(other.packs[name].version) if name in other.packs else None
            if mine != theirs:
                out[name] = (mine, theirs)
        return out
