"""The Training pane's form: base, snapshot, id and the run's size, labelled on their borders (a label that is a
placeholder vanishes once the field is filled), with defaults that fit the machine: on a CPU the demo's CPU-sized
run, on a GPU the seed's recipe. Below it, the memory check the launch itself makes (app.training_jobs.train with
dry_run), so the pane never says "fits" for a run that the launch then refuses, and a run that will not fit says
how to make it fit before anything starts."""
from __future__ import annotations

from dataclasses import MISSING, fields

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Select, Static

from app.errors import StudioError
from app.errors import one_line
from app.ui.messages import EstimateMade

GIB = 1024 ** 3
ESTIMATE_PAUSE_S = 0.4
PLACEHOLDER_ID = "research/studio/estimate"  # the memory check does not depend on the id; a dry run needs one
SIZE_FIELDS = ("epochs", "steps", "seqlen", "batch", "micro")


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


def sized_defaults(recipe: dict, gpu: bool) -> dict[str, str]:
    """The form's size fields: the seed's recipe on a GPU, the demo's CPU-sized run (app.demo) on a CPU."""
    if gpu:
        return {"epochs": f"{recipe['epochs']:g}", "steps": "", "seqlen": str(recipe["seq_len"]),
                "batch": str(recipe["batch_size"]), "micro": str(recipe["micro_batch_size"])}
    from app.demo import DEFAULT_MAX_STEPS, DEMO_TRAIN

    return {"epochs": "1", "steps": str(DEFAULT_MAX_STEPS), "seqlen": str(DEMO_TRAIN["seq_len"]),
            "batch": str(DEMO_TRAIN["batch_size"]), "micro": str(DEMO_TRAIN["micro_batch_size"])}


def describe_plan(result: dict) -> str:
    """One line from a dry run's memory estimate: where it runs, what it needs of what is free, and the parts."""
    est = result["memory_estimate"]
    cfg = result.get("config") or {}
    where = "free VRAM" if est["device"] == "cuda" else "available RAM"
    lora = sum(est.get(k, 0) for k in ("lora", "gradients", "optimizer"))
    return (f"{est['device'].upper()} {est['precision']}"
            f"{' + checkpointing' if est.get('gradient_checkpointing') else ''} · {cfg.get('batch_size', '?')} x "
            f"{cfg.get('seq_len', '?')} tokens a step ({cfg.get('micro_batch_size', '?')} a micro batch) · needs "
            f"about {est['total'] / GIB:.1f} GiB of {est['free'] / GIB:.1f} GiB {where} — fits "
            f"(weights {est['weights'] / GIB:.2f}, LoRA+AdamW {lora / GIB:.2f}, activations "
            f"{est['activations'] / GIB:.2f}, logits {est['logits'] / GIB:.2f} GiB, +15% margin)")


class Field(Input):
    """An Input labelled on its top border, so the label stays once it is filled."""

    def __init__(self, label: str, value: str = "", **kwargs) -> None:
        super().__init__(value, **kwargs)
        self.border_title = label


