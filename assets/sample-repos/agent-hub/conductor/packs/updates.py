"""Checking installed packs for updates: which newer versions the catalog offers, whether they stay within the
constraints other packs put on them, and a plan that upgrades in dependency order."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from conductor.packs.manifest import PackManifest
from conductor.packs.resolver import Catalog, ResolutionError, install_order, resolve
from conductor.packs.version import Version


@dataclass(frozen=True)
class Update:
    name: str
    installed: Version
    latest: Version
    compatible: Version | None     # the newest version the other packs' constraints allow
    breaking: bool                 # the latest crosses a major version

    def to_dict(self) -> dict:
        return {"name": self.name, "installed": str(self.installed), "latest": str(self.latest),
                "compatible": str(self.compatible) if self.compatible else None, "breaking": self.breaking}


def constraints_on(name: str, installed: Mapping[str, PackManifest]) -> list:
    """Every constraint another installed pack places on `name`."""
    return [m.requires[name] for m in installed.values() if name in m.requires and m.name != name]


def newest_allowed(catalog: Catalog, name: str, installed: Mapping[str, PackManifest]) -> Version | None:
    allowed = [v for v in catalog.versions(name) if all(c.satisfied_by(v) for c in constraints_on(name, installed))]
    return max(allowed) if allowed else None


def check_updates(catalog: Catalog, installed: Mapping[str, PackManifest]) -> list[Update]:
    """One Update per installed pack that has a newer version in the catalog, sorted by name."""
    updates = []
    for name, manifest in sorted(installed.items()):
        versions = catalog.versions(name)
        if not versions:
            continue
        latest = max(versions)
        if not manifest.version < latest:
            continue
        compatible = newest_allowed(catalog, name, installed)
        if compatible is not None and not manifest.version < compatible:
            compatible = None
        updates.append(Update(name, manifest.version, latest, compatible, latest.major > manifest.version.major))
    return updates


def upgrade_plan(catalog: Catalog, installed: Mapping[str, PackManifest], names: list[str] | None = None,
                 allow_breaking: bool = False) -> list[PackManifest]:
    """The manifests to install, in order, to bring `names` (default: every pack) to their newest usable
    versions; raises ResolutionError when that cannot be done without breaking another pack."""
    wanted: dict[str, str] = {}
    for update in check_updates(catalog, installed):
        if names is not None and update.name not in names:
            continue
        target = update.latest if allow_breaking else update.compatible
        if target is not None:
            wanted[update.name] = f"=={target}"
    if not wanted:
        return []
    requested = {name: f"=={m.version}" for name, m in installed.items() if name not in wanted}
    requested.update(wanted)
    try:
        solution = resolve(catalog, requested)
    except ResolutionError:
        if allow_breaking:
            raise
        raise ResolutionError(f"cannot upgrade {', '.join(sorted(wanted))} without breaking another pack") from None
    return [m for m in install_order(solution) if m.name in wanted]
