import json
import os
import shutil

import pytest

from tiny_models import set_architecture


def _json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_fork_tiny_qwen2_dir(cli, ws_root, tiny_qwen2):
    out = _json(cli("fork", str(tiny_qwen2), "--id", "forkies/tiny@v0.1.0", "--json"))
    assert out["id"] == "forkies/tiny@v0.1.0"
    assert out["architecture"] == "qwen2"
    assert out["license"] == "apache-2.0"
    from safetensors import safe_open

    with safe_open(str(tiny_qwen2 / "model.safetensors"), "np") as f:
        expected = sum(f.get_tensor(k).size for k in f.keys())
    assert out["parameters"] == expected
    lineage = _json(cli("lineage", "--json"))
    assert [m["id"] for m in lineage["models"]] == ["forkies/tiny@v0.1.0"]
    again = cli("fork", str(tiny_qwen2), "--id", "forkies/tiny@v0.1.0")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_fork_tiny_llama_dir(cli, ws_root, tiny_llama):
    out = _json(cli("fork", str(tiny_llama), "--id", "forkies/tinyllama@v1.0.0", "--json"))
    assert out["architecture"] == "llama" and out["context_length"] == 512


def test_fork_embedded_gguf(embedded_workspace):
    from app.forks import DEMO_BASE_ID
    from app.workspace import Workspace

    store = Workspace.open(embedded_workspace).store()
    m = store.model(DEMO_BASE_ID)
    assert m["architecture"] == "llama"
    assert 100_000_000 < m["parameters"] < 200_000_000
    assert m["license"].lower() == "apache-2.0"
    assert m["gguf_path"].endswith(".gguf")
    hf = m["details"]["hf_prepared_from_gguf"]["path"]
    assert os.path.isfile(os.path.join(hf, "model.safetensors")) and os.path.isfile(os.path.join(hf, "tokenizer.json"))
    kinds = sorted(a["kind"] for a in store.artifacts(DEMO_BASE_ID))
    assert kinds == ["gguf", "hf-weights"]


def _fails(result, fragment):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def _no_models(cli):
    return _json(cli("lineage", "--json"))["models"] == []


def test_bad_inputs_one_line_and_nothing_written(cli, ws_root, tmp_path, tiny_qwen2):
    _fails(cli("fork", str(tmp_path / "nope"), "--id", "forkies/a@v1.0.0"), "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(cli("fork", str(empty), "--id", "forkies/a@v1.0.0"), "no config.json")
    other = tmp_path / "gpt2like"
    shutil.copytree(tiny_qwen2, other)
    set_architecture(other, "gpt2", "GPT2LMHeadModel")
    _fails(cli("fork", str(other), "--id", "forkies/a@v1.0.0"), "unsupported architecture")
    _fails(cli("fork", str(tiny_qwen2), "--id", "research/a"), "must be of the form")
    assert _no_models(cli)


def test_truncated_gguf_refused(cli, ws_root, tmp_path):
    from app.forks import embedded_gguf

    src = embedded_gguf("smollm2-135m")
    cut = tmp_path / "cut.gguf"
    with open(src, "rb") as fh:
        cut.write_bytes(fh.read(5_000_000))
    _fails(cli("fork", str(cut), "--id", "forkies/cut@v1.0.0"), "truncated")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    _fails(cli("fork", str(junk), "--id", "forkies/junk@v1.0.0"), "not a GGUF")
    assert _no_models(cli)


def test_hub_id_offline_fails_clearly(cli, ws_root, monkeypatch):
    result = cli("fork", "Qwen/Qwen2.5-Coder-7B-Instruct", "--id", "forkies/qwen@v1.0.0",
                 env={"HF_HUB_OFFLINE": "1"})
    _fails(result, "cannot download")


def test_hub_loading_code_on_local_dir(tmp_path, tiny_qwen2, monkeypatch):
    """The hub path hands its download to the same inspection as a local dir; exercise it with a local snapshot."""
    import huggingface_hub

    from app.forks import fork
    from app.workspace import Workspace

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(tiny_qwen2))
    ws = Workspace.open(tmp_path / "ws")
    row = fork(ws, "someorg/tiny-qwen", "forkies/hub@v1.0.0")
    assert row["details"]["upstream"]["hub_id"] == "someorg/tiny-qwen"
    assert row["architecture"] == "qwen2"


def test_read_only_workspace(cli, tmp_path):
    target = "/proc/blackroad-ws" if os.geteuid() == 0 else str(tmp_path / "ro" / "ws")
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
    _fails(cli("--workspace", target, "init"), "cannot create a workspace")


def test_newer_schema_refused_by_cli(cli, ws_root):
    assert cli("init").returncode == 0
    import sqlite3

    conn = sqlite3.connect(ws_root / "studio.db")
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    _fails(cli("lineage"), "newer blackroad-studio")


def test_usage_error_exit_2(cli, ws_root):
    assert cli("fork").returncode == 2
    assert cli("no-such-command").returncode == 2
