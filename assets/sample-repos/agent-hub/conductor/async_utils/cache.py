"""An async TTL cache with single-flight loading: concurrent misses for one key share one load."""
from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    expires: float


class AsyncTTLCache(Generic[V]):
    """Values expire `ttl` seconds after they were loaded; the least recently used go first beyond `max_size`."""

    def __init__(self, ttl: float = 60.0, max_size: int = 1024, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._loading: dict[Hashable, asyncio.Future] = {}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.value

    def put(self, key: Hashable, value: V) -> None:
        self._entries[key] = _Entry(value, self._clock() + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def invalidate(self, key: Hashable) -> bool:
        return self._entries.pop(key, None) is not None

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or the result of one `load()` shared by every caller waiting for this key."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self._clock():
            self.hits += 1
            self._entries.move_to_end(key)
            return entry.value
        self.misses += 1
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value
        finally:
            self._loading.pop(key, None)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def cached(ttl: float = 60.0, max_size: int = 1024):
    """Decorator: cache a coroutine function's results by its positional and keyword arguments."""
    def wrap(fn: Callable[..., Awaitable[V]]) -> Callable[..., Awaitable[V]]:
        cache: AsyncTTLCache[V] = AsyncTTLCache(ttl, max_size)

        @functools.wraps(fn)
        async def inner(*args: Any, **kwargs: Any) -> V:
            key = (args, tuple(sorted(kwargs.items())))
            return await cache.get(key, lambda: fn(*args, **kwargs))

        inner.cache = cache  # type: ignore[attr-defined]
        return inner
    return wrap
