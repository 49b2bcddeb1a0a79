"""Training: the seed's recipe as a form, the GPU and memory estimate, launch / cancel / resume, a live loss curve,
and the one-click pipeline (train → merge → export → eval)."""
from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, ProgressBar, Select, Static
from textual_plotext import PlotextPlot

from app.errors import StudioError
from app.pipeline import STEP_NAMES
from app import hardware, views
from app.errors import one_line
from app.ui.messages import HardwareProbed, LineageChanged, LossLogged, PipelineStepped, RunFinished, RunStarted
from app.ui.panes.base import Pane, fill_table, fmt
from app.ui.panes.train_form import TrainForm, recipe_defaults


class TrainingPane(Pane):
    title = "Training"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recipe = recipe_defaults()
        self.cancel_event: threading.Event | None = None
        self.hardware: dict = {}
        self.bases: dict[str, dict] = {}
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.total_steps: int | None = None
        self.shown_run: str | None = None  # picked in the runs table
        self.runs: dict[str, dict] = {}
        self.options: dict[str, list] = {}  # Select id -> the options it shows
        self._pipeline: dict[str, str] = {}
        self.stopped: dict = {}  # the engine's `cancelled` event of the last run

    def compose(self) -> ComposeResult:
        yield TrainForm(self.recipe, id="train-form")
        with Horizontal(classes="toolbar"):
            yield Button("Launch", id="train-launch", variant="primary")
            yield Button("Resume", id="train-resume")
            yield Button("Cancel", id="train-cancel", variant="error", disabled=True)
            yield Button("Pipeline ▶", id="train-pipeline", variant="success",
                         tooltip="train → merge → export → eval, one step after the other")
        with Horizontal(id="train-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="train-progress")
            yield Static("no run yet — pick a base and a snapshot, then Launch", id="train-stats")
        yield Static("", id="pipeline-steps", classes="status")
        with Horizontal(id="train-body"):
            yield PlotextPlot(id="loss-plot")
            with Vertical(id="train-runs"):
                yield Static("training runs", classes="caption")
                runs = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
                runs.add_columns("model", "status", "steps", "loss", "run")  # the long run id last: the detail shows it
                yield runs
                yield Static("", id="run-detail", classes="status")

    def on_mount(self) -> None:
        if not self.steps:  # the first load may have drawn a run's curve already (show can come before mount)
            self._draw_curve("loss")

    # -- data ---------------------------------------------------------------------------------------------------
    def load(self, store) -> dict:
        if not self.hardware:
            self.post_message(HardwareProbed(hardware.hardware_of(self.app)))
        runs = views.runs(store, kind="train")
        live = next((r["id"] for r in runs if r["status"] in ("running", "queued")), None)
        shown = self.shown_run or live or (runs[0]["id"] if runs else None)
        curve = views.loss_curve(store, shown) if shown else ([], [])
        return {"bases": [m for m in store.models() if m["stage"] == "forkies"],
                "snapshots": views.snapshots(store), "runs": runs, "shown": shown, "curve": curve,
                "steps": {r["id"]: len(store.metrics(r["id"])) for r in runs}}

    def show(self, data: dict) -> None:
        self.bases = {m["id"]: m for m in data["bases"]}
        changed = self._set_options("#train-base", [(m, m) for m in self.bases])
        changed |= self._set_options("#train-snapshot", [(s["id"], s["id"]) for s in data["snapshots"]])
        if changed:
            self.query_one(TrainForm).request_estimate()
        self.runs = {r["id"]: r for r in data["runs"]}
        fill_table(self.query_one("#runs-table", DataTable),
                   [(r["model_id"] or "–", r["status"], str(data["steps"][r["id"]]),
                     fmt((r.get("result") or {}).get("final_loss")), r["id"]) for r in data["runs"]],
                   [r["id"] for r in data["runs"]])
        if self.cancel_event is None and data["shown"]:  # not training here: the picked (or live, or last) run
            self.steps, self.losses = list(data["curve"][0]), list(data["curve"][1])
            status = self.runs.get(data["shown"], {}).get("status", "")
            self._draw_curve(f"loss of {data['shown']} ({status})")
        self._show_run_detail()

    def _show_run_detail(self) -> None:
        """The highlighted run in full under the table (its columns are narrow): status, model, error or result."""
        table = self.query_one("#runs-table", DataTable)
        run = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            run = self.runs.get(key)
        if run is None:
            self.query_one("#run-detail", Static).update("")
            return
        result = run.get("result") if isinstance(run.get("result"), dict) else {}
        extra = run.get("error") or (f"final loss {fmt(result.get('final_loss'))}" if result.get("final_loss")
                                     else f"stopped at step {result['step']}" if result.get("step") else "")
        self.query_one("#run-detail", Static).update(
            f"{run['id']} · {run['model_id'] or '–'} · {run['status']}" + (f" · {extra}" if extra else ""))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "runs-table":
            event.stop()
            self._show_run_detail()

    def _set_options(self, selector: str, options: list[tuple[str, str]]) -> bool:
        """Replace a Select's options keeping its value where it still exists; True when they changed."""
        select = self.query_one(selector, Select)
        current = select.value
        if self.options.get(selector) == options:
            return False
        if not select.is_mounted:  # a load can land before the form is mounted: Select.set_options would raise
            self.call_after_refresh(self.reload)
            return False
        with select.prevent(Select.Changed):
            select.set_options(options)
            values = [v for _, v in options]
            if current in values:
                select.value = current
            elif values:
                select.value = values[0]
        self.options[selector] = list(options)  # only once shown: a failed set is tried again on the next load
        return True

    def on_hardware_probed(self, message: HardwareProbed) -> None:
        self.hardware = message.info
        self.query_one(TrainForm).set_hardware(message.info)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "runs-table" and self.cancel_event is None:
            event.stop()
            self.shown_run = event.row_key.value
            self.reload()

    # -- the loss curve -----------------------------------------------------------------------------------------
    def _draw_curve(self, title: str) -> None:
        plot = self.query_one("#loss-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel("step")
        if self.steps:
            plt.plot(self.steps, self.losses, marker="braille")
        plot.refresh()

    def on_run_started(self, message: RunStarted) -> None:
        self.steps, self.losses, self.total_steps, self.stopped = [], [], message.total_steps, {}
        self.query_one("#train-progress", ProgressBar).update(total=message.total_steps, progress=0)
        self.query_one("#train-stats", Static).update(
            f"{'resuming' if message.resume else 'starting'} {message.model_id}…")
        self._set_running(True)
        self._draw_curve(f"loss of {message.model_id}")

    def on_loss_logged(self, message: LossLogged) -> None:
        ev = message.event
        total = ev.get("total_steps") or ev.get("max_steps") or self.total_steps
        if total and total != self.total_steps:
            self.total_steps = total
            self.query_one("#train-progress", ProgressBar).update(total=total)
        step = int(ev.get("step", len(self.steps) + 1))
        if ev.get("loss") is not None:
            self.steps.append(step)
            self.losses.append(float(ev["loss"]))
            self._draw_curve(f"loss · step {step}")
        self.query_one("#train-progress", ProgressBar).update(progress=step)
        eta = ev.get("eta_s")
        self.query_one("#train-stats", Static).update(
            f"step {step}/{total or '?'} · loss {fmt(ev.get('loss'))} · "
            f"{fmt(ev.get('tokens_per_second'), 0)} tok/s · ETA {_duration(eta)}")

    def on_run_finished(self, message: RunFinished) -> None:
        self.cancel_event = None
        self._set_running(False)
        bar = self.query_one("#train-progress", ProgressBar)
        bar.update(total=self.total_steps or 1, progress=self.steps[-1] if self.steps else 0)  # stop the spinner
        result = message.result
        if message.status == "finished" and result.get("status", "finished") == "finished":
            text = (f"finished: {result.get('model', '')} · final loss {fmt(result.get('final_loss'))} · "
                    f"{fmt(result.get('tokens_per_second'), 0)} tok/s")
        elif message.status == "cancelled" or result.get("status") == "cancelled":
            text = cancelled_text({**self.stopped, **result} if result else {}, message.reason)
        else:
            text = f"{message.status}: {message.reason}" if message.reason else message.status
        self.query_one("#train-stats", Static).update(text)
        self.post_message(LineageChanged("training"))

    def on_pipeline_stepped(self, message: PipelineStepped) -> None:
        self._pipeline[message.step] = message.status
        marks = {"started": "…", "finished": "✓", "failed": "✗", "cancelled": "■", "skipped": "✓",
                 "adopted": "✓"}
        self.query_one("#pipeline-steps", Static).update(
            "pipeline: " + " → ".join(f"{s} {marks.get(self._pipeline.get(s, ''), '·')}" for s in STEP_NAMES)
            + (f" · {message.detail}" if message.detail else ""))

    def _set_running(self, running: bool) -> None:
        self.query_one("#train-cancel", Button).disabled = not running
        for button in ("#train-launch", "#train-resume", "#train-pipeline"):
            self.query_one(button, Button).disabled = running

    # -- actions ------------------------------------------------------------------------------------------------
    def _form(self) -> dict:
        return self.query_one(TrainForm).values()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"train-launch": lambda: self.launch(False), "train-resume": lambda: self.launch(True),
                   "train-cancel": self.cancel, "train-pipeline": self.run_pipeline}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    def launch(self, resume: bool = False) -> None:
        try:
            form = self._form()
        except (StudioError, ValueError) as exc:
            self.app.notify(one_line(exc), severity="warning")
            return
        self.cancel_event = cancel = threading.Event()
        self.post_message(RunStarted(form["model_id"], form["max_steps"], resume))
        ws = self.app.workspace

        def work() -> None:
            try:
                from app.training_jobs import train
                sizes = {} if resume else {"epochs": form["epochs"], "seq_len": form["seq_len"], **form["overrides"]}
                result = train(ws, None if resume else form["base_id"], None if resume else form["snapshot_id"],
                               form["model_id"], max_steps=form["max_steps"], resume=resume,
                               progress=self._progress, cancel=cancel, **sizes)
            except Exception as exc:
                status = "cancelled" if cancel.is_set() else "failed"
                self.post_message(RunFinished(status, reason=one_line(exc)))
                return
            self.post_message(RunFinished("cancelled" if cancel.is_set() else "finished", result))

        self.run_worker(work, thread=True, group="train", exit_on_error=False, name="train")

    def _progress(self, event: dict) -> None:
        if event.get("event") == "step" or ("loss" in event and "step" in event):
            self.post_message(LossLogged(event))
        elif event.get("event") == "cancelled":  # where the engine stopped (the run's result keeps less)
            self.stopped = event
        elif event.get("event") in ("started",) and event.get("total_steps"):
            self.post_message(LossLogged({**event, "step": event.get("start_step") or 0, "loss": None}))

    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one("#train-stats", Static).update(
                "cancelling: stopping after the current micro batch, then checkpointing the last finished step…")

    def run_pipeline(self) -> None:
        """train → merge → export → eval through app.pipeline, each step shown as it moves."""
        try:
            form = self._form()
        except (StudioError, ValueError) as exc:
            self.app.notify(one_line(exc), severity="warning")
            return
        self._pipeline = {}
        gpu = bool(self.hardware.get("gpus"))
        self.cancel_event = cancel = threading.Event()
        self.post_message(RunStarted(form["model_id"], form["max_steps"], False))
        ws = self.app.workspace

        def progress(event: dict) -> None:
            if event.get("event") == "pipeline":  # a step moved: {"step": name, "status": ..., "message": ...}
                self.post_message(PipelineStepped(event["step"], event.get("status", ""), event.get("message", "")))
            elif event.get("pipeline_step") == "train":
                self._progress(event)

        def work() -> None:
            try:
                from app.pipeline import run_pipeline as run
                options = {k: form[k] for k in ("max_steps", "seq_len") if form[k] is not None}
                if form["epochs"] is not None:
                    options["epochs"] = max(1, round(form["epochs"]))
                if not gpu:  # the demo's eval sizes: a full HumanEval on a CPU takes hours
                    from app.demo import CPU_TYPES, DEMO_EVAL

                    options.update(DEMO_EVAL, types=CPU_TYPES)
                result = run(ws, form["model_id"], base_id=form["base_id"], snapshot_id=form["snapshot_id"],
                             train_options=form["overrides"], progress=progress, cancel=cancel, **options)
            except Exception as exc:
                self.post_message(RunFinished("cancelled" if cancel.is_set() else "failed", reason=one_line(exc)))
                return
            self.post_message(RunFinished("finished", result))

        self.run_worker(work, thread=True, group="train", exit_on_error=False, name="pipeline")

    def commands(self):
        return [("Start training", "launch a LoRA run with the form's settings", lambda: self.launch(False)),
                ("Resume training", "continue the form's run from its last checkpoint", lambda: self.launch(True)),
                ("Cancel training", "checkpoint and stop the running job", self.cancel),
                ("Run the pipeline", "train → merge → export → eval", self.run_pipeline)]


def cancelled_text(result: dict, reason: str = "") -> str:
    """Where a cancelled run stopped, and what Resume does with it."""
    if not result:
        return f"cancelled: {reason}" if reason else "cancelled"
    step, dropped = result.get("step") or 0, result.get("dropped_micro_batches") or 0
    where = (f"cancelled within step {step + 1} after {dropped} of {result.get('micro_batches_per_step')} micro batches"
             f" (dropped)" if dropped else f"cancelled after step {step}")
    kept = (f"; Resume continues from the checkpoint of step {step}" if result.get("checkpoint")
            else "; nothing to keep: Resume starts it over")
    return f"{where} of {result.get('total_steps') or '?'}{kept} · {result.get('model', '')} is not offered until it finishes"


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
