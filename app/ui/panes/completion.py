"""Completion: an editor where the model's fill-in-the-middle suggestion appears when you pause; Tab accepts it.

The fine-tuned model's suggestion streams into the editor as ghost text, token by token; the base model's streams
beside it, each with its first-token and total milliseconds. Requests run in a thread worker; editing the text
stops the generation in flight, and anything that still arrives for an older text is dropped."""
from __future__ import annotations

import threading
import time

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, Select, Static, TextArea

from app.ui.code import ensure_language
from app.errors import one_line
from app.ui.messages import CompletionReceived, SuggestionStreamed
from app import views
from app.ui.panes.base import Pane, fmt, progress_text

PAUSE_S = 0.6
SIDES = ("tuned", "base")
STARTER = '''def fibonacci(n: int) -> list[int]:
    """The first n Fibonacci numbers."""
    '''


def ghost(text: str) -> str:
    """What the editor draws of a suggestion: TextArea draws ghost text on the cursor's line only, where a newline
    would spill over the gutter, so a multi-line suggestion shows its first line and how many follow."""
    first, _, rest = text.partition("\n")
    more = rest.count("\n") + 1 if rest else 0
    return first + (f"  ⏎ +{more} line{'s' if more > 1 else ''} (Tab)" if more else "")


class SuggestingEditor(TextArea):
    """A TextArea whose ghost-text suggestion is accepted with Tab or Right (and dismissed with Escape); `offer`
    sets it, the whole text is inserted even when only its first line is drawn."""

    full_suggestion = ""

    def offer(self, text: str) -> None:
        self.full_suggestion = text
        self.suggestion = ghost(text)

    def accept(self) -> None:
        text = self.full_suggestion or self.suggestion
        self.suggestion = self.full_suggestion = ""
        self.insert(text)

    def edit(self, edit):
        full, shown = self.full_suggestion, self.suggestion
        result = super().edit(edit)
        if shown and self.suggestion and full.startswith(edit.text):  # typed what was suggested: keep the rest
            self.offer(full[len(edit.text):])
        elif not self.suggestion:
            self.full_suggestion = ""
        return result

    def action_cursor_right(self, select: bool = False) -> None:
        if self.suggestion and not select:
            self.accept()
            return
        super().action_cursor_right(select)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "tab" and self.suggestion:
            event.stop()
            event.prevent_default()
            self.accept()
            return
        if event.key == "escape":  # the first dismisses the suggestion, the next leaves the editor for the tab bar
            event.stop()
            event.prevent_default()  # TextArea's own Escape moves the focus to the next widget instead
            if self.suggestion:
                self.suggestion = self.full_suggestion = ""
            else:
                self.app.action_leave_field()
            return
        await super()._on_key(event)


