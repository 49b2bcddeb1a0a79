"""Finding packs in the catalog: by name, by the skills and agent kinds they provide, ranked for the console's
install dialog."""
from __future__ import annotations

from dataclasses import dataclass

from conductor.packs.manifest import PackManifest
from conductor.packs.resolver import Catalog
from conductor.packs.version import Version


@dataclass(frozen=True)
class PackHit:
    name: str
    version: Version
    score: float
    matched: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "version": str(self.version), "score": round(self.score, 3),
                "matched": list(self.matched)}


def _terms(query: str) -> list[str]:
    return [t for t in query.lower().replace("-", " ").replace("_", " ").split() if t]


def pack_score(manifest: PackManifest, terms: list[str]) -> tuple[float, tuple[str, ...]]:
    """Name matches weigh most, then skills and agent kinds, then the description."""
    score, matched = 0.0, []
    name = manifest.name.lower()
    provided = [s.lower() for s in manifest.skills] + [a.lower() for a in manifest.agents]
    description = manifest.description.lower()
    for term in terms:
        if term == name:
            score += 5.0
            matched.append(f"name:{term}")
        elif term in name:
            score += 3.0
            matched.append(f"name~{term}")
        hits = [p for p in provided if term in p]
        if hits:
            score += 2.0 * len(hits)
            matched.extend(f"provides:{h}" for h in hits)
        if term in description:
            score += 0.5
            matched.append(f"description:{term}")
    return score, tuple(matched)


def latest_manifests(catalog: Catalog, names: list[str]) -> list[PackManifest]:
    out = []
    for name in names:
        versions = catalog.versions(name)
        if versions:
            out.append(catalog.get(name, max(versions)))
    return out


def search_packs(catalog: Catalog, query: str, names: list[str], limit: int = 20) -> list[PackHit]:
    """The latest version of each pack that matches the query, best first (ties by name)."""
    terms = _terms(query)
    if not terms:
        return []
    hits = []
    for manifest in latest_manifests(catalog, names):
        score, matched = pack_score(manifest, terms)
        if score > 0:
            hits.append(PackHit(manifest.name, manifest.version, score, matched))
    hits.sort(key=lambda h: (-h.score, h.name))
    return hits[:limit]


def providers_of(catalog: Catalog, names: list[str], skill: str) -> list[str]:
    """Packs whose latest version provides a skill of exactly this name."""
    return sorted(m.name for m in latest_manifests(catalog, names) if skill in m.skills)
