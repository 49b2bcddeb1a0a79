"""How an error reads in the UI: one line, a user error's own words."""
from __future__ import annotations

from app.errors import StudioError


def one_line(exc: BaseException) -> str:
    """The one-line reason shown in a toast: a StudioError's message, else the type and first line."""
    if isinstance(exc, StudioError):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
