"""GGUF export on tiny Qwen2/Llama models and the embedded SmolLM2: metadata, types, parity, lineage records."""
import json
import shutil
from pathlib import Path

import pytest

from tiny_models import make_tiny_llama, make_tiny_qwen2


def _json(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _fields(path):
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    out = {}
    for key, field in reader.fields.items():
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"):
            out[key] = len(field.data)
        else:
            out[key] = field.contents()
    return out, {t.name: t.tensor_type.name for t in reader.tensors}


@pytest.fixture(scope="module")
def llama_untied_bias(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("llama-ub") / "model", tie=False, bias=True, seed=3)


@pytest.fixture(scope="module")
def qwen2_tied(tmp_path_factory):
    return make_tiny_qwen2(tmp_path_factory.mktemp("qwen-tied") / "model", tie=True, seed=5, vocab_pad=24)


def test_export_fork_by_id_records_artifacts(workspace, tiny_qwen2, cli):
    from app.forks import fork
    from training.fileio import sha256_file

    fork(workspace, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    out = _json(cli("--workspace", str(workspace.root), "export", "forkies/tiny@v0.1.0", "--type", "f32,q8_0",
                    "--json"))
    assert [a["type"] for a in out["artifacts"]] == ["f32", "q8_0"]
    for a in out["artifacts"]:
        assert Path(a["path"]).is_file() and sha256_file(a["path"]) == a["sha256"]
        assert a["verify"]["tokenization"]["mismatches"] == []
    f32 = out["artifacts"][0]["verify"]["logits"]
    assert f32["relative_diff"] < 1e-3 and f32["top1_agreement_clear"] == 1.0
    q8 = out["artifacts"][1]["verify"]  # the file judged on its own weights; what 8 bits cost, reported apart
    assert q8["logits"]["relative_rms"] <= 0.2 and q8["logits"]["kl_mean"] <= q8["quantization"]["kl_mean"]
    store = workspace.store()
    arts = store.artifacts("forkies/tiny@v0.1.0", "gguf")
    assert [(a["quant_type"], a["sha256"], a["size_bytes"]) for a in arts] == \
        [(a["type"], a["sha256"], a["size_bytes"]) for a in out["artifacts"]]
    assert store.model("forkies/tiny@v0.1.0")["gguf_path"] == out["artifacts"][0]["path"]
    assert store.run_row(out["run"])["status"] == "finished"
    store.close()
    kv, types = _fields(out["artifacts"][0]["path"])
    assert kv["general.architecture"] == "qwen2" and kv["qwen2.rope.freq_base"] == 1_000_000.0
    assert kv["qwen2.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    assert kv["qwen2.attention.head_count_kv"] == 2 and kv["qwen2.context_length"] == 512
    assert kv["tokenizer.ggml.pre"] == "qwen2" and kv["tokenizer.ggml.model"] == "gpt2"
    assert kv["tokenizer.ggml.fim_pre_token_id"] == 3 and kv["tokenizer.ggml.eot_token_id"] == 2
    assert kv["blackroad.model_id"] == "forkies/tiny@v0.1.0" and kv["general.license"] == "apache-2.0"
    assert "im_start" in kv["tokenizer.chat_template"]
    assert types["output.weight"] == "F32" and types["blk.0.attn_q.bias"] == "F32"
    kv8, types8 = _fields(out["artifacts"][1]["path"])
    assert types8["blk.0.attn_q.weight"] == "Q8_0" and types8["blk.0.attn_norm.weight"] == "F32"
    assert kv8["general.file_type"] == 7
    again = cli("--workspace", str(workspace.root), "export", "forkies/tiny@v0.1.0", "--type", "f32")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_llama_untied_with_bias_f16_bf16(workspace, llama_untied_bias, tmp_path):
    from app.exporting import export

    out = export(workspace, str(llama_untied_bias), types="f16,bf16", out=tmp_path / "o")
    kv, types = _fields(out["artifacts"][0]["path"])
    assert kv["tokenizer.ggml.pre"] == "gpt-2" and kv["llama.rope.freq_base"] == 10000.0
    assert "output.weight" in types and types["blk.1.attn_k.bias"] == "F32"
    assert [a["verify"]["logits"]["top1_agreement_clear"] for a in out["artifacts"]] == [1.0, 1.0]
    assert out["artifacts"][0]["verify"]["logits"]["relative_diff"] < 1e-2
    assert workspace.store().artifacts(kind="gguf")[0]["model_id"] is None  # a bare dir has no model row


def test_qwen2_tied_padded_vocab_tensors_and_kquant(workspace, qwen2_tied, tmp_path):
    from app.exporting import export

    out = export(workspace, str(qwen2_tied), types="f32,q4_k_m", out=tmp_path / "o", verify="tensors")
    kv, types = _fields(out["artifacts"][0]["path"])
    assert "output.weight" not in types  # tied: llama.cpp reuses token_embd
    rows = json.loads((qwen2_tied / "config.json").read_text())["vocab_size"]
    assert kv["tokenizer.ggml.tokens"] == rows
    report = out["artifacts"][0]["verify"]
    assert report["tensors"]["worst_error_by_type"]["F32"] == 0.0
    assert out["artifacts"][1]["verify"]["quantized_from"] == "f32"
    assert out["artifacts"][1]["verify"]["tensors"]["tensors"] == len(types)


def test_tokenization_and_tensor_mismatch_caught(tiny_llama, tmp_path):
    from export.errors import ParityError
    from export.hf_source import open_model
    from export.parity import check_tensors, verify
    from export.vocab import load_vocab
    from export.writer import ExportMeta, write_gguf

    model = open_model(tiny_llama)
    path = tmp_path / "m.gguf"
    write_gguf(model, load_vocab(tiny_llama, model.vocab_rows), path, "f32", ExportMeta(name="m"))
    other = tmp_path / "other"
    shutil.copytree(tiny_llama, other)
    tok = json.loads((other / "tokenizer.json").read_text())
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, tok["pre_tokenizer"]]}
    (other / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ParityError, match="'tokenization' failed"):
        verify(open_model(other), path, "f32", "tensors")
    from gguf import GGUFReader

    t = next(t for t in GGUFReader(str(path)).tensors if t.name == "blk.1.ffn_up.weight")
    with open(path, "r+b") as fh:  # corrupt one weight in place
        fh.seek(int(t.data_offset) + 40)
        fh.write(b"\x00\x00\x20\x41")  # 10.0 as float32
    with pytest.raises(ParityError, match="blk.1.ffn_up.weight"):
        check_tensors(model, path)


@pytest.mark.slow
def test_embedded_smollm2_f16_and_q4_k_m(embedded_workspace, tmp_path):
    from app.exporting import export
    from app.forks import DEMO_BASE_ID
    from app.workspace import Workspace

    ws_root = tmp_path / "ws"
    shutil.copytree(embedded_workspace, ws_root)
    ws = Workspace.open(ws_root)
    out = export(ws, DEMO_BASE_ID, types="f16,q4_k_m")
    f16, q4 = out["artifacts"]
    assert f16["verify"]["tokenization"]["mismatches"] == []
    assert f16["verify"]["logits"]["relative_diff"] < 1e-2 and f16["verify"]["logits"]["top1_agreement_clear"] == 1.0
    assert q4["verify"]["logits"]["kl_mean"] < 0.5 and q4["verify"]["quantized_from"] == "f16"
    kv, types = _fields(f16["path"])
    assert kv["llama.rope.freq_base"] == 100000.0 and kv["llama.attention.head_count"] == 9
    assert kv["general.base_model.count"] == 1 and "SmolLM2" in kv["general.base_model.0.name"]
    _, qtypes = _fields(q4["path"])
    assert "Q4_K" in set(qtypes.values()) and "Q6_K" in set(qtypes.values())  # the _M mix
    store = ws.store()
    assert [a["quant_type"] for a in store.artifacts(DEMO_BASE_ID, "gguf")] == ["q4_1", "f16", "q4_k_m"]
    assert store.model(DEMO_BASE_ID)["gguf_path"].endswith(".gguf")  # the fork's own GGUF stays the default
