"""Helpers for driving the studio with Textual's Pilot."""
from __future__ import annotations

import asyncio
import time


async def settle(pilot, rounds: int = 2, timeout: float = 30.0) -> None:
    """Wait until the workspace is ready (it is opened after the first paint), then let workers finish and their
    messages be handled."""
    app = pilot.app
    if getattr(app, "load", False) and not app.ready:
        await wait_for(pilot, lambda: app.ready, timeout, "the workspace to be ready")
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()  # the tab underline slides when the pane changes


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)
        await pilot.pause()


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def press_quickly(pilot, *keys: str) -> None:
    """Press keys like Pilot.press, then wait until every widget has handled what they caused; without Pilot's
    waits for the CPU to go idle (up to a second each, twice a key, on a busy machine)."""
    from textual import events

    app = pilot.app
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)
        await drain(pilot)


async def drain(pilot, rounds: int = 3) -> None:
    """Until the messages posted while handling messages are handled too (a few rounds)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
        await pilot._wait_for_screen()


async def settle_pane(pilot, key: str) -> None:
    """settle, and on the Training pane until its memory check has answered (it starts after a short pause)."""
    await settle(pilot)
    if key == "training":
        form = pilot.app.query_one("#train-form")
        await wait_for(pilot, lambda: form.gpu is not None and form.estimated, 120, "the memory check")
        await settle(pilot)
