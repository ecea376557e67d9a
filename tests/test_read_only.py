"""An index on a read-only mount answers `ask`, `status` and `similar` without writing."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO_FILES, ask_json, write_repo


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def read_only(tmp_path: Path, cli) -> Iterator[Path]:
    """A repository indexed on a tmpfs that is then remounted read-only (root only)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if shutil.which("mount") is None or not _mount("-t", "tmpfs", "-o", "size=64m", "none", str(mount)):
        pytest.skip("mounting a tmpfs needs root")
    try:
        repo = write_repo(mount / "repo", REPO_FILES)
        assert cli("index", repo, "--quiet").exit_code == 0
        assert _mount("-o", "remount,ro", str(mount))
        yield repo
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # lazy: a failed test may hold a file open


def test_ask_reads_an_index_it_cannot_write(read_only: Path, cli) -> None:
    top = ask_json(cli, "parse a json document", "--index", read_only)["results"][0]
    assert (top["path"], top["symbol"]) == ("src/jsonutil.py", "parse_json")


def test_status_reads_an_index_it_cannot_write(read_only: Path, cli) -> None:
    result = cli("status", "--index", read_only)
    assert result.exit_code == 0, result.output
    assert "changed since  0 files" in result.stdout


def test_similar_reads_an_index_it_cannot_write(read_only: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(read_only)
    result = cli("similar", "src/mathutil.py:2", "--files-only")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()


def test_a_stale_vector_file_is_rebuilt_in_memory_only(tmp_path: Path, read_only: Path, cli) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(read_only.parent)], check=True)
    (read_only / ".codesearch/vectors.faiss").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(read_only.parent)], check=True)
    assert ask_json(cli, "fibonacci", "--index", read_only)["results"]
    assert not (read_only / ".codesearch/vectors.faiss").exists()
