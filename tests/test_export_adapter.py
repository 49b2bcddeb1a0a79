"""A PEFT LoRA adapter exported as a GGUF adapter, applied by llama.cpp on the base GGUF, matches peft's merged model."""
import json
from pathlib import Path

import pytest


def _make_adapter(base_dir: Path, out: Path, seed: int = 1, **lora) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                     **lora)
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():  # a fresh LoRA has B = 0 and changes nothing; give it a real effect
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    peft_model.save_pretrained(out)
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    adapter_cfg["base_model_name_or_path"] = str(base_dir)
    (out / "adapter_config.json").write_text(json.dumps(adapter_cfg))
    return out


@pytest.mark.parametrize("fixture,types,extra", [("tiny_llama", "f32,f16", {}),
                                                 ("tiny_qwen2", "f16", {"use_rslora": True})])
def test_adapter_matches_merged_model(request, fixture, types, extra, workspace, tmp_path):
    from gguf import GGUFReader

    from app.exporting import export

    base = request.getfixturevalue(fixture)
    adapter = _make_adapter(base, tmp_path / "adapter", **extra)
    out = export(workspace, str(adapter), types=types, adapter=True, out=tmp_path / "o")
    for art in out["artifacts"]:
        report = art["verify"]
        assert report["adapter_effect"] > 1e-3, "llama.cpp ran the base without the adapter"
        limit = 1e-3 if art["type"] == "f32" else 1e-2
        assert report["logits"]["relative_diff"] < limit and report["logits"]["top1_agreement_clear"] == 1.0
    reader = GGUFReader(out["artifacts"][0]["path"])
    fields = {k: f.contents() for k, f in reader.fields.items()}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 16.0  # rsLoRA's other scale is folded into B
    names = {t.name for t in reader.tensors}
    assert {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", "blk.1.ffn_down.weight.lora_b"} <= names
    store = workspace.store()
    assert [a["quant_type"] for a in store.artifacts(kind="gguf-adapter")] == types.split(",")


def test_adapter_for_another_model_refused(workspace, tiny_llama, tmp_path, cli):
    from tiny_models import make_tiny_qwen2

    adapter = _make_adapter(tiny_llama, tmp_path / "adapter")
    other = make_tiny_qwen2(tmp_path / "narrow", hidden=32)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(other)  # names map, shapes differ: must be refused, not written
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    result = cli("--workspace", str(workspace.root), "export", str(adapter), "--adapter", "--type", "f16",
                 "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [line for line in result.stderr.strip().splitlines()
                                                  if line.startswith("error:") and "does not fit the base model" in line]
    assert list((tmp_path / "o").glob("*")) == []
