"""Late binding to the app-level entry points (docs/CONVENTIONS.md), imported inside workers, never at startup.

Each part of the studio lands its entry point on its own schedule; until one is in the tree the pane that needs it
says so in one line instead of failing."""
from __future__ import annotations

import importlib
from typing import Callable

from app.errors import StudioError


def entry(module: str, function: str) -> Callable:
    """`app.<module>.<function>`, or a StudioError naming the missing part."""
    try:
        mod = importlib.import_module(f"app.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"app.{module}":
            raise StudioError(f"app.{module} is not in this build yet, so {function}() cannot run") from None
        raise
    fn = getattr(mod, function, None)
    if fn is None:
        raise StudioError(f"app.{module} has no {function}() yet")
    return fn


def one_line(exc: BaseException) -> str:
    """The one-line reason shown in a toast: a StudioError's message, else the type and first line."""
    if isinstance(exc, StudioError):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
