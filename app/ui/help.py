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

Other keys: `ctrl+p` command palette (every action), `ctrl+r` reload from the store, `?` or `f1` this help,
`escape` leaves the editor or closes this screen, `ctrl+q` quit.

Long work (curation, training, export, evals) runs in the background; a failure shows its one-line reason as a
notification and the studio keeps going.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
