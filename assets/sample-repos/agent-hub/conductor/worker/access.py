"""Who may call the worker: bearer tokens mapped to roles, checked per route. Tokens are compared by their
SHA-256 digest in constant time; only digests are ever kept in memory or configuration."""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Iterable

ROLES = ("viewer", "operator", "admin")
ROUTE_ROLES = {
    ("GET", "/agents"): "viewer", ("GET", "/jobs"): "viewer", ("GET", "/events"): "viewer",
    ("POST", "/agents"): "operator", ("DELETE", "/agents"): "operator", ("POST", "/jobs"): "operator",
    ("POST", "/messages"): "operator", ("POST", "/packs"): "admin",
}


class AccessDenied(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    name: str
    token_digest: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    def allows(self, needed: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)


def parse_grants(spec: str) -> list[Grant]:
    """``name:role:sha256hex`` entries separated by commas (AGENT_HUB_GRANTS); digests, never tokens."""
    grants = []
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        parts = entry.split(":")
        if len(parts) != 3 or len(parts[2]) != 64:
            raise ValueError(f"grant {entry.split(':')[0]!r} must be name:role:sha256")
        grants.append(Grant(parts[0], parts[2].lower(), parts[1]))
    return grants


def grants_from_env(var: str = "AGENT_HUB_GRANTS") -> list[Grant]:
    return parse_grants(os.environ.get(var, ""))


class AccessControl:
    def __init__(self, grants: Iterable[Grant], *, open_reads: bool = False):
        self.grants = list(grants)
        self.open_reads = open_reads

    def identify(self, authorization: str | None) -> Grant | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = digest(authorization[len("Bearer "):].strip())
        for grant in self.grants:
            if hmac.compare_digest(presented, grant.token_digest):
                return grant
        return None

    def required_role(self, method: str, path: str) -> str:
        prefix = "/" + path.strip("/").split("/", 1)[0]
        return ROUTE_ROLES.get((method.upper(), prefix), "admin")

    def check(self, method: str, path: str, authorization: str | None) -> Grant | None:
        """The caller's grant, or AccessDenied (401 without a valid token, 403 with too small a role)."""
        needed = self.required_role(method, path)
        grant = self.identify(authorization)
        if grant is None:
            if self.open_reads and needed == "viewer":
                return None
            raise AccessDenied(401, "a valid bearer token is required")
        if not grant.allows(needed):
            raise AccessDenied(403, f"{grant.name} is a {grant.role}; this needs {needed}")
        return grant
