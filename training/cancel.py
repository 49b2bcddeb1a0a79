"""The engines' one cancellation type: a user's cancel becomes `Cancelled`, and app/ records the run as cancelled.

Engines take a `threading.Event` and call `check(cancel)` between units of work; app/ maps the type (never the
text of a message) to the run status `cancelled`.
"""
from __future__ import annotations

import threading


class Cancelled(Exception):
    """The cancel event was set; the work stopped between two units and left nothing half-written."""


def check(cancel: threading.Event | None, what: str = "work") -> None:
    """Raise `Cancelled` when the cancel event is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled")
