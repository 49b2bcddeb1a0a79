"""A namespaced key-value store for agent state: values are JSON, keys are strings, and every write bumps a
version so two agents updating the same key notice each other (compare-and-set)."""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class ConflictError(Exception):
    def __init__(self, key: str, expected: int, actual: int):
        super().__init__(f"{key}: expected version {expected}, found {actual}")
        self.key, self.expected, self.actual = key, expected, actual


@dataclass(frozen=True)
class Item:
    key: str
    value: Any
    version: int
    updated: float


class Backend(Protocol):
    def load(self) -> dict[str, Item]: ...
    def save(self, items: dict[str, Item]) -> None: ...


class MemoryBackend:
    def __init__(self) -> None:
        self._items: dict[str, Item] = {}

    def load(self) -> dict[str, Item]:
        return dict(self._items)

    def save(self, items: dict[str, Item]) -> None:
        self._items = dict(items)


class JsonFileBackend:
    """The whole store in one JSON file, rewritten atomically; fine for the few hundred keys agents keep."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, Item]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text(encoding="utf-8"))
        return {k: Item(k, v["value"], int(v["version"]), float(v["updated"])) for k, v in raw.items()}

    def save(self, items: dict[str, Item]) -> None:
        data = {k: {"value": i.value, "version": i.version, "updated": i.updated} for k, i in sorted(items.items())}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def _check_key(key: str) -> None:
    if not key or len(key) > 256 or key.startswith("/") or "\x00" in key:
        raise ValueError(f"invalid key {key!r}")


class KeyValueStore:
    """One store, many namespaces (one per agent): ``store.namespace("planner").put("goal", ...)``."""

    def __init__(self, backend: Backend | None = None):
        self.backend = backend or MemoryBackend()
        self._items = self.backend.load()
        self._lock = asyncio.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        item = self._items.get(key)
        return default if item is None else item.value

    def item(self, key: str) -> Item | None:
        return self._items.get(key)

    async def put(self, key: str, value: Any, *, expected_version: int | None = None) -> Item:
        """Write a value; with `expected_version`, only if nobody wrote the key since that version."""
        _check_key(key)
        json.dumps(value)  # refuse what cannot be stored before touching anything
        async with self._lock:
            current = self._items.get(key)
            version = current.version if current else 0
            if expected_version is not None and expected_version != version:
                raise ConflictError(key, expected_version, version)
            item = Item(key, value, version + 1, time.time())
            self._items[key] = item
            self.backend.save(self._items)
            return item

    async def delete(self, key: str) -> bool:
        async with self._lock:
            if self._items.pop(key, None) is None:
                return False
            self.backend.save(self._items)
            return True

    async def update(self, key: str, fn, default: Any = None, attempts: int = 5) -> Item:
        """Read-modify-write with compare-and-set, retried when another writer got there first."""
        for _ in range(attempts):
            current = self._items.get(key)
            value = fn(current.value if current else default)
            try:
                return await self.put(key, value, expected_version=current.version if current else 0)
            except ConflictError:
                continue
        raise ConflictError(key, -1, self._items[key].version)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._items if k.startswith(prefix))

    def namespace(self, name: str) -> "Namespace":
        return Namespace(self, name)


class Namespace:
    def __init__(self, store: KeyValueStore, name: str):
        self.store, self.prefix = store, f"{name}/"

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(self.prefix + key, default)

    async def put(self, key: str, value: Any, **kwargs: Any) -> Item:
        return await self.store.put(self.prefix + key, value, **kwargs)

    async def delete(self, key: str) -> bool:
        return await self.store.delete(self.prefix + key)

    def keys(self) -> list[str]:
        return [k[len(self.prefix):] for k in self.store.keys(self.prefix)]
