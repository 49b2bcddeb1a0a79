"""Bad inputs to export: one clear line, exit 1, no file (not even a temp) left behind, nothing recorded."""
import json
import os
import resource
import shutil
import subprocess
import sys

import pytest

from tiny_models import set_architecture


def _broken_copy(src, dst, how):
    shutil.copytree(src, dst)
    if how == "arch":
        set_architecture(dst, "gpt2", "GPT2LMHeadModel")
    elif how == "tokenizer":
        (dst / "tokenizer.json").unlink()
    elif how == "vocab":
        tok = json.loads((dst / "tokenizer.json").read_text())
        tok["added_tokens"].append({"id": 4000, "content": "<|extra|>", "single_word": False, "lstrip": False,
                                    "rstrip": False, "normalized": False, "special": True})
        (dst / "tokenizer.json").write_text(json.dumps(tok))
    elif how == "nan":
        from safetensors.numpy import load_file, save_file

        tensors = load_file(str(dst / "model.safetensors"))
        tensors["model.layers.1.mlp.up_proj.weight"][3, 5] = float("nan")
        save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


@pytest.mark.parametrize("how,fragment", [
    ("arch", "unsupported architecture"),
    ("tokenizer", "has no tokenizer.json"),
    ("vocab", "embedding has only"),
    ("nan", "model.layers.1.mlp.up_proj.weight has NaN"),
])
def test_bad_model_refused(how, fragment, tiny_qwen2, tmp_path, cli, ws_root):
    src = _broken_copy(tiny_qwen2, tmp_path / "model", how)
    out = tmp_path / "out"
    result = cli("export", str(src), "--type", "f32", "--out", str(out), "--verify", "none")
    assert result.returncode == 1, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_disk_full_leaves_nothing(tiny_qwen2, tmp_path, workspace):
    """A write that hits the file-size limit (EFBIG, as ENOSPC would) fails cleanly and removes its temp file."""
    out = tmp_path / "out"
    out.mkdir()

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    env = {**os.environ, "BLACKROAD_STUDIO_HOME": str(workspace.root)}
    result = subprocess.run([sys.executable, "-m", "app.cli", "export", str(tiny_qwen2), "--type", "f32",
                             "--out", str(out), "--verify", "none"], capture_output=True, text=True, env=env,
                            preexec_fn=limit, timeout=300)
    assert result.returncode == 1, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "disk full" in errors[0], result.stderr
    assert list(out.iterdir()) == []
    assert workspace.store().artifacts() == []


def test_usage_errors(tiny_qwen2, tmp_path, cli, ws_root):
    bad_type = cli("export", str(tiny_qwen2), "--type", "q3_xx", "--out", str(tmp_path / "o"))
    assert bad_type.returncode == 1 and "unknown export type q3_xx" in bad_type.stderr
    bad_verify = cli("export", str(tiny_qwen2), "--verify", "maybe", "--out", str(tmp_path / "o"))
    assert bad_verify.returncode == 1 and "unknown verify level" in bad_verify.stderr
    missing = cli("export", "research/me/nothing")
    assert missing.returncode == 1 and "neither a model id" in missing.stderr
    assert not (tmp_path / "o").exists()