class CompletionPane(Pane):
    title = "Completion"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_no = 0
        self._timer: Timer | None = None
        self._cancel: threading.Event | None = None  # stops the generation of the request in flight
        self.streamed: dict[str, str] = {}  # side -> the text streamed so far for the current request
        self.ready: dict[str, dict] = {}  # fine-tuned model -> app.actions.readiness
        self.exporting: str | None = None  # the model being merged and exported
        self.waiting: dict[str, float] = {}  # side -> when its request started (shown as seconds while it thinks)
        self.loaded: set[str] = set()  # sides that answered once (their model is loaded)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([], prompt="fine-tuned model", id="cmp-tuned")
            yield Select([], prompt="base model", id="cmp-base")
            yield Button("Suggest now", id="cmp-suggest")
        with Horizontal(id="cmp-needs", classes="form"):  # shown when the fine-tuned model has no GGUF yet
            yield Static("", id="cmp-needs-text", classes="status")
            yield Button("Merge and export", id="cmp-export", variant="success",
                         tooltip="merge the adapter into the base, export a Q8_0 GGUF (parity-checked), then suggest")
        yield Static("type and pause: the suggestion appears as grey text · Tab accepts · Esc dismisses",
                     classes="intro")
        editor = SuggestingEditor(STARTER, id="cmp-editor", tab_behavior="indent", show_line_numbers=True)
        editor.hide_suggestion_on_blur = False
        yield editor
        with Horizontal(id="cmp-sides"):
            for side, label in (("tuned", "fine-tuned"), ("base", "base")):
                with Vertical(classes="side"):
                    yield Static(f"{label}: no suggestion yet", id=f"cmp-{side}-head", classes="caption")
                    yield TextArea("", id=f"cmp-{side}-text", read_only=True)

    def on_mount(self) -> None:
        editor = self.query_one("#cmp-editor", SuggestingEditor)
        editor.language = ensure_language(editor, "python")
        editor.move_cursor(editor.document.end)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """While a side waits for its first piece, its head counts the seconds (the first request loads the model)."""
        models = self.models()
        for side, since in self.waiting.items():
            if side in models:
                self.query_one(f"#cmp-{side}-head", Static).update(
                    f"{self._label(side, models[side])} · thinking… {time.monotonic() - since:.0f} s"
                    + (" (loading the model)" if side not in self.loaded else ""))

    def load(self, store) -> dict:
        from app.actions import readiness

        tuned = [m["id"] for m in views.offered_models(store) if m["stage"] != "forkies"]
        return {"tuned": tuned, "base": views.model_ids(store, ("forkies",)),
                "ready": {m: readiness(store, m) for m in tuned}}

    def show(self, data: dict) -> None:
        for side in SIDES:
            select = self.query_one(f"#cmp-{side}", Select)
            current = select.value
            with select.prevent(Select.Changed):
                select.set_options([(m, m) for m in data[side]])
                if current in data[side]:
                    select.value = current
                elif data[side]:
                    select.value = data[side][-1]
        self.ready = data["ready"]
        self._show_needs()

    def _needs(self) -> dict | None:
        """The readiness of the chosen fine-tuned model when it cannot run yet (no GGUF, not merged)."""
        state = self.ready.get(self.models().get("tuned", ""))
        return state if state and state["next"] else None

    def _show_needs(self) -> None:
        state = self._needs()
        self.query_one("#cmp-needs").display = state is not None or self.exporting is not None
        if self.exporting is not None:
            return
        if state is not None:
            what = {"merge": "is not merged and has no GGUF yet", "export": "has no GGUF yet",
                    "train": "has no trained adapter"}[state["next"]]
            self.query_one("#cmp-needs-text", Static).update(
                f"{state['model']} {what}: Merge and export makes one (a few minutes on a CPU), then it suggests here")
            self.query_one("#cmp-export", Button).display = state["next"] != "train"

    def models(self) -> dict[str, str]:
        out = {}
        for side in SIDES:
            value = self.query_one(f"#cmp-{side}", Select).value
            if isinstance(value, str):
                out[side] = value
        return out

    # -- requests -----------------------------------------------------------------------------------------------
    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.id != "cmp-editor":
            return
        event.stop()
        self.request_no += 1  # whatever is in flight is now stale
        self._stop_generation()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PAUSE_S, self.request)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cmp-suggest":
            event.stop()
            self.query_one("#cmp-editor", SuggestingEditor).focus()  # so Tab accepts what arrives
            self.request()
        elif event.button.id == "cmp-export":
            event.stop()
            self.merge_and_export()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("cmp-tuned", "cmp-base"):
            event.stop()
            self._show_needs()

    def merge_and_export(self) -> None:
        """Merge (if needed) and export the chosen fine-tuned model as a job, its progress on the pane."""
        state = self._needs()
        if state is None or self.exporting is not None:
            return
        model_id, ws = state["model"], self.app.workspace
        self.exporting = model_id
        text = self.query_one("#cmp-needs-text", Static)
        button = self.query_one("#cmp-export", Button)
        button.disabled = True
        text.update(f"merge and export {model_id}: starting…")

        def progress(event: dict) -> None:
            self._on_ui(text.update, f"merge and export {model_id}: {progress_text(event)}")

        def finished(result: dict | None, reason: str = "") -> None:
            self.exporting = None
            button.disabled = False
            if result is None:
                text.update(f"merge and export {model_id} failed: {reason}")
                return
            paths = [a["path"] for a in (result.get("export") or {}).get("artifacts", [])]
            self.app.notify(f"{model_id} exported: {', '.join(paths) or 'GGUF ready'}", timeout=6)
            self.call_after_refresh(self.request)

        from app.actions import merge_and_export

        self.act("merge and export", lambda: merge_and_export(ws, model_id, progress=progress), finished,
                 group="cmp-export", failed=lambda reason: finished(None, reason))

    def request(self) -> None:
        """Ask both models for the middle at the cursor, in a worker; the newest request wins."""
        models = self.models()
        needs = self._needs()
        if needs is not None:  # say why instead of waiting on a model that cannot run
            models.pop("tuned", None)
            self.query_one("#cmp-tuned-head", Static).update(
                f"fine-tuned {needs['model']} · cannot suggest yet: no GGUF (Merge and export above)")
        if not models:
            if needs is None:
                self.query_one("#cmp-tuned-head", Static).update("fine-tuned: no model in this workspace yet")
            return
        editor = self.query_one("#cmp-editor", SuggestingEditor)
        doc = editor.document
        prefix = doc.get_text_range((0, 0), editor.cursor_location)
        suffix = doc.get_text_range(editor.cursor_location, doc.end)
        self.request_no += 1
        number = self.request_no
        self._stop_generation()
        self._cancel = cancel = threading.Event()
        self.streamed = {}
        ws = self.app.workspace
        self.waiting = {side: time.monotonic() for side in models}
        self._tick()

        def work() -> None:
            for side in SIDES:
                model_id = models.get(side)
                if model_id is None or cancel.is_set():
                    continue

                def streamed(piece: str, side: str = side, model_id: str = model_id) -> None:
                    self.post_message(SuggestionStreamed(number, side, model_id, piece))

                try:
                    from app.evaluating import complete
                    result = complete(ws, model_id, prefix, suffix, max_tokens=32,
                                                             on_text=streamed, cancel=cancel)
                except Exception as exc:
                    result = {"error": one_line(exc)}
                self.post_message(CompletionReceived(number, side, model_id, result))

        self.run_worker(work, thread=True, group="complete", exit_on_error=False)

    def _stop_generation(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None

    @staticmethod
    def _label(side: str, model_id: str) -> str:
        return f"{'fine-tuned' if side == 'tuned' else 'base'} {model_id}"

    def _show_suggestion(self, side: str, text: str) -> None:
        """The side's text box, and the editor's ghost text when it is the leading side (fine-tuned, else base)."""
        self.query_one(f"#cmp-{side}-text", TextArea).load_text(text)
        lead = "tuned" if "tuned" in self.models() else "base"
        if side == lead:
            self.query_one("#cmp-editor", SuggestingEditor).offer(text)

    def on_suggestion_streamed(self, message: SuggestionStreamed) -> None:
        if message.request != self.request_no:  # the text changed since: stale
            return
        self.waiting.pop(message.side, None)
        self.loaded.add(message.side)
        text = self.streamed.get(message.side, "") + message.piece
        self.streamed[message.side] = text
        self.query_one(f"#cmp-{message.side}-head", Static).update(
            f"{self._label(message.side, message.model_id)} · streaming…")
        self._show_suggestion(message.side, text)

    def on_completion_received(self, message: CompletionReceived) -> None:
        if message.request != self.request_no:
            return
        result = message.result
        self.waiting.pop(message.side, None)
        self.loaded.add(message.side)
        head = self.query_one(f"#cmp-{message.side}-head", Static)
        if "error" in result:  # in full: the head wraps
            head.update(f"{self._label(message.side, message.model_id)} · {result['error']}")
            return
        text = result.get("text", "")
        head.update(f"{self._label(message.side, message.model_id)} · first token "
                    f"{fmt(result.get('ms_first_token'), 0)} ms · total {fmt(result.get('ms_total'), 0)} ms")
        # In a real terminal (tmux), right after the command palette closed, the head kept showing "streaming…"
        # until something else repainted it, though its text was updated (not seen under Pilot): repaint once.
        self.set_timer(0.2, lambda: self.screen.refresh(repaint=True, layout=True))
        self.streamed[message.side] = text
        self._show_suggestion(message.side, text)

    def commands(self):
        return [("Suggest now", "ask both models for a completion at the cursor", self.request)]
