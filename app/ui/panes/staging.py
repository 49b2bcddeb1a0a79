"""Staging: the served models in use. The request rate now, p50/p95 of real traffic, acceptance per model with its
Wilson interval, each A/B split with its verdict, and the latest errors; read from the store in a worker every few
seconds while the pane is on screen (a `serve` process in another terminal writes the rows)."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Select, Static

from app.staging_view import WINDOWS
from app.ui.panes.base import Pane, empty_state, fill_table, fmt

REFRESH_S = 5.0


def acceptance_text(acc: dict | None, shown: bool = True) -> Text:
    if not acc or not acc["shown"]:
        return Text("– (no events)", style="dim")
    lo, hi = acc["ci95"]
    return Text(f"{acc['rate']:.1%} [{lo:.1%}, {hi:.1%}]" + (f" of {acc['shown']}" if shown else ""))


def difference_text(cmp: dict) -> Text:
    if cmp["ci95"] is None:
        return Text("–", style="dim")
    lo, hi = cmp["ci95"]
    significant = lo > 0 or hi < 0
    style = ("bold green" if lo > 0 else "bold red") if significant else "dim"
    return Text(f"{cmp['difference']:+.1%} [{lo:+.1%}, {hi:+.1%}]", style=style)


def headline(data: dict) -> str:
    total = data["total"]
    acc = total.get("acceptance") or {}
    rate = f"{acc['rate']:.1%} accepted of {acc['shown']} shown" if acc.get("shown") else "no acceptance events"
    return (f"{data['rate_per_minute']:g} req/min now · {total['requests']} requests since "
            f"{data['since'] or 'the beginning'} · p50 {fmt(total['p50_ms'], 0)} ms · "
            f"p95 {fmt(total['p95_ms'], 0)} ms · "
            f"{total['errors']} errors, {total['rejected']} rejected · {rate}")


class StagingPane(Pane):
    title = "Staging"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.window = "1d"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([(w, w) for w in WINDOWS], value=self.window, allow_blank=False, id="staging-window")
            yield Static("", id="staging-summary", classes="summary")
        yield empty_state("nothing served yet — `blackroad-studio serve` serves the internal and production models; "
                          "the requests and the editors' events (POST /v1/events) show here", id="staging-empty")
        with Vertical(id="staging-body"):
            models = DataTable(id="staging-models", cursor_type="row", zebra_stripes=True)
            models.add_columns("model", "requests", "ok", "errors", "cancelled", "p50 ms", "p95 ms",
                               "1st token p95", "accepted [95% CI] of shown", "chars/req")
            yield models
            yield Static("A/B splits", classes="caption")
            splits = DataTable(id="staging-splits", cursor_type="row", zebra_stripes=True)
            splits.add_columns("split", "arm", "weight", "requests", "p95 ms", "accepted [95% CI]",
                               "vs first arm [95% CI]", "verdict")
            yield splits
            yield Static("latest errors", classes="caption")
            errors = DataTable(id="staging-errors", cursor_type="row", zebra_stripes=True)
            errors.add_columns("time", "endpoint", "model", "key", "status", "error")
            yield errors

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self.is_on_screen:
            self.reload()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "staging-window" and event.value != self.window:
            self.window = str(event.value)
            self.reload()

    def load(self, store) -> dict:
        from app.staging_view import snapshot

        return snapshot(store, self.window)

    def show(self, data: dict) -> None:
        served = bool(data["last_request"])
        self.query_one("#staging-empty").show_if(not served)
        self.query_one("#staging-body").display = served
        self.query_one("#staging-summary", Static).update(headline(data) if served else "")
        fill_table(self.query_one("#staging-models", DataTable), [
            (model, g["requests"], g["ok"], g["errors"], g["cancelled"], fmt(g["p50_ms"], 0), fmt(g["p95_ms"], 0),
             fmt(g["first_token_p95_ms"], 0), acceptance_text(g.get("acceptance")),
             "–" if (g.get("acceptance") or {}).get("accepted_chars_per_request") is None
             else f"{g['acceptance']['accepted_chars_per_request']:.1f}")
            for model, g in data["by_model"].items()])
        rows = []
        for split in data["splits"]:
            verdicts = {c["a"]: c for c in split["comparisons"]}
            for n, arm in enumerate(split["arms"]):
                cmp = verdicts.get(arm["model_id"])
                rows.append((split["capability"] if n == 0 else "", arm["model_id"], f"{arm['weight']:g}",
                             arm["requests"], fmt(arm["p95_ms"], 0),
                             acceptance_text(arm.get("acceptance"), shown=False),
                             difference_text(cmp) if cmp else Text("(first arm)", style="dim"),
                             cmp["verdict"] if cmp else ""))
            if not split["arms"]:
                rows.append((split["label"], "", "", "", "", "", "", "not a split this studio can read"))
        fill_table(self.query_one("#staging-splits", DataTable),
                   rows or [("no split in this window — `serve --split CAPABILITY=A:0.9,B:0.1`", "", "", "", "",
                             "", "", "")])
        fill_table(self.query_one("#staging-errors", DataTable),
                   [(e["time"], e["endpoint"], e["model_id"] or "–", e["key_name"] or "–", e["http_status"],
                     e["error"] or "–") for e in data["errors"]] or [("none", "", "", "", "", "")])

    def commands(self):
        return [("Staging: reload", "read the serve records again", self.reload)]
