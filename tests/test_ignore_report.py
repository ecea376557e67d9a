"""An index that ignore rules left (almost) empty says which rule did it, through the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import REPO_FILES, function, write_repo


def git_repo(root: Path, files: dict[str, str]) -> Path:
    """`files` under `root`, made a git work tree by git itself."""
    write_repo(root, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def index_json(cli, root: Path) -> dict:
    result = cli("index", root, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_codesearchignore_that_ignores_everything_is_named_in_json(tmp_path: Path, cli) -> None:
    root = git_repo(tmp_path / "repo", {".codesearchignore": "*\n", "src/app.py": function("alpha"), "main.py": function("beta")})
    report = index_json(cli, root)
    assert report["files"] == 0
    assert report["ignored"] == [{"file": ".codesearchignore", "line": 1, "pattern": "*", "dirs": 1, "files": 1}]


def test_codesearchignore_that_ignores_everything_is_named_in_the_summary(tmp_path: Path, cli) -> None:
    root = git_repo(tmp_path / "repo", {".codesearchignore": "*\n", "src/app.py": function("alpha"), "main.py": function("beta")})
    result = cli("index", root)
    assert result.exit_code == 0, result.output
    assert "codesearch: note: .codesearchignore line 1 (*) left out 1 directory and 1 file" in result.stderr


def test_rules_that_left_out_most_of_the_tree_are_named_most_first(tmp_path: Path, cli) -> None:
    files = {".gitignore": "generated/\n*_pb2.py\n", "generated/a.py": function("gamma"), "api.py": function("delta")}
    files |= {f"{name}_pb2.py": function(name) for name in ("one", "two", "three")}
    report = index_json(cli, git_repo(tmp_path / "repo", files))
    assert report["ignored"] == [
        {"file": ".gitignore", "line": 2, "pattern": "*_pb2.py", "dirs": 0, "files": 3},
        {"file": ".gitignore", "line": 1, "pattern": "generated/", "dirs": 1, "files": 0},
    ]


def test_a_default_ignore_is_named_without_a_line(tmp_path: Path, cli) -> None:
    root = git_repo(tmp_path / "repo", {"vendor/lib/x.go": "package lib\n"})
    result = cli("index", root)
    assert result.exit_code == 0, result.output
    assert "codesearch: note: default ignores (vendor/) left out 1 directory" in result.stderr


def test_little_ignored_gives_no_note(tmp_path: Path, cli) -> None:
    report = index_json(cli, git_repo(tmp_path / "repo", REPO_FILES))
    assert (report["files"], report["ignored"]) == (5, [])
