"""Pilot tests of the studio's long work, each through the real entry point: curation from the Repos pane, a tiny
LoRA run started and cancelled from the Training pane, a streamed completion from the embedded SmolLM2 GGUF, and
the watchdog RepoWatcher updating the Repos pane while the studio runs."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pilot import notifications, settle, wait_for
from studio_seed import HARDWARE, NOW

from app.ui.messages import SuggestionStreamed
from app.ui.studio import StudioApp
from app.workspace import Workspace

SIZE = (140, 42)
TINY = "forkies/tiny@v0.1.0"
REPO_FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "curation" / "repo"


def _app(ws, **kw) -> StudioApp:
    return StudioApp(ws, seed=False, now=NOW, hardware=HARDWARE, **kw)


def _text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def _column(table, name: str) -> list[str]:
    index = [str(c.label) for c in table.columns.values()].index(name)
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


@pytest.fixture
def tiny_ws(tmp_path, tiny_qwen2):
    """A workspace with the tiny Qwen2 forked: its tokenizer measures curation's samples, and it trains in seconds."""
    from app.forks import fork

    ws = Workspace.open(tmp_path / "ws")
    fork(ws, str(tiny_qwen2), TINY)
    return ws


async def test_curate_from_the_repos_pane_then_browse_the_snapshot(tiny_ws, tmp_path):
    repo = tmp_path / "shop"
    shutil.copytree(REPO_FIXTURE, repo)
    (repo / "README.md").write_text("# shop\n")  # dropped: not a language curation reads
    app = _app(tiny_ws, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.query_one("#repo-path").value = str(repo)
        await pilot.click("#repo-add")
        await settle(pilot)
        assert _column(app.query_one("#repos-table"), "name") == ["shop"], notifications(app)
        await pilot.click("#repo-curate")
        await settle(pilot, 3)
        status = _text(app, "#curate-status")
        store = tiny_ws.store()
        try:
            snaps = store.query("SELECT id, stats, path FROM snapshots")
        finally:
            store.close()
        assert len(snaps) == 1, (status, notifications(app))
        snapshot = snaps[0]["id"]
        assert status.startswith(f"snapshot {snapshot}: 3 of 4 files kept"), status
        # the snapshot appears in Snippets, with its samples, highlighted code and the dropped files
        await pilot.press("2")
        await settle(pilot)
        assert app.query_one("#snapshot-select").value == snapshot
        assert not app.query_one("#snippets-empty").display
        samples = app.query_one("#samples-table")
        on_disk = sum(1 for split in ("train.jsonl", "heldout.jsonl")
                      for line in (Path(snaps[0]["path"]) / split).read_text().splitlines() if line.strip())
        assert 0 < on_disk < 400 and samples.row_count == on_disk  # every sample of both splits, one row each
        assert set(_column(samples, "path")) <= {"src/inventory.py", "web/cart.js", "web/types.ts"}
        code = app.query_one("#sample-code")
        assert code.text and code.language in ("python", "javascript", "typescript")
        assert _column(app.query_one("#dropped-table"), "reason") == ["unsupported_language"]
        # the changed-files count went back to 0: curation has seen every file
        await pilot.press("1")
        await settle(pilot)
        assert _column(app.query_one("#repos-table"), "changed") == ["0"]


@pytest.mark.slow
async def test_train_from_the_pane_loss_curve_updates_then_cancel(tiny_ws):
    from train_snapshot import write_snapshot

    write_snapshot(tiny_ws)
    app = _app(tiny_ws, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        app.query_one("#train-base").value = TINY
        app.query_one("#train-snapshot").value = "snap-test"
        app.query_one("#train-id").value = "research/me/pilot"
        app.query_one("#train-steps").value = "500"
        app.query_one("#train-seqlen").value = "128"
        await pilot.pause()
        await pilot.click("#train-launch")
        pane = app.query_one("#training-pane")
        await wait_for(pilot, lambda: len(pane.losses) >= 3, 120, "three losses on the curve")
        assert not app.query_one("#train-cancel").disabled and app.query_one("#train-launch").disabled
        assert pane.steps == sorted(pane.steps) and pane.steps[0] >= 1
        assert _text(app, "#train-stats").startswith(f"step {pane.steps[-1]}/500 · loss ")
        assert any("\u2801" <= ch <= "\u28ff" for ch in app.export_screenshot())  # the braille curve is drawn
        await pilot.click("#train-cancel")
        await wait_for(pilot, lambda: _text(app, "#train-stats").startswith("cancelled"), 120, "the cancel")
        await settle(pilot)
        store = tiny_ws.store()
        try:
            run = store.run_row(store.model("research/me/pilot")["details"]["run_id"])
            recorded = store.metrics(run["id"])
        finally:
            store.close()
        assert run["status"] == "cancelled"
        assert 3 <= len(recorded) < 500
        table = app.query_one("#runs-table")
        assert _column(table, "status") == ["cancelled"] and _column(table, "run") == [run["id"]]
        assert app.query_one("#train-cancel").disabled and not app.query_one("#train-launch").disabled
        assert pane.losses == [m["loss"] for m in recorded]  # the stored curve, once no run is live
        stats = _text(app, "#train-stats")  # where it stopped (within a step: how many micro batches were dropped)
        assert re.match(rf"cancelled (within step {len(recorded) + 1} after \d of \d micro batches \(dropped\)|"
                        rf"after step {len(recorded)}) of 500; Resume continues from the checkpoint", stats), stats
        # the cancelled run's model is not offered where a model is used; Lineage still shows it with its run
        await pilot.press("4")
        await settle(pilot)
        assert "research/me/pilot" not in [value for _, value in app.query_one("#cmp-tuned")._options]
        await pilot.press("5")
        await settle(pilot)
        tree = app.query_one("#lineage-tree")
        labels = [str(node.label) for node in tree.root.children[0].children]
        assert "research/me/pilot [lora-finetune]" in labels, labels


async def test_streamed_completion_from_the_embedded_gguf(embedded_workspace, tmp_path):
    from app.forks import DEMO_BASE_ID

    root = tmp_path / "ws"
    shutil.copytree(embedded_workspace, root)
    streamed: list[SuggestionStreamed] = []  # the hook sees a message again at each node it bubbles to

    def hook(message) -> None:
        if isinstance(message, SuggestionStreamed) and not any(message is m for m in streamed):
            streamed.append(message)
    app = _app(Workspace.open(root), watch=False)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert app.query_one("#cmp-base").value == DEMO_BASE_ID
        assert not isinstance(app.query_one("#cmp-tuned").value, str)  # no fine-tuned model yet
        editor = app.query_one("#cmp-editor")
        await pilot.click("#cmp-suggest")
        assert editor.has_focus  # back in the editor, where Tab accepts
        await wait_for(pilot, lambda: "total" in _text(app, "#cmp-base-head"), 120, "the base's suggestion")
        head = _text(app, "#cmp-base-head")
        assert head.startswith(f"base {DEMO_BASE_ID} · first token ") and head.endswith(" ms"), head
        first_ms, total_ms = (float(part.split()[-2]) for part in head.split(" · ")[1:3])
        assert 0 < first_ms <= total_ms
        text = app.query_one("#cmp-base-text").text
        assert text.strip(), "the model suggested nothing"
        assert len(streamed) >= 2 and "".join(m.piece for m in streamed) == text  # piece by piece, adding up
        assert editor.full_suggestion == text and editor.suggestion.startswith(text.split("\n")[0])
        before = editor.text
        await pilot.press("tab")
        await pilot.pause()
        assert editor.text == before + text and editor.suggestion == ""


async def test_watcher_updates_changed_files_live_and_stops_on_quit(workspace, tmp_path):
    from app.repos import add_repo

    repo = tmp_path / "lib"
    repo.mkdir()
    (repo / "a.py").write_text("def a():\n    return 1\n")
    add_repo(workspace, repo)
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: app.watcher is not None and app.watcher.running, 30, "the watcher")
        watcher = app.watcher
        table = app.query_one("#repos-table")
        assert _column(table, "changed") == ["1"]  # never curated: every file counts
        (repo / "b.py").write_text("def b():\n    return 2\n")
        await wait_for(pilot, lambda: _column(table, "changed") == ["2"], 30, "the new file to be counted")
        # a repo added from the pane is watched too (the watcher restarts over the registered repos)
        other = tmp_path / "tools"
        other.mkdir()
        app.query_one("#repo-path").value = str(other)
        await pilot.click("#repo-add")
        await wait_for(pilot, lambda: app.watcher is not None and "tools" in app.watcher.watched, 30,
                       "the watcher to include the new repo")
        await settle(pilot)
        assert not watcher.running  # the first one was stopped, not leaked
        (other / "t.py").write_text("x = 1\n")
        await wait_for(pilot, lambda: _column(table, "changed") == ["2", "1"], 30, "the new repo's file")
        watcher = app.watcher
    assert not watcher.running and app.watcher is None  # stopped on quit
