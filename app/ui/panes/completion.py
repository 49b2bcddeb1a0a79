"""Completion: an editor where the model's fill-in-the-middle suggestion appears when you pause; Tab accepts it.

The fine-tuned model's suggestion streams into the editor as ghost text, token by token; the base model's streams
beside it, each with its first-token and total milliseconds. Requests run in a thread worker; editing the text
stops the generation in flight, and anything that still arrives for an older text is dropped."""
from __future__ import annotations

import threading

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, Select, Static, TextArea

from app.ui.code import ensure_language
from app.ui.entry import entry, one_line
from app.ui.messages import CompletionReceived, SuggestionStreamed
from app.ui.panes.base import Pane, fmt

PAUSE_S = 0.6
SIDES = ("tuned", "base")
STARTER = '''def fibonacci(n: int) -> list[int]:
    """The first n Fibonacci numbers."""
    '''


class SuggestingEditor(TextArea):
    """A TextArea whose ghost-text suggestion is accepted with Tab (and dismissed with Escape)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "tab" and self.suggestion:
            event.stop()
            event.prevent_default()
            self.insert(self.suggestion)
            self.suggestion = ""
            return
        if event.key == "escape" and self.suggestion:
            event.stop()
            event.prevent_default()
            self.suggestion = ""
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

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([], prompt="fine-tuned model", id="cmp-tuned")
            yield Select([], prompt="base model", id="cmp-base")
            yield Button("Suggest now", id="cmp-suggest")
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

    def load(self, store) -> dict:
        models = store.models()
        return {"tuned": [m["id"] for m in models if m["stage"] != "forkies"],
                "base": [m["id"] for m in models if m["stage"] == "forkies"]}

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

    def request(self) -> None:
        """Ask both models for the middle at the cursor, in a worker; the newest request wins."""
        models = self.models()
        if not models:
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
        for side in SIDES:
            if side in models:
                self.query_one(f"#cmp-{side}-head", Static).update(f"{self._label(side, models[side])} · thinking…")

        def work() -> None:
            for side in SIDES:
                model_id = models.get(side)
                if model_id is None or cancel.is_set():
                    continue

                def streamed(piece: str, side: str = side, model_id: str = model_id) -> None:
                    self.post_message(SuggestionStreamed(number, side, model_id, piece))

                try:
                    result = entry("evaluating", "complete")(ws, model_id, prefix, suffix, max_tokens=32,
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
            self.query_one("#cmp-editor", SuggestingEditor).suggestion = text

    def on_suggestion_streamed(self, message: SuggestionStreamed) -> None:
        if message.request != self.request_no:  # the text changed since: stale
            return
        text = self.streamed.get(message.side, "") + message.piece
        self.streamed[message.side] = text
        self.query_one(f"#cmp-{message.side}-head", Static).update(
            f"{self._label(message.side, message.model_id)} · streaming…")
        self._show_suggestion(message.side, text)

    def on_completion_received(self, message: CompletionReceived) -> None:
        if message.request != self.request_no:
            return
        result = message.result
        head = self.query_one(f"#cmp-{message.side}-head", Static)
        if "error" in result:
            head.update(f"{self._label(message.side, message.model_id)} · {result['error']}")
            return
        text = result.get("text", "")
        head.update(f"{self._label(message.side, message.model_id)} · first token "
                    f"{fmt(result.get('ms_first_token'), 0)} ms · total {fmt(result.get('ms_total'), 0)} ms")
        self.streamed[message.side] = text
        self._show_suggestion(message.side, text)

    def commands(self):
        return [("Suggest now", "ask both models for a completion at the cursor", self.request)]
