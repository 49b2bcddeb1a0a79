"""Training: the seed's recipe as a form, the GPU and memory estimate, launch / cancel / resume, a live loss curve,
and the one-click pipeline (train → merge → export → eval)."""
from __future__ import annotations

import threading
from dataclasses import MISSING, fields

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, ProgressBar, Select, Static
from textual_plotext import PlotextPlot

from app.errors import StudioError
from app.ui import estimate, queries
from app.ui.entry import entry, one_line
from app.ui.messages import HardwareProbed, LineageChanged, LossLogged, PipelineStepped, RunFinished, RunStarted
from app.ui.panes.base import Pane, fill_table, fmt

# The pipeline's steps as app.pipeline names them (STEP_NAMES); shown in this order.
PIPELINE_STEPS = ("train", "merge", "export", "eval-internal", "eval-humaneval", "eval-latency", "checklist", "cards")


def recipe_defaults() -> dict:
    """The training engine's defaults (training.config.TrainConfig): the seed's recipe."""
    from training.config import TrainConfig

    out = {}
    for f in fields(TrainConfig):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


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
        self.shown_run: str | None = None
        self._pipeline: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        r = self.recipe
        yield Static(f"recipe: LoRA r={r['lora_r']} α={r['lora_alpha']} dropout {r['lora_dropout']} on q,k,v,o,gate,"
                     f"up,down · AdamW lr {r['learning_rate']:g} · effective batch {r['batch_size']} "
                     f"(micro {r['micro_batch_size']}) · warmup {r['warmup_ratio']:.0%} {r['scheduler']} · "
                     f"seed {r['seed']}", id="recipe", classes="intro")
        with Horizontal(classes="form"):
            yield Select([], prompt="base model", id="train-base")
            yield Select([], prompt="snapshot", id="train-snapshot")
            yield Input(placeholder="research/OWNER/NAME", id="train-id")
        with Horizontal(classes="form"):
            yield Input(str(r["epochs"]).rstrip("0").rstrip("."), placeholder="epochs", id="train-epochs",
                        classes="short", type="number", tooltip="epochs")
            yield Input("", placeholder="max steps (overrides epochs)", id="train-steps", classes="short",
                        type="integer")
            yield Input(str(r["seq_len"]), placeholder="seq len", id="train-seqlen", classes="short", type="integer",
                        tooltip="sequence length")
            yield Button("Launch", id="train-launch", variant="primary")
            yield Button("Resume", id="train-resume")
            yield Button("Cancel", id="train-cancel", variant="error", disabled=True)
            yield Button("Pipeline ▶", id="train-pipeline", variant="success",
                         tooltip="train → merge → export → eval, one step after the other")
        yield Static("probing the hardware…", id="train-estimate", classes="status")
        with Horizontal(id="train-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="train-progress")
            yield Static("no run yet — pick a base and a snapshot, then Launch", id="train-stats")
        yield Static("", id="pipeline-steps", classes="status")
        with Horizontal(id="train-body"):
            yield PlotextPlot(id="loss-plot")
            with Vertical(id="train-runs"):
                yield Static("training runs", classes="caption")
                runs = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
                runs.add_columns("run", "model", "status", "steps", "loss")
                yield runs

    def on_mount(self) -> None:
        self._draw_curve("loss")

    # -- data ---------------------------------------------------------------------------------------------------
    def load(self, store) -> dict:
        if not self.hardware:
            self.post_message(HardwareProbed(self.app.hardware or estimate.probe_hardware()))
        runs = queries.runs(store, kind="train")
        shown = self.shown_run or (runs[0]["id"] if runs else None)
        curve = queries.loss_curve(store, shown) if shown else ([], [])
        return {"bases": [m for m in store.models() if m["stage"] == "forkies"],
                "snapshots": queries.snapshots(store), "runs": runs, "shown": shown, "curve": curve,
                "steps": {r["id"]: len(store.metrics(r["id"])) for r in runs}}

    def show(self, data: dict) -> None:
        self.bases = {m["id"]: m for m in data["bases"]}
        self._set_options("#train-base", [(m, m) for m in self.bases])
        self._set_options("#train-snapshot", [(s["id"], s["id"]) for s in data["snapshots"]])
        fill_table(self.query_one("#runs-table", DataTable),
                   [(r["id"], r["model_id"] or "–", r["status"], str(data["steps"][r["id"]]),
                     fmt((r.get("result") or {}).get("final_loss"))) for r in data["runs"]],
                   [r["id"] for r in data["runs"]])
        if self.cancel_event is None and data["shown"]:  # not training now: show the selected run's curve
            self.shown_run = data["shown"]
            self.steps, self.losses = list(data["curve"][0]), list(data["curve"][1])
            self._draw_curve(f"loss of {data['shown']}")
        self._update_estimate()

    def _set_options(self, selector: str, options: list[tuple[str, str]]) -> None:
        select = self.query_one(selector, Select)
        current = select.value
        with select.prevent(Select.Changed):
            select.set_options(options)
            values = [v for _, v in options]
            if current in values:
                select.value = current
            elif values:
                select.value = values[0]

    def on_hardware_probed(self, message: HardwareProbed) -> None:
        self.hardware = message.info
        self._update_estimate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "train-base":
            event.stop()
            self._update_estimate()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "train-seqlen":
            self._update_estimate()

    def _update_estimate(self) -> None:
        if not self.hardware:
            return
        base = self.bases.get(self.query_one("#train-base", Select).value)
        cfg = estimate.read_config(base["path"]) if base else None
        est = None
        if cfg and base.get("parameters"):
            try:
                est = estimate.training_memory(cfg, base["parameters"], self.recipe,
                                               seq_len=self._int("#train-seqlen") or self.recipe["seq_len"],
                                               cuda=bool(self.hardware.get("gpus")))
            except (KeyError, TypeError, ValueError):
                est = None
        self.query_one("#train-estimate", Static).update(estimate.describe(self.hardware, est))

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
        self.steps, self.losses, self.total_steps = [], [], message.total_steps
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
        result = message.result
        if message.status == "finished":
            text = (f"finished: {result.get('model', '')} · final loss {fmt(result.get('final_loss'))} · "
                    f"{fmt(result.get('tokens_per_second'), 0)} tok/s")
        else:
            text = f"{message.status}: {message.reason}" if message.reason else message.status
        self.query_one("#train-stats", Static).update(text)
        self.post_message(LineageChanged("training"))

    def on_pipeline_stepped(self, message: PipelineStepped) -> None:
        self._pipeline[message.step] = message.status
        marks = {"started": "…", "finished": "✓", "failed": "✗", "cancelled": "■", "skipped": "✓",
                 "adopted": "✓"}
        self.query_one("#pipeline-steps", Static).update(
            "pipeline: " + " → ".join(f"{s} {marks.get(self._pipeline.get(s, ''), '·')}" for s in PIPELINE_STEPS)
            + (f" · {message.detail}" if message.detail else ""))

    def _set_running(self, running: bool) -> None:
        self.query_one("#train-cancel", Button).disabled = not running
        for button in ("#train-launch", "#train-resume", "#train-pipeline"):
            self.query_one(button, Button).disabled = running

    # -- actions ------------------------------------------------------------------------------------------------
    def _int(self, selector: str) -> int | None:
        text = self.query_one(selector, Input).value.strip()
        try:
            return int(float(text)) if text else None
        except ValueError:
            return None

    def _form(self) -> dict:
        base = self.query_one("#train-base", Select).value
        snapshot = self.query_one("#train-snapshot", Select).value
        model_id = self.query_one("#train-id", Input).value.strip()
        if not isinstance(base, str):
            raise StudioError("pick a base model (fork one first)")
        if not isinstance(snapshot, str):
            raise StudioError("pick a dataset snapshot (curate from the Repos pane)")
        if not model_id:
            raise StudioError("give the new model an id: research/OWNER/NAME")
        epochs_text = self.query_one("#train-epochs", Input).value.strip()
        return {"base_id": base, "snapshot_id": snapshot, "model_id": model_id,
                "max_steps": self._int("#train-steps"), "epochs": float(epochs_text) if epochs_text else None,
                "seq_len": self._int("#train-seqlen")}

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
                train = entry("training_jobs", "train")
                result = train(ws, form["base_id"], form["snapshot_id"], form["model_id"],
                               max_steps=form["max_steps"], epochs=form["epochs"], seq_len=form["seq_len"],
                               resume=resume, progress=self._progress, cancel=cancel)
            except Exception as exc:
                status = "cancelled" if cancel.is_set() else "failed"
                self.post_message(RunFinished(status, reason=one_line(exc)))
                return
            self.post_message(RunFinished("cancelled" if cancel.is_set() else "finished", result))

        self.run_worker(work, thread=True, group="train", exit_on_error=False, name="train")

    def _progress(self, event: dict) -> None:
        if event.get("event") == "step" or ("loss" in event and "step" in event):
            self.post_message(LossLogged(event))
        elif event.get("event") in ("started",) and event.get("total_steps"):
            self.post_message(LossLogged({**event, "step": event.get("start_step") or 0, "loss": None}))

    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one("#train-stats", Static).update("cancelling: checkpointing and stopping…")

    def run_pipeline(self) -> None:
        """train → merge → export → eval through app.pipeline, each step shown as it moves."""
        try:
            form = self._form()
        except (StudioError, ValueError) as exc:
            self.app.notify(one_line(exc), severity="warning")
            return
        self._pipeline = {}
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
                run = entry("pipeline", "run_pipeline")
                options = {k: form[k] for k in ("max_steps", "seq_len") if form[k] is not None}
                if form["epochs"] is not None:
                    options["epochs"] = max(1, round(form["epochs"]))
                result = run(ws, form["model_id"], base_id=form["base_id"], snapshot_id=form["snapshot_id"],
                             progress=progress, cancel=cancel, **options)
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


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
