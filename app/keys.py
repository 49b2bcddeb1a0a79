"""API keys of the serve endpoint: a key is shown once when created; the store keeps only its sha256 (and the first
characters, to tell keys apart in a list). A revoked key is refused by a running server from its next request on."""
from __future__ import annotations

import hashlib
import re
import secrets

from app.errors import StudioError
from app.workspace import Workspace

KEY_PREFIX = "brs-"
SHOWN_CHARS = len(KEY_PREFIX) + 6
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def hash_key(key: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so a plain sha256 is enough (no salt to guess past)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise StudioError(f"key name {name!r} must be 1-64 lowercase letters, digits, '.', '_' or '-'")
    return name


def create_key(ws: Workspace, name: str) -> dict:
    """A new key for NAME (the key itself is in the result and nowhere else)."""
    check_name(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with ws.store() as store:
        if store.one("SELECT 1 FROM api_keys WHERE name = ? AND revoked IS NULL", [name]):
            raise StudioError(f"a key named {name!r} exists; revoke it first or pick another name")
        created = store.now()
        store.insert("api_keys", {"name": name, "hash": hash_key(key), "prefix": key[:SHOWN_CHARS],
                                  "created": created})
        store.event("key.created", name=name, prefix=key[:SHOWN_CHARS])
    return {"name": name, "key": key, "prefix": key[:SHOWN_CHARS], "created": created}


def list_keys(ws: Workspace) -> dict:
    """Every key (live and revoked), with its last use from the usage records; never a key itself."""
    with ws.store() as store:
        rows = store.query(
            "SELECT k.name, k.prefix, k.created, k.revoked, "
            "(SELECT MAX(r.time) FROM serve_requests r WHERE r.key_name = k.name AND r.time >= k.created) AS last_used "
            "FROM api_keys k ORDER BY k.id")
    return {"keys": rows}


def revoke_key(ws: Workspace, name: str) -> dict:
    check_name(name)
    with ws.store() as store:
        row = store.one("SELECT id FROM api_keys WHERE name = ? AND revoked IS NULL", [name])
        if row is None:
            raise StudioError(f"no live key named {name!r} (see `blackroad-studio keys list`)")
        revoked = store.now()
        store.update("api_keys", "id", row["id"], {"revoked": revoked})
        store.event("key.revoked", name=name)
    return {"name": name, "revoked": revoked}


def live_key_count(store) -> int:
    return store.one("SELECT COUNT(*) AS n FROM api_keys WHERE revoked IS NULL")["n"]


def key_name(store, key: str) -> str | None:
    """The name of a live key, or None (wrong, unknown or revoked)."""
    row = store.one("SELECT name FROM api_keys WHERE hash = ? AND revoked IS NULL", [hash_key(key)])
    return row["name"] if row else None
