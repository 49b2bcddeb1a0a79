"""Messages that workers post to the UI, each named as the event that has happened."""
from __future__ import annotations

from textual.message import Message


class WorkFailed(Message):
    """A worker's action failed; `reason` is the one-line message shown to the user."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__()
        self.action = action
        self.reason = reason


class LineageChanged(Message):
    """Something was written to the lineage store: panes reload what they show."""

    def __init__(self, what: str = "") -> None:
        super().__init__()
        self.what = what


class WorkspaceReady(Message):
    """The workspace's folders and store exist (created after the first paint when new)."""


class RepoChanged(Message):
    """The watcher saw a file of a watched repo created, changed, moved or deleted."""

    def __init__(self, repo: str, relpath: str) -> None:
        super().__init__()
        self.repo = repo
        self.relpath = relpath


class SeedProgressed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SeedFinished(Message):
    def __init__(self, result: dict) -> None:
        super().__init__()
        self.result = result


class CurationFinished(Message):
    def __init__(self, result: dict) -> None:
        super().__init__()
        self.result = result


class RunStarted(Message):
    def __init__(self, model_id: str, total_steps: int | None, resume: bool) -> None:
        super().__init__()
        self.model_id = model_id
        self.total_steps = total_steps
        self.resume = resume


class LossLogged(Message):
    """One training step's numbers (the jobs' `step` event)."""

    def __init__(self, event: dict) -> None:
        super().__init__()
        self.event = event


class RunFinished(Message):
    """A training or pipeline run ended: `status` is finished, failed or cancelled."""

    def __init__(self, status: str, result: dict | None = None, reason: str = "") -> None:
        super().__init__()
        self.status = status
        self.result = result or {}
        self.reason = reason


class PipelineStepped(Message):
    """The pipeline moved: `step` (train, merge, export, eval) is now `status`."""

    def __init__(self, step: str, status: str, detail: str = "") -> None:
        super().__init__()
        self.step = step
        self.status = status
        self.detail = detail


class CompletionReceived(Message):
    """A model's fill-in-the-middle suggestion for the editor state numbered `request`."""

    def __init__(self, request: int, side: str, model_id: str, result: dict) -> None:
        super().__init__()
        self.request = request
        self.side = side
        self.model_id = model_id
        self.result = result


class SuggestionStreamed(Message):
    """A new piece of a model's suggestion for the editor state numbered `request`, as it is generated."""

    def __init__(self, request: int, side: str, model_id: str, piece: str) -> None:
        super().__init__()
        self.request = request
        self.side = side
        self.model_id = model_id
        self.piece = piece


class HardwareProbed(Message):
    """The accelerator (or its absence) and the memory there is, found after the first paint."""

    def __init__(self, info: dict) -> None:
        super().__init__()
        self.info = info


class EstimateMade(Message):
    """The memory check of the Training form's settings (numbered: the newest wins), or why the run won't start."""

    def __init__(self, number: int, text: str, fits: bool) -> None:
        super().__init__()
        self.number = number
        self.text = text
        self.fits = fits


class JobsListed(Message):
    """The runs that are running now, whoever started them (the studio, the CLI, another studio)."""

    def __init__(self, runs: list[dict]) -> None:
        super().__init__()
        self.runs = runs
