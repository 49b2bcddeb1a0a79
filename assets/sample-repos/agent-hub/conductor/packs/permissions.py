"""What an installed pack may do: permission grants per pack, checked when its skills run, with an audit trail.

A pack declares the permissions it needs in pack.json; the operator grants them (all, some, or none). A skill
that reaches for a permission its pack was not granted is stopped before it runs, and the denial is recorded.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from conductor.packs.manifest import KNOWN_PERMISSIONS, PackManifest


class PermissionDenied(Exception):
    def __init__(self, pack: str, permission: str):
        super().__init__(f"pack {pack!r} was not granted {permission!r}")
        self.pack = pack
        self.permission = permission


@dataclass(frozen=True)
class AuditEntry:
    pack: str
    permission: str
    allowed: bool
    skill: str
    at: float = field(default_factory=time.time)


class PermissionBroker:
    """Grants per pack, and the log of every check made against them."""

    def __init__(self, *, audit_size: int = 10_000):
        self._grants: dict[str, frozenset[str]] = {}
        self._audit: list[AuditEntry] = []
        self._audit_size = audit_size

    def grant(self, manifest: PackManifest, permissions: set[str] | None = None) -> frozenset[str]:
        """Grant a pack what it asks for (or the given subset of it); unknown or unrequested ones are refused."""
        wanted = set(manifest.permissions) if permissions is None else set(permissions)
        unknown = wanted - KNOWN_PERMISSIONS
        if unknown:
            raise ValueError(f"unknown permissions: {', '.join(sorted(unknown))}")
        extra = wanted - set(manifest.permissions)
        if extra:
            raise ValueError(f"{manifest.name} does not ask for {', '.join(sorted(extra))}")
        granted = frozenset(wanted)
        self._grants[manifest.name] = granted
        return granted

    def revoke(self, pack: str, permission: str | None = None) -> None:
        if permission is None:
            self._grants.pop(pack, None)
        else:
            self._grants[pack] = self._grants.get(pack, frozenset()) - {permission}

    def granted(self, pack: str) -> frozenset[str]:
        return self._grants.get(pack, frozenset())

    def check(self, pack: str, permission: str, skill: str = "") -> None:
        allowed = permission in self.granted(pack)
        self._record(AuditEntry(pack, permission, allowed, skill))
        if not allowed:
            raise PermissionDenied(pack, permission)

    def _record(self, entry: AuditEntry) -> None:
        self._audit.append(entry)
        if len(self._audit) > self._audit_size:
            del self._audit[: len(self._audit) - self._audit_size]

    def denials(self, pack: str | None = None) -> list[AuditEntry]:
        return [e for e in self._audit if not e.allowed and (pack is None or e.pack == pack)]

    def audit(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [{"pack": e.pack, "permission": e.permission, "allowed": e.allowed, "skill": e.skill, "at": e.at}
                for e in self._audit if e.at >= since]


def requires(broker: PermissionBroker, pack: str, *permissions: str):
    """Decorator for a pack's skill: check each permission before every call."""
    def wrap(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def inner(*args: Any, **kwargs: Any) -> Any:
            for permission in permissions:
                broker.check(pack, permission, skill=fn.__name__)
            return await fn(*args, **kwargs)
        return inner
    return wrap


def summarize_grants(broker: PermissionBroker, manifests: list[PackManifest]) -> list[dict[str, Any]]:
    """Per pack: what it asked for, what it got, and what it was refused, for the console's pack table."""
    rows = []
    for manifest in sorted(manifests, key=lambda m: m.name):
        asked = set(manifest.permissions)
        got = broker.granted(manifest.name)
        rows.append({"pack": manifest.name, "asked": sorted(asked), "granted": sorted(got),
                     "withheld": sorted(asked - got), "denials": len(broker.denials(manifest.name))})
    return rows
