"""LINEAGE.md (golden, from a seeded store with a pinned clock), the HF model card and the Ollama Modelfile."""
import datetime as dt
import os
from pathlib import Path

import pytest
import yaml

from app import promotion
from app.cards import lineage_card, write_cards
from app.lineage import graph, render_tree
from eval.suites import SUITES
from lineage_seed import BASE, RESEARCH, T0, pin_clock, record_evals, seed

GOLDEN = Path(__file__).parent / "golden" / "LINEAGE.md"
NOW = T0 + dt.timedelta(days=2)
SECTIONS = ["Derivation chain", "Base model", "Derivation method", "Training data", "Training configuration",
            "Performance against the base", "Attribution and licensing", "Next steps", "Timeline", "Metadata"]


@pytest.fixture
def seeded(workspace):
    pin_clock(workspace)
    return seed(workspace)


def _promoted(workspace, seeded) -> str:
    record_evals(workspace, seeded)
    write_cards(workspace, RESEARCH, now=NOW)
    return promotion.promote(workspace, RESEARCH, "internal", "coder", now=NOW)["id"]


def test_golden_lineage(workspace, seeded):
    """The promoted model's LINEAGE.md, byte for byte (UPDATE_GOLDEN=1 rewrites the golden file)."""
    internal = _promoted(workspace, seeded)
    text = lineage_card(workspace, internal, now=NOW)
    assert str(workspace.root) not in text  # paths are workspace-relative: the card reads the same anywhere
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    # the card written beside the artifacts is the same document
    assert (seeded["gguf"].parent / "LINEAGE.md").read_text(encoding="utf-8") == text


def test_card_sections_and_values_come_from_the_store(workspace, seeded):
    internal = _promoted(workspace, seeded)
    text = lineage_card(workspace, internal, now=NOW)
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == SECTIONS
    # every number with its 95% interval, every delta with its paired interval and what it means
    assert "| pass@1 | 0.72 [0.625, 0.799] | 0.75 [0.657, 0.825] | +0.03 [+0, +0.07] within noise | 100 |" in text
    assert ("| score [overall] | 0.61 [0.597, 0.622] | 0.84 [0.827, 0.852] | +0.23 [+0.228, +0.233] significant "
            "| 256 |") in text
    assert "| p95_ms | not measured | 412 | – | not recorded |" in text
    assert "- numbers without an interval were recorded without per-sample scores" in text
    assert "| general-no-regression | pass | score 0.55 vs 0.56" in text and "within noise" in text
    assert "research/platform/coder [lora-finetune]" in text and "internal/coder/v1 [promotion]   <- this model" in text
    assert "| python | 3500 | 68.4% | 300 | 910,000 |" in text and "| agent-hub | 4f2a9c1e |" in text
    assert "| agent-hub | agent_hub/settings.py | 12 | aws-key |" in text
    assert "| gpu | NVIDIA H100 80GB HBM3 |" in text and "| seed | 42 |" in text
    assert "blackroad-studio promote internal/coder/v1 --to production --name coder" in text
    assert "| days-in-internal | FAIL |" in text


def test_not_measured_is_never_a_number(workspace, seeded):
    text = lineage_card(workspace, RESEARCH, now=NOW)
    perf = text.split("## Performance against the base")[1].split("## Attribution")[0]
    assert perf.count("not measured") == len(SUITES) and not any(ch.isdigit() for ch in perf.replace("###", ""))
    assert "| humaneval-pass@1 | FAIL | not measured" in text
    # a fork: no training data, no run; the chain is just itself
    base_text = lineage_card(workspace, BASE, now=NOW)
    assert "A base model: no training data recorded here." in base_text and "Train a LoRA on this base" in base_text


def test_hf_card_and_modelfile(workspace, seeded):
    record_evals(workspace, seeded)
    result = write_cards(workspace, RESEARCH, now=NOW)
    readme = seeded["gguf"].parent / "README.md"
    front = yaml.safe_load(readme.read_text().split("---\n")[1])
    assert front["base_model"] == "Qwen/Qwen2.5-Coder-7B" and front["base_model_relation"] == "finetune"
    assert front["license"] == "apache-2.0"
    results = {r["dataset"]["type"]: r["metrics"] for r in front["model-index"][0]["results"]}
    assert results["openai_humaneval"][0]["value"] == 0.75
    assert {m["name"]: m["value"] for m in results["internal"]} == {"score [overall]": 0.84, "score [python]": 0.86}
    adapter_front = yaml.safe_load((seeded["adapter"] / "README.md").read_text().split("---\n")[1])
    assert adapter_front["base_model_relation"] == "adapter" and adapter_front["library_name"] == "peft"
    modelfile = (seeded["gguf"].parent / "coder-q8_0.Modelfile").read_text()
    assert "FROM ./coder-q8_0.gguf" in modelfile
    assert ('TEMPLATE """{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>'
            '{{- else }}{{ .Prompt }}{{- end }}"""') in modelfile
    for stop in ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|file_sep|>"):
        assert f'PARAMETER stop "{stop}"' in modelfile
    assert 'LICENSE """apache-2.0' in modelfile and "Derived from Qwen/Qwen2.5-Coder-7B" in modelfile
    # recorded with their sha256; a second run records nothing new (same content)
    store = workspace.store()
    kinds = sorted(a["kind"] for a in store.artifacts(RESEARCH) if a["kind"] in ("hf-card", "modelfile", "lineage-card"))
    assert kinds == ["hf-card"] * 3 + ["lineage-card"] * 4 + ["modelfile"]
    count = len(store.artifacts())
    store.close()
    again = write_cards(workspace, RESEARCH, now=NOW)
    store = workspace.store()
    assert len(store.artifacts()) == count and again["markdown"] == result["markdown"]
    # the fork's source folder is never written into
    assert not (Path(store.model(BASE)["path"]) / "README.md").exists()
    store.close()


def test_lineage_shows_expiry(workspace, seeded):
    store = workspace.store()
    g = graph(store)
    store.close()
    assert "research/platform/coder [lora-finetune]  (expires 2027-01-30)" in render_tree(g, NOW)
    assert "(EXPIRED 2027-01-30)" in render_tree(g, T0 + dt.timedelta(days=95))


def test_cli_card(cli, ws_root, workspace, seeded):
    out = cli("card", RESEARCH)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# LINEAGE: research/platform/coder\n") and "wrote hf-card" in out.stderr
    missing = cli("card", "research/platform/nope")
    assert missing.returncode == 1 and "no model" in missing.stderr


def test_lineage_says_the_feedback_a_model_was_trained_on(workspace, seeded):
    """A snapshot with feedback from a staged model (curate --feedback): LINEAGE.md says how many from how many."""
    from lineage_seed import SNAPSHOT
    import json

    store = workspace.store()
    stats = store.snapshot(SNAPSHOT)["stats"]
    assert "### Feedback" not in lineage_card(workspace, RESEARCH, now=NOW)
    stats["feedback"] = {"model": "internal/coder/v1", "accepted_completions": 40, "samples": 37,
                         "summary": "feedback from the staging of internal/coder/v1: 37 samples from 40 accepted completions"}
    with store.conn:
        store.conn.execute("UPDATE snapshots SET stats = ? WHERE id = ?", [json.dumps(stats), SNAPSHOT])
    store.close()
    text = lineage_card(workspace, RESEARCH, now=NOW)
    assert ("### Feedback\n\nfeedback from the staging of internal/coder/v1: 37 samples from 40 accepted completions"
            in text)
    assert "| feedback |" not in text
