"""What a newcomer ran into, each over a real workspace: a cancelled or failed run's model is not offered; the
Completion pane offers to merge and export a model without a GGUF and shows a failure in full; a run that will not
fit is refused with the fix before it starts and the progress bar stops; the jobs bar lists a run started elsewhere
while it runs; empty panes say when the demo is being seeded; Promotion opens on the newest research model and signs
off only sign-off items."""
from __future__ import annotations

import json

from pilot import settle, wait_for
from studio_seed import HARDWARE, NOW
from test_workflows import TINY, tiny_ws  # noqa: F401  (the fixture)

from app.ui.studio import StudioApp

SIZE = (160, 48)
RESEARCH = "research/platform/coder"


def _app(ws, **kw) -> StudioApp:
    return StudioApp(ws, seed=False, now=NOW, hardware=HARDWARE, watch=False, **kw)


def _text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def _options(app, selector: str) -> list[str]:
    return [value for _, value in app.query_one(selector)._options if isinstance(value, str)]


def _research_model(ws, model_id: str, status: str, adapter: str | None) -> None:
    """A research model of the seeded fork whose training run ended with `status`."""
    store = ws.store()
    try:
        with store.run("train", model_id=None) as run:
            run_id = run.id
        store.set_run_status(run_id, status)
        store.add_model({"id": model_id, "parent_id": "forkies/qwen2.5-coder-7b@v1.0.0", "relation": "lora-finetune",
                         "details": {"run_id": run_id, "adapter_path": adapter}})
        store.update("runs", "id", run_id, {"model_id": model_id})
    finally:
        store.close()


async def test_models_of_cancelled_and_failed_runs_are_not_offered(studio_ws):
    _research_model(studio_ws, "research/newbie/cancelled", "cancelled", None)
    _research_model(studio_ws, "research/newbie/failed", "failed", None)
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert _options(app, "#cmp-tuned") == [RESEARCH]
        await pilot.press("7")
        await settle(pilot)
        assert _options(app, "#promo-model") == [RESEARCH]
        assert app.query_one("#promo-model").value == RESEARCH  # the newest research model, not the base
        await pilot.press("5")
        await settle(pilot)
        shown = app.export_screenshot()
        assert "research/newbie/cancelled" in shown and "research/newbie/failed" in shown  # Lineage keeps them


async def test_completion_offers_merge_and_export_and_shows_the_failure_in_full(studio_ws, tmp_path):
    missing = tmp_path / "gone-adapter"
    _research_model(studio_ws, "research/newbie/coder", "finished", str(missing))
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        app.query_one("#cmp-tuned").value = "research/newbie/coder"
        await settle(pilot)
        assert app.query_one("#cmp-needs").display and app.query_one("#cmp-export").display
        needs = _text(app, "#cmp-needs-text")
        assert needs.startswith("research/newbie/coder is not merged and has no GGUF yet: Merge and export"), needs
        app.query_one("#cmp-tuned-head").update("")
        app.query_one("#completion-pane").request()  # asking for a suggestion says why, instead of waiting on a model that cannot run
        await settle(pilot)
        assert "cannot suggest yet: no GGUF (Merge and export above)" in _text(app, "#cmp-tuned-head")
        await pilot.click("#cmp-export")
        await wait_for(pilot, lambda: "failed" in _text(app, "#cmp-needs-text"), 60, "the merge to fail")
        text = _text(app, "#cmp-needs-text")
        assert text == f"merge and export research/newbie/coder failed: the adapter of research/newbie/coder " \
                       f"is missing at {missing}", text  # in full: the line wraps
        assert not app.query_one("#cmp-export").disabled


