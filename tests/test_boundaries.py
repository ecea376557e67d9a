"""Boundaries: results stay inside the indexed root, an index answers only for its own root,
the index is private, API keys never reach disk, and nothing in indexed files is executed."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from conftest import REPO_FILES, ask_json, function, write_repo
from jina_server import JinaServer
from test_jina_cli import KEY, server  # noqa: F401  (the API stand-in fixture)
from test_watch import eventually, indexed_paths

from codesearch.locate import INDEX_DIR_NAME

CODESEARCH = Path(sys.executable).with_name("codesearch")


def all_hits(cli, query: str, *args: str) -> list[dict]:
    return ask_json(cli, query, "--mode", "lexical", "-k", "50", *args)["results"]


def assert_inside(root: Path, hits: list[dict]) -> None:
    """Every hit names a file under `root` by a relative POSIX path without `..`."""
    for hit in hits:
        path = PurePosixPath(hit["path"])
        assert not path.is_absolute() and ".." not in path.parts, hit["path"]
        assert (root / path).resolve().is_relative_to(root.resolve()), hit["path"]


# --- result paths never escape the root -------------------------------------------------------------


@pytest.fixture
def fenced(tmp_path: Path, cli) -> Path:
    """A repository with symlinks to a directory and a file outside it, indexed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text(function("outside_secret"))
    root = write_repo(tmp_path / "repo", {"inside.py": function("inside_value")})
    (root / "linked_dir").symlink_to(outside)
    (root / "linked_file.py").symlink_to(outside / "secret.py")
    (root / "absolute_dir").symlink_to(outside.resolve())
    result = cli("index", root, "--json")
    assert result.exit_code == 0, result.output
    return root


def test_symlinks_leaving_the_root_are_not_indexed(fenced: Path, cli) -> None:
    assert all_hits(cli, "outside_secret", "--index", fenced) == []
    assert [hit["path"] for hit in all_hits(cli, "inside_value", "--index", fenced)] == ["inside.py"]


@pytest.mark.parametrize("glob", ["../*", "../outside/*", "*/../*", "/*", str(Path("/").resolve()) + "*", "**"])
def test_path_globs_never_reach_outside(fenced: Path, cli, glob: str) -> None:
    hits = all_hits(cli, "outside_secret inside_value", "--path", glob, "--index", fenced)
    assert_inside(fenced, hits)
    assert "outside_secret" not in {hit["symbol"] for hit in hits}


# --- an index answers only for its own root ----------------------------------------------------------


@pytest.fixture
def nested(tmp_path: Path, cli) -> Path:
    """An outer repository holding an inner one; each indexed on its own."""
    outer = write_repo(tmp_path / "outer", {"outer.py": function("zebra"), "src/util.py": function("mango")})
    inner = write_repo(outer / "inner", {"lib.py": function("kiwi")})
    for root in (outer, inner):
        result = cli("index", root, "--quiet")
        assert result.exit_code == 0, result.output
    return outer


