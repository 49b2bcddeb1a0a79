"""The help screen: what each pane does and every key."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# blackroad-studio

Your repositories → a dataset snapshot → a LoRA fine-tune → GGUF → evals → promotion, each step recorded.

| key | pane | what it does |
|---|---|---|
| `1` | **Repos** | watched repos, language mix, files changed since the last snapshot; add, remove, curate |
| `2` | **Snippets** | a snapshot's samples with highlighting, dropped files by reason, secret findings; exclude and re-curate |
| `3` | **Training** | the seed's recipe, GPU and memory estimate, launch, live loss curve, cancel, resume, the pipeline |
| `4` | **Completion** | type; a suggestion appears when you pause; `Tab` accepts; base and fine-tuned side by side |
| `5` | **Lineage** | the derivation tree, with runs, artifacts, evals and events; search with the box |
| `6` | **Benchmarks** | base vs candidate per suite and category, with deltas and a chart |
| `7` | **Promotion** | the checklist with evidence, sign-off, promote, the LINEAGE.md preview |
| `8` | **Staging** | the served models in use: request rate, p50/p95 of real traffic, acceptance with its interval, A/B splits and their verdict, the latest errors |

Pane keys: `1`-`8` work everywhere except in a text field, where digits are typed into the field; `alt+1`-`alt+8`
work everywhere, fields included. `escape` leaves a text field for the tab bar (the footer shows `esc` while you are
in one), closes this screen, and in the Completion editor first dismisses the suggestion. The palette (`ctrl+p`)
has "Go to" each pane and every action of the panes you have opened.

Other keys: `tab`/`shift+tab` move between the widgets of a pane, `←`/`→` on the tab bar switch panes, `ctrl+r`
reload from the store, `?` or `f1` this help, `ctrl+q` quit.

Long work (curation, training, merge, export, evals) runs in the background; the bar under the title lists every
run that is running, whoever started it (the CLI too). A failure shows its reason on its pane and as a
notification, and the studio keeps going. One click per step: Training (launch, cancel within one micro batch,
resume, the pipeline), Lineage (merge, export, eval each suite against the base, checklist), Completion (merge and
export a model that has no GGUF yet), Promotion (sign off, promote).
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
