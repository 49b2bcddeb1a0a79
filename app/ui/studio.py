"""The studio app shell: eight panes in tabs, the help screen, the command palette, the repo watcher, the demo seeding.

The first frame shows before anything touches the store: after the first paint a worker creates the workspace when
it is new, then the panes load in thread workers, the watchdog RepoWatcher starts (stopped on quit), and a new
workspace is seeded as the demo (a ~30 s fork of the embedded model the first time) in a worker too."""
from __future__ import annotations

import datetime as _dt
import importlib
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Iterable

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from app.errors import one_line
from app.ui.messages import (LineageChanged, RepoChanged, SeedFinished, SeedProgressed, WorkFailed,
                             WorkspaceReady)
from app.ui.theme import STUDIO_THEME
from app.workspace import Workspace

# (key, label, class path): a pane's module is imported and the pane built the first time it is shown.
PANES = [
    ("repos", "Repos", "app.ui.panes.repos:ReposPane"),
    ("snippets", "Snippets", "app.ui.panes.snippets:SnippetsPane"),
    ("training", "Training", "app.ui.panes.training:TrainingPane"),
    ("completion", "Completion", "app.ui.panes.completion:CompletionPane"),
    ("lineage", "Lineage", "app.ui.panes.lineage:LineagePane"),
    ("benchmarks", "Benchmarks", "app.ui.panes.benchmarks:BenchmarksPane"),
    ("promotion", "Promotion", "app.ui.panes.promotion:PromotionPane"),
    ("staging", "Staging", "app.ui.panes.staging:StagingPane"),
]
LAST = len(PANES)

FIRST_PAINT_GRACE_S = 0.15
REPO_CHANGE_DEBOUNCE_S = 0.3
# LineageChanged reasons after which the watcher re-reads the registered repos.
REPO_SET_CHANGES = ("add repo", "remove repo")


def is_text_field(widget) -> bool:
    """An Input or an editable TextArea: typed characters go there, so bare pane keys do not. (Looked up in
    sys.modules: the footer asks before the first frame, and a widget module not loaded yet has no instances.)"""
    inputs, areas = sys.modules.get("textual.widgets._input"), sys.modules.get("textual.widgets._text_area")
    return (inputs is not None and isinstance(widget, inputs.Input)) or (
        areas is not None and isinstance(widget, areas.TextArea) and not widget.read_only)


