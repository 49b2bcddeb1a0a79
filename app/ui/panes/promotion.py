"""Promotion: the checklist with its evidence, manual sign-off, the promote action, and the LINEAGE.md preview."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Markdown, Select, Static

from app.errors import StudioError
from app.errors import one_line
from app import views
from app.ui.panes.base import Pane, empty_state, fill_table

STAGES = ("internal", "production")


class PromotionPane(Pane):
    title = "Promotion"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model_id: str | None = None
        self.stage = "internal"
        self.items: dict[str, dict] = {}  # checklist item name -> item (with its full evidence)
        self.picked: str | None = None  # a model just chosen in the Select

    def compose(self) -> ComposeResult:
        with Horizontal(classes="toolbar"):
            yield Select([], prompt="model", id="promo-model")
            yield Select([(s, s) for s in STAGES], value="internal", allow_blank=False, id="promo-stage")
            yield Static("", id="promo-summary", classes="summary")
        yield empty_state("no model to promote yet — train one from the Training pane", id="promo-empty")
        with Horizontal(id="promo-body"):
            with Vertical(id="promo-left"):
                table = DataTable(id="promo-checklist", cursor_type="row", zebra_stripes=True)
                table.add_columns("item", "", "evidence")
                yield table
                yield Static("", id="promo-detail", classes="status", markup=False)  # evidence: "[overall]" is text
                with Horizontal(classes="form"):
                    yield Select([], prompt="sign-off item", id="promo-item")
                    yield Input(placeholder="by (name)", id="promo-by", classes="short")
                    yield Input(placeholder="note", id="promo-note", classes="short")
                    yield Button("Sign off", id="promo-approve")
                with Horizontal(classes="form"):
                    yield Input(placeholder="name of the promoted model (e.g. coder)", id="promo-name")
                    yield Button("Promote", id="promo-promote", variant="success")
            with VerticalScroll(id="promo-card-box"):
                yield Markdown("", id="promo-card")

    def load(self, store) -> dict:
        from app.checklists import NEXT_STAGE
        from app.promotion import approval_items

        # what can be promoted: finished research models and internal ones, newest research model first
        models = sorted(views.offered_models(store, tuple(NEXT_STAGE)),
                        key=lambda m: (m["stage"] == "research", m.get("created") or ""), reverse=True)
        ids = [m["id"] for m in models]
        picked = self.picked or self.model_id
        chosen = picked if picked in ids else (ids[0] if ids else None)
        self.picked = None
        ws, clock = self.app.workspace, self._clock()
        data = {"models": ids, "chosen": chosen, "checklist": None, "card": None, "errors": [], "sign_offs": []}
        if chosen is None:
            return data
        if chosen != self.model_id:  # a newly shown model: the checklist to its next stage
            self.stage = NEXT_STAGE[next(m["stage"] for m in models if m["id"] == chosen)]
        data["stage"] = self.stage
        try:
            data["sign_offs"] = approval_items(ws)
        except Exception as exc:
            data["errors"].append(f"sign-off items: {one_line(exc)}")
        try:
            from app.promotion import checklist
            data["checklist"] = checklist(ws, chosen, self.stage, **clock)
        except Exception as exc:
            data["errors"].append(f"checklist: {one_line(exc)}")
        try:
            from app.cards import lineage_card
            data["card"] = lineage_card(ws, chosen, **clock)
        except Exception as exc:
            data["errors"].append(f"LINEAGE.md: {one_line(exc)}")
        return data

    def _clock(self) -> dict:
        return {"now": self.app.now} if self.app.now is not None else {}

    def show(self, data: dict) -> None:
        chosen = data["chosen"]
        self.query_one("#promo-empty").show_if(chosen is None)
        self.query_one("#promo-body").display = chosen is not None
        select = self.query_one("#promo-model", Select)
        with select.prevent(Select.Changed):
            select.set_options([(m, m) for m in data["models"]])
            if chosen is not None:
                select.value = chosen
        self.model_id = chosen
        stage = self.query_one("#promo-stage", Select)
        if data.get("stage") and stage.value != data["stage"]:
            with stage.prevent(Select.Changed):
                stage.value = data["stage"]
        item = self.query_one("#promo-item", Select)
        with item.prevent(Select.Changed):
            current = item.value
            item.set_options([(n, n) for n in data["sign_offs"]])
            if current in data["sign_offs"]:
                item.value = current
        checklist = data["checklist"] or {}
        items = checklist.get("items") or []
        self.items = {i["name"]: i for i in items}
        fill_table(self.query_one("#promo-checklist", DataTable),
                   [(i["name"], Text("✓", style="green") if i["passed"] else Text("✗", style="red"),
                     str(i.get("evidence", ""))) for i in items], [i["name"] for i in items])
        summary = " · ".join(data["errors"]) if data["errors"] else (
            f"ready for {self.stage}" if checklist.get("ready") else
            f"not ready for {self.stage}: {sum(1 for i in items if not i['passed'])} of {len(items)} items open")
        self.query_one("#promo-summary", Static).update(summary if chosen else "")
        self.query_one("#promo-promote", Button).disabled = not checklist.get("ready")
        self.query_one("#promo-card", Markdown).update(data["card"] or "*LINEAGE.md preview unavailable: "
                                                       + ("; ".join(data["errors"]) or "no model") + "*")

    # -- events -------------------------------------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "promo-model" and isinstance(event.value, str):
            self.picked = event.value  # shown anew: the checklist to its next stage
        elif event.select.id == "promo-stage" and isinstance(event.value, str):
            self.stage = event.value
        else:
            return
        event.stop()
        self.reload()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted item in full below the table; a sign-off item is also picked for signing."""
        if event.data_table.id == "promo-checklist" and event.row_key is not None:
            event.stop()
            item = self.items.get(str(event.row_key.value))
            if item is None:
                return
            mark = "passes" if item["passed"] else "fails"
            self.query_one("#promo-detail", Static).update(
                f"{item['name']} {mark}: {item.get('evidence', '')}"
                + (f" — {item['description']}" if item.get("description") else ""))
            sign = self.query_one("#promo-item", Select)
            if item.get("check") == "approval" and item["name"] != sign.value:
                with sign.prevent(Select.Changed):
                    sign.value = item["name"]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "promo-approve":
            event.stop()
            self.approve()
        elif event.button.id == "promo-promote":
            event.stop()
            self.promote()

    def approve(self) -> None:
        value = self.query_one("#promo-item", Select).value
        item = value if isinstance(value, str) else ""
        by = self.query_one("#promo-by", Input).value.strip()
        note = self.query_one("#promo-note", Input).value.strip() or None
        if not (self.model_id and item and by):
            self.app.notify("a sign-off needs the item and who signs it", severity="warning")
            return
        ws, model_id = self.app.workspace, self.model_id
        from app.promotion import approve
        self.act("sign off", lambda: approve(ws, model_id, item, by, note=note),
                 lambda _: self.app.notify(f"{item} signed off by {by}"))

    def promote(self) -> None:
        name = self.query_one("#promo-name", Input).value.strip()
        if not (self.model_id and name):
            self.app.notify("give the promoted model a name", severity="warning")
            return
        ws, model_id, stage, clock = self.app.workspace, self.model_id, self.stage, self._clock()

        def work() -> dict:
            from app.promotion import promote
            result = promote(ws, model_id, stage, name, **clock)
            if not result.get("id"):
                raise StudioError(f"promotion of {model_id} returned no id")
            return result

        def done(result: dict) -> None:
            self.model_id = None
            self.app.notify(f"promoted to {result['id']}", timeout=20)  # a milestone: left up a while

        self.act("promote", work, done)

    def commands(self):
        return [("Promote", "promote the selected model when its checklist is ready", self.promote),
                ("Sign off", "record a manual sign-off for the selected checklist item", self.approve)]
