"""The export parity check judges the file itself, at every type F32 to Q4_K_M: llama.cpp's logits on the GGUF
against torch's on that GGUF's own dequantized weights. Right files pass at every type (random-weight models with
flat logits included); a file with a wrong rope base, eps, head count or tokenizer fails at every type."""
import json
import shutil

import numpy as np
import pytest

from tiny_models import make_tiny_llama, make_tiny_qwen2

TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q4_k_m", "q5_k_m", "q6_k")


def _write_all_types(model_dir, out_dir, stem, vocab_edit=None):
    """The GGUF of model_dir at every type (the K-quants through llama.cpp from the F32 file); [(path, type)]."""
    from export.hf_source import open_model
    from export.quantize import quantize
    from export.tensor_names import LLAMA_CPP_TYPES, PYTHON_TYPES
    from export.vocab import load_vocab
    from export.writer import ExportMeta, write_gguf

    model = open_model(model_dir)
    vocab = load_vocab(model_dir, model.vocab_rows)
    if vocab_edit is not None:
        vocab_edit(vocab)
    files = []
    for t in PYTHON_TYPES:
        path = out_dir / f"{stem}-{t}.gguf"
        write_gguf(model, vocab, path, t, ExportMeta(name=stem))
        files.append((path, t))
    for t in LLAMA_CPP_TYPES:
        path = out_dir / f"{stem}-{t}.gguf"
        quantize(out_dir / f"{stem}-f32.gguf", path, t)
        files.append((path, t))
    assert [t for _, t in files] == list(TYPES)
    return files


def _with_config(src, dst, **changes):
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    for key, value in changes.items():
        if key == "rope_theta" and "rope_parameters" in cfg:
            cfg["rope_parameters"]["rope_theta"] = value
        cfg[key] = value
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.fixture(scope="module")
def flat_qwen2(tmp_path_factory):
    """Random weights at transformers' default spread (flat logits), rows of 256 so the K-quants quantize every
    matrix in K blocks: the kind of model whose q8_0 export the old float-model gate refused."""
    return make_tiny_qwen2(tmp_path_factory.mktemp("flat-qwen2") / "model", seed=11, hidden=256)


@pytest.fixture(scope="module")
def sharp_llama(tmp_path_factory):
    """Random weights spread wide enough that attention is sharp, so positions (rope), norms (eps) and heads
    change what the model computes; rows of 256 for the K-quants."""
    return make_tiny_llama(tmp_path_factory.mktemp("sharp-llama") / "model", hidden=256, init_std=0.1)


@pytest.mark.parametrize("fixture", ["flat_qwen2", "sharp_llama"])
def test_every_type_passes_and_reports_its_quantization_cost(request, fixture, workspace, tmp_path):
    from app.exporting import export

    model_dir = request.getfixturevalue(fixture)
    out = export(workspace, str(model_dir), types=",".join(TYPES), out=tmp_path / "o")
    assert [a["type"] for a in out["artifacts"]] == list(TYPES)
    for art in out["artifacts"]:
        report = art["verify"]
        assert report["tokenization"]["mismatches"] == []
        logits, cost = report["logits"], report["quantization"]
        assert logits["positions"] == cost["positions"] >= 700
        if art["type"] == "f32":  # the file's weights are the model's: the two comparisons coincide
            assert logits["relative_diff"] < 1e-4 and cost["kl_mean"] < 1e-7
        else:  # what the file is judged on (its own weights) is far closer than what quantization costs
            assert logits["kl_mean"] <= cost["kl_mean"]
        assert "F32" in report["dequantized_types"]
        if art["type"] in ("q4_k_m", "q5_k_m", "q6_k"):  # K blocks, not a fallback type, were judged
            assert {"Q4_K", "Q5_K", "Q6_K"} & set(report["dequantized_types"])
    kl = {a["type"]: a["verify"]["quantization"]["kl_mean"] for a in out["artifacts"]}
    assert kl["f32"] < kl["f16"] < kl["q8_0"] < kl["q6_k"] < kl["q4_k_m"]  # cost follows the bits


MISTAKES = {
    "rope base": {"rope_theta": 1234.0},
    "eps": {"rms_norm_eps": 0.3},
    "head count": {"num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 32},  # same shapes
}


@pytest.mark.slow
def test_wrong_file_fails_at_every_type(sharp_llama, tmp_path):
    """Wrong metadata (written from an altered config) or a wrong tokenizer, each at every type, all measured in
    one child process against the right model: every one of the 29 files fails, naming the right check."""
    from export.errors import ParityError
    from export.hf_source import open_model
    from export.parity import judge, measure_files
    from export.vocab import load_vocab
    from export.writer import ExportMeta, write_gguf

    files, expect = [], []
    for name, changes in MISTAKES.items():
        src = _with_config(sharp_llama, tmp_path / name.replace(" ", "-"), **changes)
        written = _write_all_types(src, tmp_path, name.replace(" ", "-"))
        files += written
        expect += [("logits", name)] * len(written)

    def wrong_pre(vocab):
        vocab.pre = "qwen2"  # the Llama's byte-level regex is gpt-2's; Qwen2's splits digits one by one

    written = _write_all_types(sharp_llama, tmp_path, "tokenizer", vocab_edit=wrong_pre)
    files += written
    expect += [("tokenization", "tokenizer")] * len(written)
    # a head count whose K/V shapes no longer fit: llama.cpp refuses the file, which fails in one line
    src = _with_config(sharp_llama, tmp_path / "heads-shapes", num_attention_heads=8)
    model = open_model(src)
    write_gguf(model, load_vocab(src, model.vocab_rows), tmp_path / "heads-shapes.gguf", "q8_0", ExportMeta(name="h"))
    files.append((tmp_path / "heads-shapes.gguf", "q8_0"))
    expect.append(("logits", "head count, other shapes"))
    reports = measure_files(open_model(sharp_llama), files, "logits")
    for report, (path, out_type), (check, name) in zip(reports, files, expect):
        with pytest.raises(ParityError) as err:
            judge(report, out_type)
        assert err.value.check == check, (name, out_type, str(err.value))
    assert "llama.cpp cannot run the file" in reports[-1]["error"]["message"]


def test_dequantized_weights_round_trip_llama_permutation(tiny_llama, tmp_path):
    """export.dequant undoes the Llama q/k row permutation: an F32 file gives back the HF tensors exactly."""
    from export.dequant import iter_hf_weights
    from export.hf_source import open_model
    from export.vocab import load_vocab
    from export.writer import ExportMeta, write_gguf

    model = open_model(tiny_llama)
    path = tmp_path / "m.gguf"
    write_gguf(model, load_vocab(tiny_llama, model.vocab_rows), path, "f32", ExportMeta(name="m"))
    seen = 0
    for name, data, qtype in iter_hf_weights(model, path):
        assert qtype == "F32" and np.array_equal(data, model.read(name)), name
        seen += 1
    assert seen == len([n for n in model.tensors if not (n == "lm_head.weight" and model.tied)])
