"""Benchmarks: base vs candidate per suite and category with deltas, like the seed's tables, and a chart.

Every delta carries its paired 95% interval (± half its width) and reads "noise" when the interval holds zero; the
summary counts only significant differences and warns when a number stands on too few samples."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Select, Static
from textual_plotext import PlotextPlot

from app import views
from app.ui.panes.base import Pane, empty_state, fill_table, fmt


def _delta(row: dict) -> Text:
    if row["delta"] is None:
        return Text("–")
    info = row.get("uncertainty") or {}
    ci = info.get("delta_ci95")
    text = f"{row['delta']:+.3f}" + ("" if row["same_settings"] else " ≠")
    if info.get("significant") is None or not ci or None in ci:  # no paired interval recorded
        style = "" if row["better"] is None else ("green" if row["better"] else "red")
        return Text(text + " (no CI)", style=style)
    text += f" ±{(ci[1] - ci[0]) / 2:.3f}"
    if not info["significant"]:
        return Text(text + " noise", style="dim")
    return Text(text, style="bold green" if info["better"] else "bold red")


def _n(row: dict) -> Text:
    info = row.get("uncertainty") or {}
    if not info.get("n"):
        return Text("–")
    short = bool(info.get("warning")) or bool(info.get("indicative"))
    return Text(str(info["n"]) + (" !" if short else ""), style="yellow" if short else "")


def summary(rows: list[dict]) -> str:
    """"2 better, 1 worse (significant), 5 within noise of 8 metrics", and the too-few-samples warning."""
    infos = [r.get("uncertainty") or {} for r in rows if r["delta"] is not None]
    better = sum(1 for i in infos if i.get("significant") and i.get("better"))
    worse = sum(1 for i in infos if i.get("significant") and i.get("better") is False)
    noise = sum(1 for i in infos if i.get("significant") is False)
    unknown = sum(1 for i in infos if i.get("significant") is None)
    text = f"{better} better, {worse} worse (significant), {noise} within noise of {len(rows)} metrics"
    text += f", {unknown} without an interval" if unknown else ""
    warnings = sorted({i["warning"] for r in rows for i in (r.get("uncertainty") or {},) if i.get("warning")})
    return text + (f" — {warnings[0]}" if warnings else "")


class BenchmarksPane(Pane):
    title = "Benchmarks"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.candidate: str | None = None
        self.baseline: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([], prompt="candidate", id="bench-candidate")
            yield Select([], prompt="baseline", id="bench-baseline")
            yield Static("", id="bench-summary", classes="summary")
        yield empty_state("no eval results yet — run `blackroad-studio eval ID --suite humaneval|internal|latency` "
                          "or the pipeline from the Training pane", id="bench-empty")
        with Horizontal(id="bench-body"):
            table = DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("suite", "category", "metric", "base", "candidate", "n", "Δ ±95%")
            yield table
            yield PlotextPlot(id="bench-plot")

    def load(self, store) -> dict:
        evaluated = [r["model_id"] for r in store.query(
            "SELECT model_id, max(id) AS last FROM eval_results GROUP BY model_id ORDER BY last DESC")]
        candidate = self.candidate if self.candidate in evaluated else (evaluated[0] if evaluated else None)
        baseline = self.baseline or (views.default_baseline(store, candidate) if candidate else None)
        rows = views.compare_evals(store, candidate, baseline) if candidate else []
        if rows:
            from app.intervals import annotate

            annotate(store, candidate, baseline, rows)
        return {"evaluated": evaluated, "models": views.model_ids(store), "candidate": candidate,
                "baseline": baseline, "rows": rows}

    def show(self, data: dict) -> None:
        has = data["candidate"] is not None
        self.query_one("#bench-empty").show_if(not has)
        self.query_one("#bench-body").display = has
        self._options("#bench-candidate", data["evaluated"], data["candidate"])
        self._options("#bench-baseline", data["models"], data["baseline"])
        self.candidate = data["candidate"]
        rows = data["rows"]
        fill_table(self.query_one("#bench-table", DataTable),
                   [(r["suite"], r["category"] or "–", r["metric"], fmt(r["base"]), fmt(r["candidate"]), _n(r),
                     _delta(r)) for r in rows])
        self.query_one("#bench-summary", Static).update(summary(rows) if has else "")
        self._chart(rows, data["baseline"], data["candidate"])

    def _options(self, selector: str, values: list[str], chosen: str | None) -> None:
        select = self.query_one(selector, Select)
        with select.prevent(Select.Changed):
            select.set_options([(v, v) for v in values])
            if chosen in values:
                select.value = chosen

    def _chart(self, rows: list[dict], baseline: str | None, candidate: str | None) -> None:
        """Grouped bars of the 0..1 metrics that matter most: pass@k and the internal score per category."""
        plot = self.query_one("#bench-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        shown = [r for r in rows if r["candidate"] is not None and
                 (r["metric"].startswith("pass@") or r["metric"] == "score")][:8]
        if shown:
            labels = [r["metric"] if r["suite"] == "humaneval" else (r["category"] or r["metric"]) for r in shown]
            plt.multiple_bar(labels, [[r["base"] or 0.0 for r in shown], [r["candidate"] for r in shown]],
                             labels=[f"base {baseline or ''}", f"candidate {candidate or ''}"])
            plt.ylim(0, 1)
            plt.title("pass@k and internal score (0..1)")
        plot.refresh()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id not in ("bench-candidate", "bench-baseline"):
            return
        event.stop()
        value = event.value if isinstance(event.value, str) else None
        if event.select.id == "bench-candidate":
            self.candidate, self.baseline = value, None
        else:
            self.baseline = value
        self.reload()
