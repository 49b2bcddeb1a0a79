"""Loading installed packs: import their entry points, register their agents, expose their skills."""
from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from conductor.agents.registry import AgentRegistry
from conductor.packs.manifest import ManifestError, PackManifest, load_manifest
from conductor.packs.resolver import Catalog, install_order, resolve

log = logging.getLogger(__name__)


class PackLoadError(Exception):
    pass


@dataclass
class LoadedPack:
    manifest: PackManifest
    skills: dict[str, Callable[..., Any]] = field(default_factory=dict)
    agent_kinds: list[str] = field(default_factory=list)


def _import_target(target: str, search_path: Path | None) -> Any:
    module_name, attr = target.split(":", 1)
    if search_path is not None and str(search_path) not in sys.path:
        sys.path.insert(0, str(search_path))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PackLoadError(f"cannot import {module_name}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PackLoadError(f"{module_name} has no attribute {attr!r}") from None


class PackManager:
    """Finds packs in a folder (one sub-folder per pack version), resolves requests and loads them."""

    def __init__(self, pack_dir: Path, registry: AgentRegistry, granted: set[str] | None = None):
        self.pack_dir = pack_dir
        self.registry = registry
        self.granted = granted if granted is not None else {"network", "filesystem.read"}
        self.loaded: dict[str, LoadedPack] = {}

    def catalog(self) -> Catalog:
        catalog = Catalog()
        if not self.pack_dir.is_dir():
            return catalog
        for child in sorted(self.pack_dir.iterdir()):
            if not child.is_dir():
                continue
            try:
                catalog.add(load_manifest(child))
            except ManifestError as exc:
                log.warning("skipping pack folder %s: %s", child.name, exc)
        return catalog

    def install(self, requested: dict[str, str]) -> list[LoadedPack]:
        """Resolve `requested` (name -> constraint) and load every pack of the solution, dependencies first."""
        order = install_order(resolve(self.catalog(), requested))
        out = []
        for manifest in order:
            if manifest.name in self.loaded:
                if self.loaded[manifest.name].manifest.version != manifest.version:
                    raise PackLoadError(f"{manifest.name} {self.loaded[manifest.name].manifest.version} is loaded; "
                                        f"unload it before switching to {manifest.version}")
                continue
            out.append(self._load(manifest))
        return out

    def _load(self, manifest: PackManifest) -> LoadedPack:
        missing = sorted(set(manifest.permissions) - self.granted)
        if missing:
            raise PackLoadError(f"{manifest.key} needs permissions that were not granted: {', '.join(missing)}")
        pack = LoadedPack(manifest)
        for skill, target in manifest.skills.items():
            pack.skills[f"{manifest.name}.{skill}"] = _import_target(target, manifest.root)
        for kind, target in manifest.agents.items():
            self.registry.register(kind, _import_target(target, manifest.root), origin=manifest.name)
            pack.agent_kinds.append(kind)
        self.loaded[manifest.name] = pack
        log.info("loaded pack %s (%d skills, %d agents)", manifest.key, len(pack.skills), len(pack.agent_kinds))
        return pack

    def unload(self, name: str) -> None:
        dependents = [p.manifest.name for p in self.loaded.values() if name in p.manifest.requires]
        if dependents:
            raise PackLoadError(f"cannot unload {name}: needed by {', '.join(sorted(dependents))}")
        if self.loaded.pop(name, None) is None:
            raise PackLoadError(f"pack {name} is not loaded")
        self.registry.unregister_origin(name)

    def skills(self) -> dict[str, Callable[..., Any]]:
        merged: dict[str, Callable[..., Any]] = {}
        for pack in self.loaded.values():
            merged.update(pack.skills)
        return merged
