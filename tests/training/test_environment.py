"""env.json's code provenance: the commit, and whether the package differed from it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from actbench.training.environment import git_dirty


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_dirty_sees_changes_to_the_package_only(tmp_path: Path) -> None:
    repo, package = tmp_path / "repo", tmp_path / "repo" / "pkg"
    package.mkdir(parents=True)
    (package / "mod.py").write_text("x = 1\n")
    (repo / "notes.md").write_text("a\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    assert git_dirty(package) is False
    (repo / "notes.md").write_text("b\n")  # outside the package: not the code that trains
    assert git_dirty(package) is False
    (package / "mod.py").write_text("x = 2\n")
    assert git_dirty(package) is True
    subprocess.run([*git, "checkout", "-q", "--", "pkg"], check=True)
    (package / "new.py").write_text("y = 1\n")  # a new module could be imported
    assert git_dirty(package) is True
    assert git_dirty(tmp_path / "missing") is None  # no such folder


def test_git_dirty_outside_git_is_unknown(tmp_path: Path) -> None:
    assert git_dirty(tmp_path) is None
