"""Cursor pagination for the worker's list endpoints: opaque cursors that encode the last item's sort key, so
pages stay stable while agents and jobs come and go."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
MAX_LIMIT = 500


class CursorError(ValueError):
    pass


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorError("malformed cursor") from None
    if not isinstance(key, list):
        raise CursorError("malformed cursor")
    return key


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int

    def to_dict(self, render: Callable[[T], Any] = lambda x: x) -> dict[str, Any]:
        return {"items": [render(i) for i in self.items], "next": self.next_cursor, "total": self.total}


def clamp_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if limit < 1:
        raise CursorError("limit must be at least 1")
    return min(limit, MAX_LIMIT)


def paginate(items: Sequence[T], key: Callable[[T], Sequence[Any]], cursor: str | None = None,
             limit: int | None = None) -> Page[T]:
    """The page after `cursor` of the items sorted by `key` (which must be unique per item, e.g. (time, id))."""
    size = clamp_limit(limit)
    ordered = sorted(items, key=lambda i: list(key(i)))
    if cursor:
        after = decode_cursor(cursor)
        ordered = [i for i in ordered if list(key(i)) > after]
    page = ordered[:size]
    more = len(ordered) > size
    return Page(page, encode_cursor(key(page[-1])) if more and page else None, len(items))
