"""Units and samples with real tree-sitter on the Python, TypeScript and JavaScript fixtures."""
from pathlib import Path

import pytest

from training import fim
from training.curation import snippets
from training.curation.samples import SampleConfig, apply_limits, unit_samples

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "curation" / "repo"


def _units(rel, language):
    parsed = snippets.parse((FIXTURES / rel).read_text(), language)
    return parsed, {u.qualname: u for u in parsed.units}


def test_python_units():
    parsed, units = _units("src/inventory.py", "python")
    assert parsed.imports == "import asyncio\nfrom dataclasses import dataclass, field"
    # a class's own unit stops at its first method; Inventory has nothing before __init__ but its docstring
    assert set(units) == {"Item", "Inventory.__init__", "Inventory.add", "Inventory.reserve",
                          "Inventory.restock_later", "available"}
    assert units["Item"].body == "    sku: str\n    quantity: int = 0\n    reserved: int = 0\n"
    add = units["Inventory.add"]
    assert add.kind == "method" and add.class_header == "class Inventory:"
    assert add.header.endswith('"""Add stock for a SKU, creating it on first sight."""\n')   # docstring in the prompt
    assert add.body.lstrip().startswith("item = self.items.setdefault")
    assert units["Item"].header.startswith("@dataclass\nclass Item:")                         # decorators kept
    assert units["available"].start_line == 38 and units["available"].end_line == 43
    assert units["Inventory.restock_later"].signature.startswith("async def restock_later")


def test_typescript_units():
    parsed, units = _units("web/types.ts", "typescript")
    assert parsed.imports == 'import { Money } from "./money";'
    assert units["Order"].kind == "type" and units["OrderStatus"].kind == "type"
    total = units["orderTotal"]
    assert total.header.startswith("/** Sums the lines of an order. */\nexport function orderTotal")
    assert total.body.strip().startswith("let total = 0;") and total.body.rstrip().endswith("}")
    assert units["OrderBook.add"].class_header == "export class OrderBook {"
    assert units["OrderBook"].body == "  private orders = new Map<string, Order>();\n"


def test_javascript_units_and_arrow_functions():
    _, units = _units("web/cart.js", "javascript")
    assert set(units) == {"cartTotal", "renderCart", "Cart.constructor", "Cart.add"}
    assert units["cartTotal"].header == "export const cartTotal = (items) => {\n"


def test_parse_of_broken_code_does_not_crash():
    parsed = snippets.parse("def ok():\n    return 1\n\ndef broken(:\n    pass\n", "python")
    assert "ok" in {u.name for u in parsed.units}


@pytest.mark.parametrize("fmt_name", ["qwen", None])
def test_samples_in_the_base_format(fmt_name, tiny_qwen2):
    from training.tokenizer import load

    parsed, units = _units("src/inventory.py", "python")
    cfg = SampleConfig(fim_format=fmt_name, fim_rate=1.0, spm_rate=0.5)
    samples = []
    for unit in parsed.units:
        samples.extend(unit_samples("shop", "src/inventory.py", "python", parsed, unit, cfg))
    completion = [s for s in samples if s.id == samples[0].id][0]
    assert completion.prompt.startswith("# shop/src/inventory.py\nimport asyncio")
    if fmt_name == "qwen":
        fims = [s for s in samples if s.kind == "fim"]
        assert fims and all(s.prompt.endswith(fim.QWEN.middle) for s in fims)
        assert {s.prompt.startswith(fim.QWEN.prefix) for s in fims} == {True, False}    # both PSM and SPM
    else:
        assert all(s.kind == "completion" for s in samples) and len(samples) > len(parsed.units)
        assert not any("<|fim" in s.prompt for s in samples)
    dropped = {}
    kept = apply_limits(samples, load(str(tiny_qwen2)), cfg, dropped)
    assert kept and all(10 <= s.tokens <= 4096 for s in kept)
    tok = load(str(tiny_qwen2))
    for s in kept[:5]:   # piecewise counts match encoding the whole text (no blank-line runs here)
        whole = len(tok.encode(s.prompt, add_special_tokens=False)) + len(tok.encode(s.completion,
                                                                                    add_special_tokens=False))
        assert whole == s.tokens


def test_smollm2_vocab_has_no_fim_tokens():
    """SmolLM2's tokenizer has starcoder-like specials but no FIM tokens: its samples are plain completions."""
    from app.forks import embedded_gguf
    from gguf import GGUFReader

    field = GGUFReader(str(embedded_gguf("smollm2-135m"))).fields["tokenizer.ggml.tokens"]
    vocab = {bytes(field.parts[i]).decode() for i in field.data}
    assert "<file_sep>" in vocab
    assert fim.detect(vocab) is None


@pytest.mark.parametrize("language,source,expected", [
    ("go", 'package main\n\nimport "fmt"\n\n// Greet says hello.\nfunc Greet(name string) string {\n'
           '\treturn fmt.Sprintf("hi %s", name)\n}\n\ntype Point struct {\n\tX int\n}\n',
     {"Greet": "function", "Point": "type"}),
    ("rust", "use std::fmt;\n\npub struct P {\n    x: i32,\n}\n\nimpl P {\n    pub fn new(x: i32) -> Self {\n"
             "        P { x }\n    }\n}\n", {"P": "type", "P.new": "method"}),
    ("java", "package a;\n\npublic class Shop {\n    private int n;\n\n    public int total(int x) {\n"
             "        return x + n;\n    }\n}\n", {"Shop": "class", "Shop.total": "method"}),
])
def test_other_languages_of_the_grammar_pack(language, source, expected):
    parsed = snippets.parse(source, language)
    assert {u.qualname: u.kind for u in parsed.units} == expected
    assert parsed.imports
