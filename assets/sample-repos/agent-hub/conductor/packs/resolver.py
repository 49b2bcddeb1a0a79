"""Resolve a set of requested packs to concrete versions, then order them so dependencies install first.

Backtracking search: packs are decided newest-first, and a conflict undoes the latest decision that caused
it. Small catalogs (hundreds of packs) resolve in milliseconds; this is not a SAT solver and does not try to be.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from conductor.packs.manifest import PackManifest
from conductor.packs.version import Constraint, Version


class ResolutionError(Exception):
    pass


@dataclass(frozen=True)
class Requirement:
    name: str
    constraint: Constraint
    wanted_by: str

    def __str__(self) -> str:
        return f"{self.name} {self.constraint} (wanted by {self.wanted_by})"


class Catalog:
    """All known versions of all packs (what a pack index or a local folder offers)."""

    def __init__(self, manifests: Iterable[PackManifest] = ()):
        self._packs: dict[str, dict[Version, PackManifest]] = {}
        for manifest in manifests:
            self.add(manifest)

    def add(self, manifest: PackManifest) -> None:
        self._packs.setdefault(manifest.name, {})[manifest.version] = manifest

    def versions(self, name: str) -> list[Version]:
        return sorted(self._packs.get(name, {}), reverse=True)

    def get(self, name: str, version: Version) -> PackManifest:
        return self._packs[name][version]


def resolve(catalog: Catalog, requested: Mapping[str, str]) -> dict[str, PackManifest]:
    """Pick one version per pack so that every requirement holds; raises ResolutionError otherwise."""
    roots = [Requirement(name, Constraint.parse(spec), "you") for name, spec in requested.items()]
    solution = _search(catalog, {}, roots)
    if solution is None:
        raise ResolutionError(_explain(catalog, roots))
    return solution


def _search(catalog: Catalog, chosen: dict[str, PackManifest],
            pending: list[Requirement]) -> dict[str, PackManifest] | None:
    if not pending:
        return chosen
    req, rest = pending[0], pending[1:]
    if req.name in chosen:
        if req.constraint.satisfied_by(chosen[req.name].version):
            return _search(catalog, chosen, rest)
        return None
    for version in catalog.versions(req.name):
        if not req.constraint.satisfied_by(version):
            continue
        manifest = catalog.get(req.name, version)
        deps = [Requirement(dep, c, manifest.key) for dep, c in manifest.requires.items()]
        found = _search(catalog, {**chosen, req.name: manifest}, rest + deps)
        if found is not None:
            return found
    return None


def _explain(catalog: Catalog, roots: list[Requirement]) -> str:
    for req in roots:
        if not catalog.versions(req.name):
            return f"no pack named {req.name!r} in the catalog"
        if not any(req.constraint.satisfied_by(v) for v in catalog.versions(req.name)):
            have = ", ".join(str(v) for v in catalog.versions(req.name))
            return f"no version of {req.name} matches {req.constraint} (available: {have})"
    return "the requested packs have conflicting dependencies: " + ", ".join(str(r) for r in roots)


def install_order(solution: Mapping[str, PackManifest]) -> list[PackManifest]:
    """Dependencies before dependents (Kahn's algorithm); ties broken by name for a stable order."""
    remaining = {name: set(m.requires) & set(solution) for name, m in solution.items()}
    order: list[PackManifest] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            cycle = " -> ".join(sorted(remaining))
            raise ResolutionError(f"dependency cycle among: {cycle}")
        for name in ready:
            order.append(solution[name])
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order
