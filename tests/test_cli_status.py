"""`codesearch status` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from codesearch.embedders.static import MODEL_NAME


def status_json(cli, *args) -> dict:
    result = cli("status", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_reports_the_index(indexed: Path, cli) -> None:
    info = status_json(cli, "--index", indexed)
    assert info["root"] == str(indexed)
    assert info["embedder"] == f"static:{MODEL_NAME}:256:v2"
    assert info["files"] == 5
    assert info["chunks"] > 5
    assert info["bytes_on_disk"] > 0
    assert info["last_sync"] is not None
    assert info["changed_since"] == 0


def test_status_counts_changes_since_last_sync(indexed: Path, cli) -> None:
    (indexed / "src/new.py").write_text("x = 1\n")
    (indexed / "web/debounce.js").unlink()
    assert status_json(cli, "--index", indexed)["changed_since"] == 2


def test_status_counts_every_file_after_a_chunk_size_change(indexed: Path, cli) -> None:
    (indexed / ".codesearch" / "config.toml").write_text("chunk_size = 20\n")
    assert status_json(cli, "--index", indexed)["changed_since"] == 5


def test_status_for_people(indexed: Path, cli) -> None:
    result = cli("status", "--index", indexed)
    assert result.exit_code == 0
    assert f"static:{MODEL_NAME}" in result.stdout


def test_status_without_index_is_one_line_error(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CODESEARCH_INDEX", raising=False)
    result = cli("status")
    assert result.exit_code == 2
    assert "codesearch index" in result.stderr


def test_status_takes_the_repository_as_index_does(indexed: Path, cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CODESEARCH_INDEX", raising=False)
    result = cli("status", indexed / "src", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["root"] == str(indexed)
