"""Pilot tests of the studio's panes over real workspaces (real SQLite store, real entry points where they exist)."""
from __future__ import annotations

from pilot import notifications, settle, wait_for
from studio_seed import HARDWARE, NOW

from app.ui.help import HelpScreen
from app.ui.studio import PANES, StudioApp
from app.workspace import Workspace

SIZE = (140, 42)


def _app(ws, **kw) -> StudioApp:
    return StudioApp(ws, seed=False, now=NOW, hardware=HARDWARE, **kw)


async def test_every_pane_by_key_with_honest_empty_states_and_help(workspace):
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for n, (key, label, _) in enumerate(PANES, 1):
            await pilot.press(str(n))
            await settle(pilot, 1)
            assert app.query_one("#panes").active == key, label
        for empty in ("#repos-empty", "#snippets-empty", "#lineage-empty", "#bench-empty", "#promo-empty"):
            assert app.query_one(empty).display, empty
        assert "curate from the Repos pane" in str(app.query_one("#snippets-empty").render())
        await pilot.press("1")  # leave the editor so ? reaches the app
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_add_repo_from_the_pane(workspace, tmp_path):
    repo = tmp_path / "myrepo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#repo-path").value = str(repo)
        app.query_one("#repo-name").value = "myrepo"
        await pilot.click("#repo-add")
        await settle(pilot)
        store = workspace.store()
        try:
            assert [r["name"] for r in store.query("SELECT name FROM repos")] == ["myrepo"], notifications(app)
        finally:
            store.close()
        table = app.query_one("#repos-table")
        assert table.row_count == 1 and str(table.get_row_at(0)[0]) == "myrepo"
        assert str(table.get_row_at(0)[3]) == "1"  # never curated: its one file counts as changed
        assert any(f"watching {repo}" in m for m in notifications(app))
        assert app.query_one("#repo-path").value == ""  # the form is cleared for the next one


async def test_bad_repo_path_is_a_toast_not_a_crash(workspace, tmp_path):
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#repo-path").value = str(tmp_path / "does-not-exist")
        await pilot.click("#repo-add")
        await settle(pilot)
        assert app.is_running
        messages = notifications(app)
        assert messages and all("\n" not in m for m in messages), messages


async def test_lineage_tree_select_and_search(studio_ws):
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        tree = app.query_one("#lineage-tree")
        labels = [str(n.label) for n in tree.root.children]
        assert labels == ["forkies/qwen2.5-coder-7b@v1.0.0"]
        research = tree.root.children[0].children[0]
        assert str(research.label).startswith("research/platform/coder")
        all_events = app.query_one("#lineage-events-table").row_count
        tree.select_node(research)
        await settle(pilot)
        assert str(app.query_one("#lineage-scope").render()) == "research/platform/coder"
        assert app.query_one("#lineage-artifacts-table").row_count == 3  # adapter, merged, gguf
        assert 0 < app.query_one("#lineage-events-table").row_count < all_events
        await pilot.click("#lineage-search")
        await pilot.press(*"merged")
        await pilot.pause()
        assert app.query_one("#lineage-artifacts-table").row_count == 1


async def test_benchmarks_deltas_against_the_base(studio_ws):
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot)
        table = app.query_one("#bench-table")
        rows = {(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])): table.get_row_at(i)
                for i in range(table.row_count)}
        # each delta with ± half its paired 95% interval; "noise" when the interval holds zero
        assert str(rows[("humaneval", "–")][6]) == "+0.030 ±0.035 noise" and str(rows[("humaneval", "–")][5]) == "100"
        assert str(rows[("internal", "overall")][6]).startswith("+0.230 ±0.00")
        assert str(rows[("general", "overall")][6]).endswith(" noise")
        assert str(rows[("latency", "–")][6]) == "–"
        assert "1 better, 0 worse (significant), 2 within noise" in str(app.query_one("#bench-summary").render())


async def test_promote_then_sign_off_from_the_pane(studio_ws):
    from app.cards import write_cards

    write_cards(studio_ws, "research/platform/coder", now=NOW)  # attribution beside the artifacts
    app = _app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot)
        assert "ready for internal" in str(app.query_one("#promo-summary").render())
        assert not app.query_one("#promo-promote").disabled
        assert "LINEAGE: research/platform/coder" in app.query_one("#promo-card").source
        app.query_one("#promo-name").value = "coder"
        await pilot.click("#promo-promote")
        await settle(pilot, 3)
        store = studio_ws.store()
        assert store.model("internal/coder/v1")["parent_id"] == "research/platform/coder"
        assert any("promoted to internal/coder/v1" in m for m in notifications(app))
        # the promoted model, towards production: a sign-off is recorded in the store
        pane = app.query_one("#promotion-pane")
        pane.model_id, pane.stage = "internal/coder/v1", "production"
        pane.reload()
        await settle(pilot)
        assert "not ready for production" in str(app.query_one("#promo-summary").render())
        app.query_one("#promo-item").value = "legal-approval"
        app.query_one("#promo-by").value = "dana"
        await pilot.click("#promo-approve")
        await settle(pilot, 3)
        approvals = store.query("SELECT item, by FROM approvals WHERE model_id = 'internal/coder/v1'")
        assert approvals == [{"item": "legal-approval", "by": "dana"}]
        table = app.query_one("#promo-checklist")
        row = next(table.get_row_at(i) for i in range(table.row_count) if str(table.get_row_at(i)[0]) == "legal-approval")
        assert str(row[1]) == "✓"


async def test_completion_tab_accepts_the_suggestion(workspace):
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        editor = app.query_one("#cmp-editor")
        editor.focus()
        await pilot.pause()
        editor.suggestion = "return [0, 1][:n]"
        await pilot.press("tab")
        await pilot.pause()
        assert editor.text.endswith("    return [0, 1][:n]")
        assert editor.suggestion == ""


async def test_open_studio_on_a_fresh_folder_creates_the_workspace_after_the_first_paint(tmp_path):
    """`blackroad-studio` on a new folder: the first frame comes first, then a worker creates the store."""
    ws = Workspace(tmp_path / "fresh")
    assert not ws.exists
    app = StudioApp(ws, seed=False, hardware=HARDWARE, watch=False)
    assert app.seed is False and not app.ready
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#panes").active == "repos"  # painted, with the store not there yet
        await settle(pilot)
        assert app.ready and ws.exists and app.workspace.exists
        assert app.query_one("#repos-empty").display  # the new store, read: no repos
    assert StudioApp(Workspace(tmp_path / "other")).seed is None  # by default: seeds when the store is empty


def test_a_file_as_the_workspace_is_a_one_line_error(tmp_path, cli):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    out = cli("--workspace", str(path), "tui", timeout=60)
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "it is a file, not a folder" in out.stderr


async def test_seed_bar_is_built_when_seeding_starts(workspace):
    from app.ui.messages import SeedFinished, SeedProgressed

    app = _app(workspace, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.query("#seed-bar")  # not part of the first frame
        app.post_message(SeedProgressed("seeding the demo workspace…"))
        await pilot.pause()
        assert app.query_one("#seed-bar").display and app.query_one("#seed-bar").region.height == 1
        assert str(app.query_one("#seed-text").render()) == "seeding the demo workspace…"
        app.post_message(SeedFinished({"base": "forkies/x@v1.0.0"}))
        await settle(pilot)
        assert not app.query("#seed-bar")
        assert any("demo workspace ready: forkies/x@v1.0.0" in m for m in notifications(app))
