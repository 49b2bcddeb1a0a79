"""repos add / list / remove: git and plain folders, HEAD commits, names, and the demo's sample repos."""
import json
import subprocess

import pytest

from app.errors import StudioError
from app.repos import add_repo, git_head, list_repos, remove_repo


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(root), "PATH": "/usr/bin:/bin"})


def _git_repo(root):
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("def a():\n    return 1\n")
    _git(root, "add", "a.py")
    _git(root, "commit", "-q", "-m", "one")
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def test_git_head_loose_packed_and_empty(tmp_path):
    head = _git_repo(tmp_path / "g")
    assert git_head(tmp_path / "g") == head
    _git(tmp_path / "g", "pack-refs", "--all")
    assert git_head(tmp_path / "g") == head
    (tmp_path / "e").mkdir()
    _git(tmp_path / "e", "init", "-q")
    assert git_head(tmp_path / "e") is None
    assert git_head(tmp_path) is None


def test_add_list_remove(workspace, tmp_path):
    head = _git_repo(tmp_path / "service")
    (tmp_path / "plain").mkdir()
    added = add_repo(workspace, tmp_path / "service")
    assert added["repo"] == {"name": "service", "path": str((tmp_path / "service").resolve()), "kind": "git",
                             "head_commit": head, "added": added["repo"]["added"]}
    add_repo(workspace, tmp_path / "plain", "notes")
    listed = {r["name"]: r for r in list_repos(workspace)["repos"]}
    assert listed["notes"]["kind"] == "folder" and listed["notes"]["head_commit"] is None
    assert listed["service"]["changed_files"] == 1          # never curated: its one file counts as changed
    with pytest.raises(StudioError, match="already registered"):
        add_repo(workspace, tmp_path / "plain", "other")
    with pytest.raises(StudioError, match="already registered"):
        add_repo(workspace, tmp_path / "service")
    with pytest.raises(StudioError, match="does not exist"):
        add_repo(workspace, tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(StudioError, match="not a folder"):
        add_repo(workspace, tmp_path / "file.txt")
    with pytest.raises(StudioError, match="must be letters"):
        add_repo(workspace, tmp_path / "plain", "bad name!")
    assert remove_repo(workspace, "notes")["removed"] == "notes"
    assert [r["name"] for r in list_repos(workspace)["repos"]] == ["service"]
    with pytest.raises(StudioError, match="no repo named"):
        remove_repo(workspace, "notes")
    store = workspace.store()
    kinds = [e["kind"] for e in store.events()]
    store.close()
    assert kinds.count("repo.added") == 2 and "repo.removed" in kinds


def test_repos_cli(cli, ws_root, tmp_path):
    (tmp_path / "r").mkdir()
    out = cli("repos", "add", str(tmp_path / "r"), "--name", "r1", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["repos"][0]["name"] == "r1"
    listed = json.loads(cli("repos", "list", "--json").stdout)
    assert [r["name"] for r in listed["repos"]] == ["r1"]
    bad = cli("repos", "remove", "zz")
    assert bad.returncode == 1 and "no repo named" in bad.stderr
    watched = cli("repos", "watch", "--seconds", "0.5", "--json")
    assert watched.returncode == 0 and json.loads(watched.stdout)["repos"] == ["r1"]


def test_demo_seeds_the_sample_repos(workspace):
    from app.demo_seed import SAMPLE_REPOS, seed_sample_repos

    expected = sorted(p.name for p in SAMPLE_REPOS.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert seed_sample_repos(workspace) == expected
    assert seed_sample_repos(workspace) == []           # already there: kept
    assert [r["name"] for r in list_repos(workspace)["repos"]] == expected
