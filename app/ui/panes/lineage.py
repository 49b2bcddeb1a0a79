"""Lineage: the derivation tree from forks to production, and the runs, artifacts, evals and events, searchable."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, Tree

from app import views
from app.ui.panes.base import Pane, empty_state, fill_table, fmt
from app.ui.panes.model_actions import ModelActions

COLUMNS = {
    "runs": ("id", "kind", "model", "base", "snapshot", "status", "created"),
    "artifacts": ("id", "model", "kind", "quant", "size", "sha256", "path"),
    "evals": ("model", "suite", "metric", "category", "value", "baseline", "created"),
    "events": ("id", "time", "kind", "model", "run", "payload"),
}


def _cells(table: str, row: dict) -> tuple:
    if table == "runs":
        return (row["id"], row["kind"], row["model_id"] or "–", row["base_id"] or "–", row["snapshot_id"] or "–",
                row["status"], row["created"])
    if table == "artifacts":
        return (str(row["id"]), row["model_id"] or "–", row["kind"], row["quant_type"] or "–",
                _size(row["size_bytes"]), row["sha256"][:12], row["path"])
    if table == "evals":
        return (row["model_id"], row["suite"], row["metric"], row["category"] or "–", fmt(row["value"]),
                row["baseline_model_id"] or "–", row["created"])
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    return (str(row["id"]), row["time"], row["kind"], row["model_id"] or "–", row["run_id"] or "–",
            " ".join(f"{k}={v}" for k, v in sorted(payload.items()) if k not in ("sha256",))[:80])


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class LineagePane(Pane):
    title = "Lineage"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model_id: str | None = None
        self.tables: dict[str, list[dict]] = {}
        self.shown: dict[str, list[dict]] = {}  # table -> the rows it shows (after the search), in order

    def compose(self) -> ComposeResult:
        yield empty_state("no models yet — the demo fork appears here once seeded (or run `blackroad-studio fork`)",
                          id="lineage-empty")
        with Horizontal(id="lineage-body"):
            with Vertical(id="lineage-left"):
                yield Static("derivation: forks → research → internal → production", classes="caption")
                tree: Tree = Tree("models", id="lineage-tree")
                tree.show_root = False
                yield tree
            with Vertical(id="lineage-right"):
                yield ModelActions(id="model-actions")
                with Horizontal(classes="toolbar"):
                    yield Input(placeholder="search runs, artifacts, evals, events", id="lineage-search")
                    yield Static("all models", id="lineage-scope", classes="summary")
                with TabbedContent(id="lineage-tabs"):
                    for name, columns in COLUMNS.items():
                        with TabPane(name, id=f"lineage-{name}"):
                            table = DataTable(id=f"lineage-{name}-table", cursor_type="row", zebra_stripes=True)
                            table.add_columns(*columns)
                            yield table
                yield Static("", id="lineage-detail", classes="status")

    def load(self, store) -> dict:
        from app.lineage import graph

        from app.actions import readiness

        model_id = self.model_id if self.model_id and store.model(self.model_id) else None
        return {"graph": graph(store), "tables": views.lineage_tables(store, model_id),
                "readiness": readiness(store, model_id) if model_id else None}

    def show(self, data: dict) -> None:
        models = data["graph"]["models"]
        self.query_one("#lineage-empty").show_if(not models)
        self.query_one("#lineage-body").display = bool(models)
        self._fill_tree(models)
        self.tables = data["tables"]
        self.query_one("#lineage-scope", Static).update(self.model_id or "all models")
        self.query_one(ModelActions).set_model(self.model_id if data["readiness"] else None, data["readiness"])
        self._fill_tables()

    def _fill_tree(self, models: list[dict]) -> None:
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        ids = {m["id"] for m in models}
        children: dict[str | None, list[dict]] = {}
        for m in models:
            children.setdefault(m["parent_id"] if m["parent_id"] in ids else None, []).append(m)

        def add(node, model: dict) -> None:
            extra = f" [{model['relation']}]" if model.get("relation") and model["relation"] != "fork" else ""
            kids = children.get(model["id"], [])
            label = Text(model["id"] + extra)  # plain text: "[lora-finetune]" is not markup
            child = node.add(label, data=model["id"], expand=True) if kids else node.add_leaf(label, data=model["id"])
            for kid in kids:
                add(child, kid)

        for root in children.get(None, []):
            add(tree.root, root)
        tree.root.expand()

    def _fill_tables(self) -> None:
        needle = self.query_one("#lineage-search", Input).value
        for name in COLUMNS:
            rows = [(r, _cells(name, r)) for r in self.tables.get(name, [])]
            kept = [(r, cells) for r, cells in rows if views.matches(list(cells), needle)]
            self.shown[name] = [r for r, _ in kept]
            fill_table(self.query_one(f"#lineage-{name}-table", DataTable), [cells for _, cells in kept])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted row in full below the tables (the columns cut long ids, paths and payloads)."""
        table_id = event.data_table.id or ""
        if not table_id.startswith("lineage-") or event.cursor_row < 0:
            return
        event.stop()
        name = table_id.removeprefix("lineage-").removesuffix("-table")
        rows = self.shown.get(name, [])
        if event.cursor_row < len(rows):
            row = rows[event.cursor_row]
            self.query_one("#lineage-detail", Static).update(
                " · ".join(f"{k} {v}" for k, v in row.items() if v not in (None, "", {}, [])))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "lineage-search":
            event.stop()
            self._fill_tables()

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        selected = event.node.data
        self.model_id = None if selected == self.model_id else selected
        self.reload()

    def commands(self):
        actions = self.query_one(ModelActions)
        return [("Lineage: all models", "show every model's runs, artifacts, evals and events", self.show_all),
                *actions.commands()]

    def show_all(self) -> None:
        self.model_id = None
        self.reload()