class TrainForm(Vertical):
    def __init__(self, recipe: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.recipe = recipe
        self.gpu: bool | None = None  # unknown until the hardware is probed
        self.edited: set[str] = set()  # size fields the user typed in: defaults never overwrite them
        self._filling = False
        self._timer: Timer | None = None
        self.estimate_no = 0
        self.answered = 0  # the number of the newest check whose answer is shown

    def compose(self) -> ComposeResult:
        yield Static("", id="recipe", classes="intro")
        with Horizontal(classes="form"):
            yield Select([], prompt="base model", id="train-base")
            yield Select([], prompt="snapshot", id="train-snapshot")
            yield Field("new model id", placeholder="research/OWNER/NAME", id="train-id")
        with Horizontal(classes="form"):
            yield Field("epochs", id="train-epochs", classes="short", type="number")
            yield Field("max steps", placeholder="(epochs)", id="train-steps", classes="short", type="integer",
                        tooltip="overrides epochs when set")
            yield Field("seq len", id="train-seqlen", classes="short", type="integer",
                        tooltip="tokens per packed window")
            yield Field("batch", id="train-batch", classes="short", type="integer",
                        tooltip="windows per optimizer step (effective batch)")
            yield Field("micro batch", id="train-micro", classes="short", type="integer",
                        tooltip="windows per forward pass; cancel stops within one")
        yield Static("probing the hardware…", id="train-estimate", classes="status")

    # -- defaults -----------------------------------------------------------------------------------------------
    def set_hardware(self, info: dict) -> None:
        """Fill the size fields the user has not typed in with the defaults for this machine."""
        self.gpu = bool(info.get("gpus"))
        r = self.recipe
        self._filling = True
        try:
            for name, value in sized_defaults(r, self.gpu).items():
                if name not in self.edited:
                    self.query_one(f"#train-{name}", Input).value = value
        finally:
            self.call_after_refresh(self._done_filling)
        recipe = (f"LoRA r={r['lora_r']} α={r['lora_alpha']} dropout {r['lora_dropout']} on q,k,v,o,gate,up,down · "
                  f"AdamW lr {r['learning_rate']:g} · warmup {r['warmup_ratio']:.0%} {r['scheduler']} · "
                  f"seed {r['seed']}")
        if self.gpu:
            self.query_one("#recipe", Static).update(
                f"the seed's recipe: {recipe} · effective batch {r['batch_size']} (micro {r['micro_batch_size']}), "
                f"{r['epochs']:g} epochs")
        else:
            self.query_one("#recipe", Static).update(
                f"no GPU here, so a CPU-sized run (the demo's): a few steps of short windows, enough to run every "
                f"step of the loop, not to make the model better; on a GPU the form proposes the seed's recipe "
                f"({r['epochs']:g} epochs, batch {r['batch_size']}, seq len {r['seq_len']}) · {recipe}")
        self.request_estimate()

    def _done_filling(self) -> None:
        self._filling = False

    def on_input_changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("train-")
        if name in SIZE_FIELDS and not self._filling:
            self.edited.add(name)
        if name in SIZE_FIELDS or name == "id":
            self.request_estimate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("train-base", "train-snapshot"):
            self.request_estimate()

    # -- values -------------------------------------------------------------------------------------------------
    def _number(self, name: str, kind=int):
        text = self.query_one(f"#train-{name}", Input).value.strip()
        if not text:
            return None
        try:
            return kind(float(text)) if kind is int else kind(text)
        except ValueError:
            raise StudioError(f"{name} must be a number, not {text!r}") from None

    def values(self, need_id: bool = True) -> dict:
        """The train() arguments the form says; a StudioError names what is missing or wrong."""
        base = self.query_one("#train-base", Select).value
        snapshot = self.query_one("#train-snapshot", Select).value
        model_id = self.query_one("#train-id", Input).value.strip()
        if not isinstance(base, str):
            raise StudioError("pick a base model (fork one first)")
        if not isinstance(snapshot, str):
            raise StudioError("pick a dataset snapshot (curate from the Repos pane)")
        if need_id and not model_id:
            raise StudioError("give the new model an id: research/OWNER/NAME")
        overrides = {k: v for k, v in (("batch_size", self._number("batch")),
                                       ("micro_batch_size", self._number("micro"))) if v is not None}
        return {"base_id": base, "snapshot_id": snapshot, "model_id": model_id, "max_steps": self._number("steps"),
                "epochs": self._number("epochs", float), "seq_len": self._number("seqlen"), "overrides": overrides}

    # -- the memory check ---------------------------------------------------------------------------------------
    def request_estimate(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(ESTIMATE_PAUSE_S, self.estimate)

    @property
    def estimated(self) -> bool:
        """No check waiting to start or running: the line shows the newest answer (screenshots wait for it)."""
        return self._timer is None and self.answered == self.estimate_no

    def estimate(self) -> None:
        """The launch's own check (a dry run of app.training_jobs.train) in a worker; the newest request wins."""
        self._timer = None
        if self.gpu is None or not self.app.ready:
            return
        try:
            form = self.values(need_id=False)
        except StudioError as exc:
            self.query_one("#train-estimate", Static).update(f"memory check: {one_line(exc)}")
            self.answered = self.estimate_no
            return
        self.estimate_no += 1
        number, ws = self.estimate_no, self.app.workspace
        self.query_one("#train-estimate", Static).update("memory check: estimating…")

        def work() -> None:
            try:
                from app.training_jobs import train

                result = train(
                    ws, form["base_id"], form["snapshot_id"], form["model_id"] or PLACEHOLDER_ID,
                    max_steps=form["max_steps"], epochs=form["epochs"], seq_len=form["seq_len"], dry_run=True,
                    **form["overrides"])
                text, fits = describe_plan(result), True
            except StudioError as exc:
                text, fits = one_line(exc), False
            except KeyError as exc:  # a config.json without the shapes the estimate reads
                text, fits = f"the config.json of {form['base_id']} has no {exc.args[0]!r} to size the run by", False
            except Exception as exc:
                text, fits = one_line(exc), False
            self.post_message(EstimateMade(number, text, fits))

        self.run_worker(work, thread=True, group="estimate", exit_on_error=False)

    def on_estimate_made(self, message: EstimateMade) -> None:
        message.stop()
        if message.number != self.estimate_no:
            return
        self.answered = message.number
        line = self.query_one("#train-estimate", Static)
        line.set_class(not message.fits, "refused")
        line.update(message.text if message.fits else f"will not start: {message.text}")
