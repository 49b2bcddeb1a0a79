"""A GGUF file's scalar metadata (architecture, sizes, context length) read from its header alone.

gguf-py's GGUFReader maps the whole file and builds a numpy view for every element of every array (a 49k-token
vocabulary is ~2 million views: seconds per file), which a server starting up or a pane listing models does not
need. This reads the key-value section with plain buffered reads, steps over arrays without decoding them, and
stops at the tensor infos."""
from __future__ import annotations

import struct
from pathlib import Path

from export.errors import ExportError

# GGUF value types: struct format of the fixed-size ones; 8 is a string, 9 an array
_FIXED = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_KEYS = 1 << 20
_MAX_STRING = 1 << 30


def scalars(path: Path | str) -> dict:
    """{key: value} for every scalar and string key of the header (arrays are left out); ExportError when the file
    is not a GGUF (v2 or v3) or its header is cut short."""
    try:
        with open(path, "rb") as f:
            return _read(f, str(path))
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except struct.error:
        raise ExportError(f"{path}: the GGUF header is cut short") from None


def _read(f, name: str) -> dict:
    def unpack(fmt: str):
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) != size:
            raise struct.error("short read")
        return struct.unpack(fmt, data)[0]

    def string() -> str:
        n = unpack("<Q")
        if n > _MAX_STRING:
            raise ExportError(f"{name}: a header string of {n} bytes: not a GGUF file")
        data = f.read(n)
        if len(data) != n:
            raise struct.error("short read")
        return data.decode("utf-8", "replace")

    def skip_array() -> None:
        kind, count = unpack("<I"), unpack("<Q")
        if kind in _FIXED:
            f.seek(struct.calcsize(_FIXED[kind]) * count, 1)
        elif kind == _STRING:
            for _ in range(count):
                f.seek(unpack("<Q"), 1)
        elif kind == _ARRAY:
            for _ in range(count):
                skip_array()
        else:
            raise ExportError(f"{name}: unknown GGUF array element type {kind}")

    if f.read(4) != b"GGUF":
        raise ExportError(f"{name} is not a GGUF file (no GGUF magic)")
    version = unpack("<I")
    if version not in (2, 3):
        raise ExportError(f"{name}: GGUF version {version} is not supported (2 or 3)")
    unpack("<Q")  # tensor count
    keys = unpack("<Q")
    if keys > _MAX_KEYS:
        raise ExportError(f"{name}: {keys} metadata keys: not a GGUF file")
    out: dict = {}
    for _ in range(keys):
        key, kind = string(), unpack("<I")
        if kind in _FIXED:
            out[key] = unpack(_FIXED[kind])
        elif kind == _STRING:
            out[key] = string()
        elif kind == _ARRAY:
            skip_array()
        else:
            raise ExportError(f"{name}: unknown GGUF value type {kind} for {key!r}")
    return out
