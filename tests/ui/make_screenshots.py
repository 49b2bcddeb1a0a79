"""Write docs/screenshots/<pane>.svg with Textual's screenshot action, on the seeded studio workspace.

    .venv/bin/python tests/ui/make_screenshots.py
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent), str(HERE)]

from pilot import settle, settle_pane  # noqa: E402
from studio_seed import FIXED_ROOT, HARDWARE, NOW, build  # noqa: E402

from app.ui.studio import PANES, StudioApp  # noqa: E402
from app.workspace import Workspace  # noqa: E402

OUT = HERE.parent.parent / "docs" / "screenshots"


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    app = StudioApp(Workspace.open(build(FIXED_ROOT)), seed=False, now=NOW, hardware=HARDWARE)
    async with app.run_test(size=(140, 42)) as pilot:
        for n, (key, _, _) in enumerate(PANES, 1):
            await pilot.press(str(n))
            await settle_pane(pilot, key)
            app.save_screenshot(filename=f"{key}.svg", path=str(OUT))
            print(OUT / f"{key}.svg")
        await pilot.press("1", "question_mark")
        await settle(pilot)
        app.save_screenshot(filename="help.svg", path=str(OUT))


if __name__ == "__main__":
    asyncio.run(main())
