"""The vector index kind follows the corpus size, and both kinds answer the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesearch import vectors
from codesearch.store import Store
from codesearch.vectors import VECTORS_NAME, VectorIndex
from conftest import ask_json

QUERIES = ["parse json", "fibonacci number", "delay calls", "download http resource", "load settings from file"]


def saved_index(root: Path) -> VectorIndex:
    index_dir = root / ".codesearch"
    store = Store.open(index_dir)
    try:
        loaded = VectorIndex.load(index_dir / VECTORS_NAME, store.generation, 256)
    finally:
        store.close()
    assert loaded is not None
    return loaded


def answers(cli, root: Path) -> list[list[tuple[str, int]]]:
    return [
        [(hit["path"], hit["start_line"]) for hit in ask_json(cli, query, "--index", root, "--mode", "dense")["results"]]
        for query in QUERIES
    ]


def test_small_index_is_exact(indexed: Path) -> None:
    assert not saved_index(indexed).binary


def test_large_index_is_binary_and_answers_like_exact(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = answers(cli, indexed)
    monkeypatch.setattr(vectors, "EXACT_MAX", 3)
    (indexed / "src/extra.py").write_text("def extra_helper():\n    return 42\n")
    assert cli("index", indexed, "-q").exit_code == 0
    assert saved_index(indexed).binary
    for before, after in zip(exact, answers(cli, indexed)):
        kept = [hit for hit in after if hit[0] != "src/extra.py"]
        assert kept == before[: len(kept)]
