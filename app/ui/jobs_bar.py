"""The jobs bar under the header: every run that is running now, whoever started it (this studio, the CLI, another
studio), read from the store every couple of seconds and listed live. When the set of running runs changes, the
panes reload, so a run started from the CLI shows on the Training pane while it runs and its model once it ends."""
from __future__ import annotations

from textual.widgets import Static

from app.errors import one_line
from app.ui.messages import JobsListed, LineageChanged

POLL_S = 2.0


def running_runs(store) -> list[dict]:
    """Runs in state queued or running, newest first, with the last recorded step of a training run."""
    runs = store.query("SELECT id, kind, model_id, status, pid, host, config FROM runs "
                       "WHERE status IN ('queued', 'running') ORDER BY created DESC, id DESC")
    for run in runs:
        last = store.one("SELECT step FROM run_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1", [run["id"]])
        run["step"] = last["step"] if last else None
    return runs


def describe(run: dict) -> str:
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    detail = {"eval": config.get("suite"), "export": ",".join(config.get("types") or [])}.get(run["kind"])
    step = f" step {run['step']}" if run.get("step") is not None else ""
    return f"{run['kind']}{' ' + detail if detail else ''} {run['model_id'] or ''}{step}".strip()


class JobsBar(Static):
    """One line: `running: train research/me/coder step 3 · export q8_0 research/…` (hidden when nothing runs)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.running: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        if self.app.ready:
            self.run_worker(self._read, thread=True, exclusive=True, group="jobs-bar", exit_on_error=False)

    def _read(self) -> None:
        try:
            store = self.app.workspace.store()
            try:
                runs = running_runs(store)
            finally:
                store.close()
        except Exception as exc:  # a store being migrated or locked: try again next time
            runs = [{"id": "?", "kind": "store", "model_id": one_line(exc), "step": None}]
        self.post_message(JobsListed(runs))

    def on_jobs_listed(self, message: JobsListed) -> None:
        message.stop()
        runs = message.runs
        self.display = bool(runs)
        self.update("running: " + " · ".join(describe(r) for r in runs) if runs else "")
        ids = tuple(r["id"] for r in runs)
        if ids != self.running:  # started or ended somewhere: everything that lists runs or models reloads
            self.running = ids
            self.post_message(LineageChanged("jobs"))
        elif runs:  # still running: the Training pane follows the loss of a run it did not start
            for pane in self.app.query("#training-pane"):
                pane.reload()
