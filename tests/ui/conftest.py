import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def studio_fixture_root() -> Path:
    """The seeded studio workspace at its fixed path, for screenshots (built once per session; do not change it)."""
    from studio_seed import FIXED_ROOT, build

    return build(FIXED_ROOT)


@pytest.fixture
def studio_ws(tmp_path):
    """A private seeded studio workspace, for tests that change it."""
    from studio_seed import build

    from app.workspace import Workspace

    return Workspace.open(build(tmp_path / "ws"))