async def test_a_run_that_will_not_fit_is_refused_with_the_fix_and_the_bar_stops(tiny_ws):  # noqa: F811
    from train_snapshot import write_snapshot

    write_snapshot(tiny_ws)
    app = _app(tiny_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        form = {"#train-steps": "4", "#train-seqlen": "128", "#train-batch": "4", "#train-micro": "4"}
        assert {k: app.query_one(k).value for k in form} == {"#train-steps": "4", "#train-seqlen": "256",
                                                             "#train-batch": "4", "#train-micro": "4"}
        for selector, value in form.items():  # CPU-sized (the demo's), seq len within the tiny model's context
            app.query_one(selector).value = value
        await wait_for(pilot, lambda: _text(app, "#train-estimate").startswith("CPU fp32 · 4 x 128 tokens a step"),
                       120, "the memory check of the new form")  # the 256 form's estimate also fits: wait for ours
        assert "fits" in _text(app, "#train-estimate"), _text(app, "#train-estimate")
        app.query_one("#train-micro").value = app.query_one("#train-batch").value = "2000000"
        await wait_for(pilot, lambda: "will not start" in _text(app, "#train-estimate"), 120, "the refusal")
        refusal = _text(app, "#train-estimate")
        assert "this run needs about" in refusal and "available RAM" in refusal and "try --micro-batch-size" in refusal
        app.query_one("#train-id").value = "research/me/too-big"
        await pilot.click("#train-launch")
        await wait_for(pilot, lambda: _text(app, "#train-stats").startswith("failed"), 120, "the launch to refuse")
        assert "this run needs about" in _text(app, "#train-stats")
        bar = app.query_one("#train-progress")
        assert bar.total is not None and not app.query_one("#train-launch").disabled  # not spinning
        store = tiny_ws.store()
        try:
            assert store.model("research/me/too-big") is None and not store.query("SELECT id FROM runs")
        finally:
            store.close()


async def test_the_jobs_bar_lists_a_run_started_elsewhere_while_it_runs(studio_ws):
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.query_one("#jobs-bar").display
        store = studio_ws.store()  # as the CLI would: a run of this (live) process
        try:
            with store.run("export", model_id=RESEARCH, config={"types": ["q4_k_m"]}):
                await wait_for(pilot, lambda: app.query_one("#jobs-bar").display, 30, "the jobs bar")
                assert _text(app, "#jobs-bar") == f"running: export q4_k_m {RESEARCH}"
        finally:
            store.close()
        await wait_for(pilot, lambda: not app.query_one("#jobs-bar").display, 30, "the bar to empty")


async def test_empty_panes_say_the_demo_is_being_seeded(workspace):
    from app.ui.messages import SeedFinished, SeedProgressed

    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _text(app, "#repos-empty").startswith("no repos watched yet")
        app.post_message(SeedProgressed("seeding the demo workspace…"))
        await settle(pilot)
        assert _text(app, "#repos-empty").startswith("seeding the demo workspace")
        app.post_message(SeedFinished({}))
        await settle(pilot)
        assert _text(app, "#repos-empty").startswith("no repos watched yet")


async def test_promotion_signs_off_only_sign_off_items_and_shows_evidence_in_full(studio_ws):
    from app.promotion import approval_items

    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot)
        assert _options(app, "#promo-item") == approval_items(studio_ws) and "from-stage" not in approval_items(
            studio_ws)
        table = app.query_one("#promo-checklist")
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        longest = max(range(table.row_count), key=lambda i: len(str(table.get_row_at(i)[2])))
        table.move_cursor(row=longest)
        await settle(pilot)
        evidence = str(table.get_row_at(longest)[2])
        assert evidence in _text(app, "#promo-detail").replace("\n", " ") or evidence in json.dumps(
            _text(app, "#promo-detail")), (evidence, _text(app, "#promo-detail"))
        assert names[0] == "from-stage"


async def test_training_selects_are_filled_when_a_load_lands_before_the_form_mounts(studio_ws):
    """A load that arrives while a Select is not mounted yet (Select.set_options raises there) must not leave the
    base and snapshot selects empty for good: the newcomer tour saw both blank and no memory check."""
    from textual.widgets import Select

    from app.ui.panes.training import TrainingPane

    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        pane = app.query_one(TrainingPane)
        real = app.query_one("#train-base", Select)
        options = pane.options.pop("#train-base")
        with real.prevent(Select.Changed):
            real.clear()
        unmounted = Select([], prompt="base model")  # what query_one finds before the Select's own compose ran
        query_one = pane.query_one
        pane.query_one = lambda selector, *a: unmounted if selector == "#train-base" else query_one(selector, *a)
        try:
            assert pane._set_options("#train-base", options) is False
        finally:
            del pane.query_one  # the class's method again
        await settle(pilot)  # the reload it asked for finds the form mounted
        assert real.value == options[0][1]
        assert pane.options["#train-base"] == options


