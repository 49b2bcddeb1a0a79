"""Model names that serving understands: exact ids, stage aliases and capabilities.

`internal/NAME` and `production/NAME` (no version) resolve to that name's newest version; a capability name (such
as `code-generation`) resolves through the capability map, whose target is itself an id or an alias. The map lives
in the lineage store and each change appends an event."""
from __future__ import annotations

import re

from app import ids
from app.errors import StudioError
from app.store import Store
from app.workspace import Workspace

CAPABILITY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ALIAS = re.compile(r"^(internal|production)/([a-z0-9][a-z0-9._-]*)$")


def _version_key(model_id: str) -> tuple[int, ...]:
    version = ids.parse(model_id)["version"] or "0"
    return tuple(int(p) for p in version.split("."))


def newest(store: Store, stage: str, name: str) -> str | None:
    """The newest version of internal/NAME or production/NAME, or None."""
    rows = store.query("SELECT id FROM models WHERE stage = ? AND name = ?", [stage, name])
    return max((r["id"] for r in rows), key=_version_key, default=None)


def aliases_of(store: Store, model_id: str) -> list[str]:
    """The stage alias that resolves to this model (it is its name's newest version), if any."""
    m = store.model(model_id)
    if m is None or m["stage"] not in ("internal", "production"):
        return []
    alias = f"{m['stage']}/{m['name']}"
    return [alias] if newest(store, m["stage"], m["name"]) == model_id else []


def resolve(store: Store, name: str, *, through_routes: bool = True) -> str | None:
    """The exact model id a name means (an id, a stage alias, or a capability), or None when it means nothing."""
    if store.model(name) is not None:
        return name
    m = ALIAS.match(name)
    if m:
        return newest(store, m.group(1), m.group(2))
    if through_routes and CAPABILITY.match(name):
        row = store.one("SELECT target FROM routes WHERE capability = ?", [name])
        if row is not None:
            return resolve(store, row["target"], through_routes=False)
    return None


def routes(store: Store) -> list[dict]:
    rows = store.query("SELECT capability, target, split, updated FROM routes ORDER BY capability")
    for row in rows:
        row["resolves_to"] = resolve(store, row["target"], through_routes=False)
    return rows


def set_route(ws: Workspace, capability: str, target: str) -> dict:
    """Point CAPABILITY at a model id or stage alias (which must mean a model of this workspace)."""
    if not CAPABILITY.match(capability or ""):
        raise StudioError(f"capability {capability!r} must be 1-64 lowercase letters, digits, '.', '_' or '-' "
                          "(no '/': ids and aliases have one)")
    with ws.store() as store:
        resolved = resolve(store, target, through_routes=False)
        if resolved is None:
            raise StudioError(f"{target!r} is neither a model id nor an alias (internal/NAME, production/NAME) "
                              "of this workspace")
        previous = store.one("SELECT target FROM routes WHERE capability = ?", [capability])
        with store.conn:
            store.conn.execute("INSERT INTO routes (capability, target, updated) VALUES (?, ?, ?) "
                               "ON CONFLICT(capability) DO UPDATE SET target = excluded.target, "
                               "updated = excluded.updated", [capability, target, store.now()])
        store.event("route.set", model_id=resolved, capability=capability, target=target,
                    previous=previous["target"] if previous else None)
        return {"capability": capability, "target": target, "resolves_to": resolved, "routes": routes(store)}


def remove_route(ws: Workspace, capability: str) -> dict:
    with ws.store() as store:
        row = store.one("SELECT target FROM routes WHERE capability = ?", [capability])
        if row is None:
            raise StudioError(f"no route for {capability!r} (see `blackroad-studio route list`)")
        with store.conn:
            store.conn.execute("DELETE FROM routes WHERE capability = ?", [capability])
        store.event("route.removed", capability=capability, target=row["target"])
        return {"capability": capability, "removed": row["target"], "routes": routes(store)}


def list_routes(ws: Workspace) -> dict:
    with ws.store() as store:
        return {"routes": routes(store)}
