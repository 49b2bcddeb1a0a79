"""The keyboard as a newcomer uses it: from every focusable widget of every pane, every pane key (1-8 outside a text
field, alt+1-8 anywhere) and the palette's "Go to X" land on that pane with the focus on the tab bar and no field
changed; Escape leaves a text field, after which 1-8 switch panes again; digits typed in a field go into it."""
from __future__ import annotations

import pytest
from pilot import drain, press_quickly, settle, wait_for
from studio_seed import HARDWARE, NOW
from textual.command import CommandPalette
from textual.widgets import Input, Select, TextArea

from app.ui.studio import PANES, StudioApp, is_text_field

SIZE = (160, 48)


def _app(ws) -> StudioApp:
    return StudioApp(ws, seed=False, now=NOW, hardware=HARDWARE, watch=False)


def field_values(app) -> dict:
    """Every Input, TextArea and Select of every built pane, by id (or position), with its value."""
    out = {}
    for n, widget in enumerate(app.screen.query("Input, TextArea, Select")):
        name = widget.id or f"{type(widget).__name__}#{n}"
        if isinstance(widget, Input):
            out[name] = widget.value
        elif isinstance(widget, TextArea):
            out[name] = widget.text
        elif isinstance(widget, Select):
            out[name] = widget.value
    return out


def label(widget) -> str:
    return f"{type(widget).__name__}(id={widget.id!r})"


async def _visit_all(app, pilot) -> None:
    for n in range(1, len(PANES) + 1):
        await pilot.press(str(n))
        await settle(pilot, 1)
    await settle(pilot)


async def _switch_from(app, pilot, pane: str, widget) -> None:
    """Back on `pane` with `widget` focused (directly, no key press: the keys under test come next)."""
    app.query_one("#panes").active = pane
    app.screen.set_focus(widget)
    await drain(pilot)  # the focus messages (TabPane.Focused) are handled before the key under test
    assert app.focused is widget, f"could not focus {label(widget)} on {pane}: {label(app.focused)}"


@pytest.mark.slow
@pytest.mark.parametrize("number,pane", [(n, key) for n, (key, _, _) in enumerate(PANES, 1)])
async def test_pane_keys_from_every_focusable_widget_never_change_a_field(studio_ws, number, pane):
    """Each focusable widget of the pane gets a bare digit (unless it is a text field) and an alt+digit, the targets
    taking turns so that every pane key is pressed; from the tab bar all 14 keys."""
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await _visit_all(app, pilot)
        before = field_values(app)
        assert len(before) > 15, before  # every pane is built and its fields counted
        app.action_show(pane)
        await drain(pilot)
        widgets = list(app.screen.focus_chain)
        assert app.tab_bar() in widgets and len(widgets) > 3, widgets
        pressed: set[str] = set()
        for turn, widget in enumerate(widgets):
            if widget is app.tab_bar():
                keys = [f"{mod}{n}" for mod in ("", "alt+") for n in range(1, len(PANES) + 1)]
            else:
                keys = [f"alt+{(turn + number) % len(PANES) + 1}"] + (
                    [] if is_text_field(widget) else [str((turn + number + 3) % len(PANES) + 1)])
            for key in keys:
                target = PANES[int(key[-1]) - 1][0]
                await _switch_from(app, pilot, pane, widget)
                await press_quickly(pilot, key)
                where = f"{key} from {label(widget)}"
                assert app.query_one("#panes").active == target, where
                assert app.focused is app.tab_bar(), f"{where}: focus on {label(app.focused)}"
                assert field_values(app) == before, where
                pressed.add(key)
        assert pressed == {f"{mod}{n}" for mod in ("", "alt+") for n in range(1, len(PANES) + 1)}


async def test_escape_leaves_every_text_field_then_digits_switch_panes(studio_ws):
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await _visit_all(app, pilot)
        before = field_values(app)
        fields = 0
        for n, (pane, _, _) in enumerate(PANES, 1):
            app.action_show(pane)
            await pilot.pause()
            for widget in [w for w in app.screen.focus_chain if is_text_field(w)]:
                target = PANES[n % len(PANES)][0]
                await _switch_from(app, pilot, pane, widget)
                await press_quickly(pilot, "escape")
                assert app.focused is app.tab_bar(), f"escape from {label(widget)}: {label(app.focused)}"
                await press_quickly(pilot, str(n % len(PANES) + 1))
                assert app.query_one("#panes").active == target, label(widget)
                assert field_values(app) == before, label(widget)
                fields += 1
        assert fields >= 12  # repos 2, snippets 1, training 6, completion 1, lineage 1, promotion 4


async def test_digits_typed_in_a_field_go_into_it_and_the_footer_says_how_to_leave(studio_ws):
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        epochs = app.query_one("#train-epochs", Input)
        assert epochs.border_title == "epochs" and epochs.value == "1"  # labelled even when filled; CPU-sized
        enabled = {key for key, active in app.screen.active_bindings.items() if active.enabled}
        assert "1" in enabled and "escape" not in enabled  # on the tab bar: the footer offers 1-8
        await _switch_from(app, pilot, "training", epochs)
        enabled = {key for key, active in app.screen.active_bindings.items() if active.enabled}
        assert "escape" in enabled and "1" not in enabled and "alt+1" in enabled, sorted(enabled)
        await pilot.press("end", "5")
        await pilot.pause()
        assert epochs.value == "15" and app.query_one("#panes").active == "training"
        await pilot.press("escape", "5")
        await pilot.pause()
        assert app.query_one("#panes").active == "lineage" and epochs.value == "15"


@pytest.mark.slow
async def test_palette_go_to_from_each_kind_of_widget(studio_ws):
    """From the tab bar, a text field and another widget of each pane the palette goes to a pane, the targets taking
    turns: every "Go to" command is used, from fields and from the rest."""
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await _visit_all(app, pilot)
        before = field_values(app)
        used: set[str] = set()
        turn = 0
        for pane, _, _ in PANES:
            app.action_show(pane)
            await pilot.pause()
            chain = list(app.screen.focus_chain)
            fields = [w for w in chain if is_text_field(w)]
            others = [w for w in chain if not is_text_field(w) and w is not app.tab_bar()]
            for widget in [app.tab_bar(), *fields[:1], *others[:1]]:
                target, name, _ = PANES[turn % len(PANES)]
                turn += 1
                await _switch_from(app, pilot, pane, widget)
                await pilot.press("ctrl+p")
                await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 10, "the palette")
                await pilot.press(*f"go to {name}")
                palette = app.screen
                await wait_for(pilot, lambda: palette.query_one("CommandList").option_count > 0, 10, "matches")
                await pilot.pause(0.05)
                await pilot.press("down", "enter")
                await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette), 10, "the palette to close")
                await pilot.pause()
                where = f"Go to {name} from {label(widget)} on {pane}"
                assert app.query_one("#panes").active == target, where
                assert app.focused is app.tab_bar(), f"{where}: focus on {label(app.focused)}"
                assert field_values(app) == before, where
                used.add(target)
        assert used == {key for key, _, _ in PANES}