def test_nested_repository_is_answered_by_its_own_index(nested: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODESEARCH_INDEX", raising=False)
    monkeypatch.chdir(nested / "inner")
    assert [(hit["path"], hit["symbol"]) for hit in all_hits(cli, "kiwi")] == [("lib.py", "kiwi")]
    assert all_hits(cli, "zebra") == []


def test_subdirectory_without_an_index_uses_the_enclosing_one(nested: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODESEARCH_INDEX", raising=False)
    monkeypatch.chdir(nested / "src")
    hits = all_hits(cli, "mango")
    assert (hits[0]["path"], hits[0]["symbol"]) == ("src/util.py", "mango")
    assert_inside(nested, hits)


def test_env_index_from_outside_answers_paths_of_its_root(nested: Path, tmp_path: Path, cli, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outer.py").write_text(function("decoy"))
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("CODESEARCH_INDEX", str(nested / INDEX_DIR_NAME))
    hits = all_hits(cli, "zebra")
    assert (hits[0]["path"], hits[0]["symbol"]) == ("outer.py", "zebra")
    assert_inside(nested, hits)
    assert all_hits(cli, "decoy") == []
    status = cli("status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["root"] == str(nested)


def test_index_of_another_root_is_refused(nested: Path, tmp_path: Path, cli) -> None:
    other = write_repo(tmp_path / "other", {"other.py": function("other_only")})
    result = cli("index", other, "--index", nested / INDEX_DIR_NAME)
    assert result.exit_code == 2
    assert str(nested) in result.stderr
    assert all_hits(cli, "zebra", "--index", nested)


# --- the index is private ----------------------------------------------------------------------------


def test_index_directory_and_files_are_owner_only(repo: Path, cli) -> None:
    previous = os.umask(0o022)
    try:
        result = cli("index", repo, "--quiet")
        held_open = ask_json(cli, "parse json", "--index", repo)
    finally:
        os.umask(previous)
    assert held_open["results"]
    index_dir = repo / INDEX_DIR_NAME
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(index_dir.stat().st_mode) == 0o700
    data_files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in index_dir.iterdir() if p.name != ".gitignore"}
    assert {"index.db", "vectors.faiss"} <= set(data_files)
    assert {name: mode & 0o077 for name, mode in data_files.items()} == dict.fromkeys(data_files, 0)


# --- API keys never reach disk -----------------------------------------------------------------------


def test_api_key_never_reaches_disk(repo: Path, cli, server: JinaServer) -> None:  # noqa: F811
    for args in (("index", repo, "--embedder", "jina", "--json"), ("ask", "parse json", "--index", repo), ("status", "--index", repo)):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert KEY not in result.output
    assert server.requests
    holding = [path for path in repo.rglob("*") if path.is_file() and KEY.encode() in path.read_bytes()]
    assert holding == []


# --- nothing from indexed files is executed ------------------------------------------------------------


def hostile_repo(root: Path, marker_dir: Path) -> Path:
    """Files that run code when imported, sourced, built or passed through a shell: each would
    leave a `pwned-*` file in `marker_dir` (or `pwned` in its working directory)."""
    def touch(name: str) -> str:
        return f"open({str(marker_dir / ('pwned-' + name))!r}, 'w').close()\n"

    shell = f"touch {marker_dir / 'pwned-shell'}"
    files = {
        **REPO_FILES,
        "conftest.py": touch("conftest"),
        "setup.py": touch("setup"),
        "sitecustomize.py": touch("sitecustomize"),
        "usercustomize.py": touch("usercustomize"),
        "evil.pth": "import os; " + touch("pth"),
        "json.py": touch("json-module"),
        "typer.py": touch("typer-module"),
        "codesearch.py": touch("codesearch-module"),
        "run": f"#!/bin/sh\n{shell}\n",
        "Makefile": f"all:\n\t{shell}\n",
        "$(touch pwned).sh": f"{shell}\n",
        "`touch pwned`.py": touch("backticks"),
        "a; touch pwned;.py": touch("semicolon"),
        ".gitignore": "$(touch pwned)\n`touch pwned`\n",
        "pyproject.toml": "[build-system]\nrequires = []\n",
    }
    write_repo(root, files)
    (root / "run").chmod(0o755)
    return root


def pwned(*directories: Path) -> list[str]:
    return sorted(str(path) for directory in directories for path in directory.rglob("pwned*"))


def test_nothing_in_indexed_files_is_executed(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    root = hostile_repo(tmp_path / "repo", markers)
    env = {k: v for k, v in os.environ.items() if k not in {"CODESEARCH_INDEX", "JINA_API_KEY"}}

    def codesearch(*args: str) -> None:
        done = subprocess.run([str(CODESEARCH), *args], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    codesearch("index", ".", "--quiet")
    codesearch("ask", "parse json")
    codesearch("status")
    watch = subprocess.Popen([str(CODESEARCH), "watch", "."], cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    try:
        (root / "conftest.py").write_text((root / "conftest.py").read_text() + "\n" + function("freshly_saved"))
        (root / "`touch pwned` again.py").write_text(function("another_name"))
        eventually(lambda: "`touch pwned` again.py" in indexed_paths(root))
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0, watch.stderr.read() if watch.stderr else ""
    finally:
        watch.kill()
    assert pwned(markers, root) == []
