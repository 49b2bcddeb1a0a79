"""One click per step for the model selected in the Lineage tree: merge, export (a GGUF type), evaluate each suite
against its base, and its checklist on the Promotion pane. Each runs as a job (app.actions) with its progress on
the line below the buttons, and how it ended stays there under the model's next step; a button whose step cannot run
yet is disabled, and the line says why."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Select, Static

from app.ui.panes.base import progress_text, run_job
from eval.suites import SUITES


class ModelActions(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_id: str | None = None
        self.state: dict = {}
        self.busy: str | None = None  # the step running now
        self.last: dict[str, str] = {}  # model id -> how its last step here ended (kept across reloads)

    def compose(self) -> ComposeResult:
        from app.actions import EXPORT_TYPES

        with Horizontal(classes="toolbar"):
            yield Button("Merge", id="act-merge", compact=True, tooltip="merge the LoRA adapter into its base (HF weights)")
            yield Select([(t, t) for t in EXPORT_TYPES], value=EXPORT_TYPES[0], allow_blank=False, compact=True,
                         id="act-type", tooltip="GGUF type to export")
            yield Button("Export", id="act-export", compact=True, tooltip="write a GGUF of that type, parity-checked")
            for suite in SUITES:
                yield Button(f"Eval {suite}", id=f"act-eval-{suite}", compact=True,
                             tooltip=f"the {suite} suite on this model and on its base, same settings")
            yield Button("Checklist →", id="act-checklist", compact=True, tooltip="its promotion checklist, on the Promotion pane")
        yield Static("select a model in the tree for its steps", id="act-status", classes="status",
                     markup=False)  # paths and errors, as written

    def set_model(self, model_id: str | None, state: dict | None) -> None:
        """Show the steps of `model_id` (its app.actions.readiness in `state`)."""
        self.model_id, self.state = model_id, state or {}
        self._refresh_buttons()
        if self.busy is None:
            last = self.last.get(model_id or "")
            self.query_one("#act-status", Static).update(self._summary() + (f"\nlast step: {last}" if last else ""))

    def _summary(self) -> str:
        if self.model_id is None:
            return "select a model in the tree for its steps (merge, export, eval, checklist)"
        st = self.state
        if st.get("stage") == "research" and st.get("run_status") != "finished":
            return (f"{self.model_id}: its training run is {st.get('run_status') or 'missing'}, so it has no model "
                    "to merge; resume it from the Training pane")
        has = [name for name, present in (("adapter", st.get("adapter")), ("merged weights", st.get("merged")),
                                          ("GGUF", st.get("gguf"))) if present]
        step = {"merge": "next: Merge", "export": "next: Export", None: "ready to evaluate"}.get(st.get("next"), "")
        return f"{self.model_id}: has {', '.join(has) or 'nothing to run yet'} · {step}"

    def _refresh_buttons(self) -> None:
        st, idle = self.state, self.busy is None and self.model_id is not None
        research = st.get("stage") == "research"
        trained = bool(st.get("adapter")) and (not research or st.get("run_status") == "finished")
        self.query_one("#act-merge", Button).disabled = not (idle and research and trained)
        self.query_one("#act-export", Button).disabled = not (idle and (st.get("merged") or trained))
        runnable = bool(st.get("gguf") or st.get("merged"))
        for suite in SUITES:
            self.query_one(f"#act-eval-{suite}", Button).disabled = not (idle and runnable)
        self.query_one("#act-checklist", Button).disabled = self.model_id is None or st.get("stage") not in (
            "research", "internal")

    def commands(self) -> list[tuple[str, str, object]]:
        """The steps for the palette (each acts on the model selected in the tree, as its button does)."""
        steps = [("Merge the selected model", "merge its LoRA adapter into the base", "act-merge"),
                 ("Export the selected model", "merge if needed, then a GGUF of the chosen type", "act-export"),
                 *((f"Evaluate the selected model: {s}", f"the {s} suite on it and on its base", f"act-eval-{s}")
                   for s in SUITES),
                 ("Checklist of the selected model", "its promotion checklist on the Promotion pane", "act-checklist")]
        return [(title, help_text, lambda button=button: self.press(button)) for title, help_text, button in steps]

    def press(self, button: str) -> None:
        widget = self.query_one(f"#{button}", Button)
        if widget.disabled:
            self.app.notify(self._summary() if self.busy is None else f"busy: {self.busy}", severity="warning")
            return
        self.act_on(button)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if not button.startswith("act-") or self.model_id is None:
            return
        event.stop()
        self.act_on(button)

    def act_on(self, button: str) -> None:
        if button == "act-checklist":
            self.app.show_checklist(self.model_id)
            return
        from app import actions

        ws, model_id = self.app.workspace, self.model_id
        from app.hardware import hardware_of

        gpu = bool(hardware_of(self.app).get("gpus"))
        if button == "act-merge":
            self.start("merge", lambda p: actions.merge(ws, model_id, p))
        elif button == "act-export":
            qtype = str(self.query_one("#act-type", Select).value)
            self.start(f"export {qtype}", lambda p: actions.merge_and_export(ws, model_id, (qtype,), p))
        elif button.startswith("act-eval-"):
            suite = button.removeprefix("act-eval-")
            self.start(f"eval {suite}", lambda p: actions.evaluate(ws, model_id, suite, cpu_sized=not gpu, progress=p))

    def start(self, step: str, fn) -> None:
        """Run one step as a job: its progress on the status line, the result or the whole error there after."""
        status = self.query_one("#act-status", Static)
        model_id = self.model_id
        self.busy = step
        self._refresh_buttons()
        status.update(f"{step} {model_id}: starting…")

        def progress(event: dict) -> None:
            try:
                self.app.call_from_thread(status.update, f"{step} {model_id}: {progress_text(event)}")
            except RuntimeError:
                pass

        def finished(text: str) -> None:
            self.busy = None
            self.last[model_id] = text  # the reload that follows the job shows it under the model's next step
            self._refresh_buttons()
            status.update(text)

        def done(result: dict) -> None:
            finished(f"{step} {model_id}: done · {outcome(result)}")

        run_job(self, f"{step} {model_id}", lambda: fn(progress), done, group="model-actions",
                failed=lambda reason: finished(f"{step} {model_id} failed: {reason}"))


def outcome(result: dict) -> str:
    """What a finished step left: files written, or the headline metrics."""
    export = result.get("export") if "export" in result else result if "artifacts" in result else None
    if export:
        return "wrote " + ", ".join(a["path"] for a in export.get("artifacts", []))
    if result.get("scores"):
        return headline(result)
    if "metrics" in result:
        metrics = result["metrics"]
        shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        return ", ".join(f"{k} {v:.3g}" for k, v in list(shown.items())[:4]) or "recorded"
    if result.get("path"):
        return f"merged into {result['path']}"
    return "recorded"


HEADLINE_METRICS = ("score", "pass@1", "p95_ms")  # what each suite's gate reads: internal/general, humaneval, latency


def headline(result: dict) -> str:
    """An eval's headline metric over all samples with its 95% interval and n, the paired delta against the base
    with its verdict, and the warning its sample count carries."""
    from app.intervals import delta_cell, value_cell

    scores = result["scores"]
    overall = [s for s in scores if s.get("category") in (None, "overall")] or scores
    pick = next((s for m in HEADLINE_METRICS for s in overall if s["metric"] == m), overall[0])
    text = f"{pick['metric']} {value_cell(pick['value'], pick)} n={pick.get('n') or '?'}"
    paired = next((c for c in result.get("comparisons") or []
                   if (c["metric"], c.get("category")) == (pick["metric"], pick.get("category"))), None)
    if paired is not None:
        text += f" · against the base {delta_cell(paired)}"
    return text + (f" · {pick['warning']}" if pick.get("warning") else "")