def pane_class(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


class StudioApp(App):
    CSS_PATH = Path(__file__).parent / "studio.tcss"
    TITLE = "blackroad-studio"
    # Pane keys: 1-8 from anything but a text field (where digits are typed), alt+1-8 from everywhere (a priority
    # binding: a field never sees it). Escape leaves a field for the tab bar, where 1-8 work again.
    BINDINGS = [
        *(Binding(str(n), f"pane('{key}')", "panes" if n == 1 else label, show=n == 1,
                  key_display=f"1-{LAST}" if n == 1 else None) for n, (key, label, _) in enumerate(PANES, 1)),
        *(Binding(f"alt+{n}", f"show('{key}')", "panes from a field" if n == 1 else label, show=n == 1,
                  priority=True, key_display=f"alt+1-{LAST}" if n == 1 else None) for n, (key, label, _) in enumerate(PANES, 1)),
        Binding("escape", "leave_field", "Leave field"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, workspace: Workspace, seed: bool | None = None, load: bool = True,
                 now: _dt.datetime | None = None, hardware: dict | None = None, watch: bool = True):
        """`workspace` may not exist yet: it is created after the first paint. `seed`: None seeds the demo when the
        workspace holds no model and no repo; `load`: read the store; `watch`: run the RepoWatcher.
        `now` pins the clock (checklists, cards, the Staging pane's window), `hardware` replaces the probe (both for fixed screenshots)."""
        super().__init__()
        self.workspace = workspace
        self.seed = seed
        self.load = load
        self.watch = watch
        self.now = now
        self.hardware = hardware
        self.ready = False  # the workspace exists and the panes may read the store
        self.seeding = False  # the demo workspace is being seeded: empty panes say so
        self.watcher = None  # app.watch.RepoWatcher while it runs
        self._repos_timer = None
        self._watcher_lock = threading.Lock()
        self._quitting = False
        self.register_theme(STUDIO_THEME)  # before the first CSS pass, not after it (on_mount) which redoes it
        self.theme = STUDIO_THEME.name

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="repos", id="panes"):
            for n, (key, label, cls) in enumerate(PANES, 1):
                with TabPane(f"{n} {label}", id=key):
                    if key == "repos":  # the others are built when first shown: the first frame stays cheap
                        yield pane_class(cls)(id=f"{key}-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace.root)
        # Reading the store (sqlite-utils import, queries) would compete for the GIL with the first paint.
        self.call_after_refresh(self.set_timer, FIRST_PAINT_GRACE_S, self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.run_worker(self._prepare_workspace, thread=True, group="workspace", exit_on_error=False)

    def _prepare_workspace(self) -> None:
        """Create the workspace's folders and store when new (sqlite-utils and the migrations load here)."""
        try:
            clock = (lambda: self.now) if self.now is not None else self.workspace.clock  # keep a pinned clock
            self.workspace = Workspace.open(self.workspace.root, clock=clock)
        except Exception as exc:
            self.post_message(WorkFailed("opening the workspace", one_line(exc)))
            return
        self.post_message(WorkspaceReady())

    def on_workspace_ready(self, message: WorkspaceReady) -> None:
        self.ready = True
        from app.ui.jobs_bar import JobsBar

        self.mount(JobsBar(id="jobs-bar"), after=self.query_one(Header))
        if self.load:
            self.reload_panes()
        if self.watch:
            self.restart_watcher()
        if self.seed is not False:
            self.run_worker(self._seed, thread=True, group="seed", exit_on_error=False)

    # -- the repo watcher ---------------------------------------------------------------------------------------
    def restart_watcher(self) -> None:
        """(Re)start the watchdog RepoWatcher over the registered repos, in a thread (watchdog loads there)."""
        self.run_worker(self._restart_watcher, thread=True, group="watcher", exclusive=True, exit_on_error=False)

    def _restart_watcher(self) -> None:
        try:
            from app.watch import RepoWatcher

            with self._watcher_lock:
                old, self.watcher = self.watcher, None
                if old is not None:
                    old.stop()
                if self._quitting:
                    return
                watcher = RepoWatcher(self.workspace,
                                      on_change=lambda repo, rel: self.post_message(RepoChanged(repo, rel)))
                watcher.start()
                self.watcher = watcher
        except Exception as exc:
            self.post_message(WorkFailed("watching the repos", one_line(exc)))

    def stop_watcher(self) -> None:
        """Stop watching (on quit); a restart still in flight sees `_quitting` and starts nothing."""
        self._quitting = True
        with self._watcher_lock:
            watcher, self.watcher = self.watcher, None
            if watcher is not None:
                watcher.stop()

    def on_repo_changed(self, message: RepoChanged) -> None:
        """A watched file changed: the Repos pane's counts reload once a burst of changes has settled."""
        if self._repos_timer is not None:
            self._repos_timer.stop()
        self._repos_timer = self.set_timer(REPO_CHANGE_DEBOUNCE_S, self._reload_repos)

    def _reload_repos(self) -> None:
        self._repos_timer = None
        for pane in self.query("#repos-pane"):
            pane.reload()

    def on_unmount(self) -> None:
        self.stop_watcher()

    # -- panes --------------------------------------------------------------------------------------------------
    def panes(self) -> list:
        """The panes built so far (a pane is built the first time it is shown)."""
        return [pane for key, _, _ in PANES for pane in self.query(f"#{key}-pane")]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        key = event.pane.id
        cls = next((c for k, _, c in PANES if k == key), None)
        if cls is not None and not self.query(f"#{key}-pane"):
            pane = pane_class(cls)(id=f"{key}-pane")
            event.pane.mount(pane)
            if self.load:
                self.call_after_refresh(pane.reload)

    def reload_panes(self) -> None:
        for pane in self.panes():
            pane.reload()

    def action_show(self, key: str) -> None:
        """Show pane `key` with the focus on the tab bar. The focus moves first: a focused widget in the pane being
        hidden would otherwise hand the focus to a sibling there, and TabbedContent follows the focus back."""
        tabbed = self.query_one("#panes", TabbedContent)
        if self.screen is not tabbed.screen and self.screen.is_modal:  # the help screen: close it, then switch
            self.pop_screen()
        tabbed.screen.set_focus(self.tab_bar())
        tabbed.active = key

    def action_pane(self, key: str) -> None:
        """A bare digit: only ever reaches here from outside a text field (a field takes typed digits)."""
        self.action_show(key)

    def tab_bar(self):
        """The pane tabs (not the Lineage pane's inner ones)."""
        return self.query_one("#panes > ContentTabs")

    def action_leave_field(self) -> None:
        self.query_one("#panes", TabbedContent).screen.set_focus(self.tab_bar())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows `1-8` outside a field and `esc leave field` inside one."""
        if action == "pane":
            return not is_text_field(self.focused)
        if action == "leave_field":
            return is_text_field(self.focused)
        return True

    def show_checklist(self, model_id: str) -> None:
        """The Promotion pane on `model_id`'s checklist to its next stage."""
        self.action_show("promotion")

        def pick() -> None:
            for pane in self.query("#promotion-pane"):
                pane.picked = model_id
                pane.reload()

        self.call_after_refresh(pick)

    def action_help(self) -> None:
        from app.ui.help import HelpScreen  # the Markdown widget loads on first use, not before the first frame

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_reload(self) -> None:
        self.reload_panes()
        self.notify("reloaded from the lineage store", timeout=2)

    def on_lineage_changed(self, message: LineageChanged) -> None:
        self.reload_panes()
        if self.watch and self.ready and message.what in REPO_SET_CHANGES:
            self.restart_watcher()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.reason, title=message.action, severity="error", timeout=10)

    # -- the demo workspace -------------------------------------------------------------------------------------
    def _seed(self) -> None:
        try:
            store = self.workspace.store()
            try:
                empty = self.seed or not store.models() and not store.query("SELECT name FROM repos LIMIT 1")
            finally:
                store.close()
            if not empty:
                return
            self.post_message(SeedProgressed("seeding the demo workspace: forking the embedded SmolLM2 "
                                             "(about 30 s the first time)…"))
            from app.demo_seed import seed_demo

            result = seed_demo(self.workspace)
        except Exception as exc:
            self.post_message(WorkFailed("seeding the demo workspace", one_line(exc)))
            self.post_message(SeedFinished({}))
            return
        self.post_message(SeedFinished(result))

    def on_seed_progressed(self, message: SeedProgressed) -> None:
        if not self.seeding:
            self.seeding = True
            self.reload_panes()  # the empty states say that the demo is on its way
        if not self.query("#seed-bar"):  # built when seeding starts, not in the first frame
            from textual.widgets import ProgressBar

            self.mount(Horizontal(Static(message.text, id="seed-text"),
                                  ProgressBar(total=None, show_eta=False, show_percentage=False, id="seed-progress"),
                                  id="seed-bar"), after=self.query_one(Header))
        else:
            self.query_one("#seed-text", Static).update(message.text)

    def on_seed_finished(self, message: SeedFinished) -> None:
        self.seeding = False
        self.query("#seed-bar").remove()
        if message.result:
            self.notify(f"demo workspace ready: {message.result.get('base', '')}", timeout=5)
        self.reload_panes()

    # -- the command palette ------------------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for n, (key, label, _) in enumerate(PANES, 1):
            yield SystemCommand(f"Go to {label}", f"show the {label} pane (key {n})", partial(self.action_show, key))
        yield SystemCommand("Help", "what each pane does and every key", self.action_help)
        yield SystemCommand("Reload", "read everything again from the lineage store", self.action_reload)
        for pane in self.panes():
            for title, help_text, callback in pane.commands():
                yield SystemCommand(title, help_text, callback)
