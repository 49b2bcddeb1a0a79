"""Helpers for driving the studio with Textual's Pilot."""
from __future__ import annotations

import asyncio
import time


async def settle(pilot, rounds: int = 2) -> None:
    """Let workers finish and their messages be handled."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)
        await pilot.pause()


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]
