"""The pipeline's steps, in the order it runs them: one list for the pipeline and the Training pane alike.
A module of its own because the UI reads it before its first paint (app.pipeline loads the store)."""
from __future__ import annotations

from eval.suites import SUITES

STEP_NAMES = ("train", "merge", "export", *(f"eval-{suite}" for suite in SUITES), "cards", "checklist")
