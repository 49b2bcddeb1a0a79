import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runner import run_cli  # noqa: E402


@pytest.fixture
def ws_root(tmp_path, monkeypatch) -> Path:
    """A fresh workspace folder (created on first use by the CLI or Workspace.open)."""
    root = tmp_path / "ws"
    monkeypatch.setenv("BLACKROAD_STUDIO_HOME", str(root))
    return root


@pytest.fixture
def workspace(ws_root):
    from app.workspace import Workspace

    return Workspace.open(ws_root)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_qwen2

    return make_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2") / "model")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "model")


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def embedded_workspace(tmp_path_factory) -> Path:
    """A workspace with the embedded SmolLM2 forked once per test session (its HF copy takes ~30 s to prepare).

    Copy it (shutil.copytree) before changing it: other tests share it.
    """
    from app.forks import DEMO_BASE_ID, fork
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("embedded") / "ws")
    fork(ws, "embedded:smollm2-135m", DEMO_BASE_ID)
    return ws.root