async def test_merge_then_export_from_lineage_and_each_outcome_stays_on_screen(tiny_ws, tiny_qwen2, tmp_path):  # noqa: F811
    """One click per step on a real adapter of the tiny Qwen2: Merge, then Export, from the Lineage pane's buttons,
    each as a job; how each ended stays under the model's next step after the reload that follows it."""
    from test_export_adapter import _make_adapter

    from app.actions import EXPORT_TYPES

    model = "research/newbie/tiny"
    adapter = _make_adapter(tiny_qwen2, tmp_path / "adapter")
    store = tiny_ws.store()
    try:
        with store.run("train", model_id=None) as run:
            run_id = run.id
        store.add_model({"id": model, "parent_id": TINY, "relation": "lora-finetune",
                         "details": {"run_id": run_id, "adapter_path": str(adapter)}})
        store.update("runs", "id", run_id, {"model_id": model})
    finally:
        store.close()
    app = StudioApp(tiny_ws, seed=False, now=NOW, hardware=HARDWARE, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        tree = app.query_one("#lineage-tree")
        tree.select_node(tree.root.children[0].children[0])
        await wait_for(pilot, lambda: "next: Merge" in _text(app, "#act-status"), 30, "the model's steps")
        await pilot.click("#act-merge")
        await wait_for(pilot, lambda: "next: Export" in _text(app, "#act-status"), 120, "the merge")
        await settle(pilot)
        assert f"last step: merge {model}: done" in _text(app, "#act-status")
        await pilot.click("#act-export")
        await wait_for(pilot, lambda: "ready to evaluate" in _text(app, "#act-status"), 300, "the export")
        await settle(pilot)
        status = _text(app, "#act-status")
        assert f"last step: export {EXPORT_TYPES[0]} {model}: done · wrote " in status, status
    store = tiny_ws.store()
    try:
        assert [a["quant_type"] for a in store.artifacts(model_id=model, kind="gguf")] == [EXPORT_TYPES[0]]
    finally:
        store.close()


def test_an_eval_step_ends_with_its_headline_interval_delta_and_warning():
    """The line a finished eval leaves on the Lineage pane: the suite's gate metric over all samples (not the first
    category's), its interval and n, the paired delta with its verdict, and the small-sample warning."""
    from app.ui.panes.model_actions import outcome

    few = "too few held-out samples to decide (n=6, fewer than 100)"
    result = {"metrics": {"overall": {"score": 0.158}},
              "scores": [{"metric": "exact_match", "category": "overall", "value": 0.0, "ci95": [0.0, 0.39], "n": 6},
                         {"metric": "score", "category": "agent-patterns", "value": 0.5, "ci95": [0.4, 0.6], "n": 2},
                         {"metric": "score", "category": "overall", "value": 0.158, "ci95": [0.082, 0.235], "n": 6,
                          "warning": few}],
              "comparisons": [{"metric": "score", "category": "agent-patterns", "delta": 0.3, "significant": True,
                               "delta_ci95": [0.1, 0.5]},
                              {"metric": "score", "category": "overall", "delta": -0.0015, "significant": False,
                               "delta_ci95": [-0.0128, 0.011]}]}
    assert outcome(result) == ("score 0.158 [0.082, 0.235] n=6 · against the base -0.0015 [-0.0128, +0.011] within "
                               f"noise · {few}")
    latency = {"scores": [{"metric": "p50_ms", "category": None, "value": 620.0, "ci95": [600.0, 650.0], "n": 12},
                          {"metric": "p95_ms", "category": None, "value": 910.0, "ci95": [850.0, 990.0], "n": 12}],
               "comparisons": []}
    assert outcome(latency) == "p95_ms 910 [850, 990] n=12"


async def test_table_cells_in_brackets_are_shown_as_written(studio_ws):
    """Evidence such as "no general score [overall] result" is plain text in a pane's table: Rich read "[overall]"
    as a style tag and dropped it from the screen."""
    from app.ui.panes.base import fill_table

    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot)
        fill_table(app.query_one("#promo-checklist"), [("general-no-regression", "✗",
                                                        "not measured: no general score [overall] result")])
        await settle(pilot)
        assert "score&#160;[overall]&#160;result" in app.export_screenshot().replace(" ", "&#160;")
        for key, line in (("7", "#promo-detail"), ("5", "#act-status")):  # checklist detail, a step's outcome
            await pilot.press(key)
            await settle(pilot)
            app.query_one(line).update("no general score [overall] result")
            assert str(app.query_one(line).render()) == "no general score [overall] result"
