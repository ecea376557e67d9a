"""The vector index kind follows the corpus size, and both kinds answer the same."""

from __future__ import annotations

from pathlib import Path

import faiss
import pytest

from codesearch import indexer, parallel, vectors
from codesearch.store import Store
from codesearch.vectors import VECTORS_NAME, VectorIndex
from conftest import ask_json

QUERIES = ["parse json", "fibonacci number", "delay calls", "download http resource", "load settings from file"]


def saved_index(index_dir: Path) -> VectorIndex:
    store = Store.open(index_dir)
    try:
        loaded = VectorIndex.load(index_dir / VECTORS_NAME, store.generation, 256, store.largest_chunk_id())
    finally:
        store.close()
    assert loaded is not None
    return loaded


def chunk_ids(index_dir: Path) -> list[int]:
    store = Store.open(index_dir)
    try:
        return sorted(r[0] for r in store.conn.execute("SELECT id FROM chunks"))
    finally:
        store.close()


def answers(cli, index: Path) -> list[list[tuple[str, int]]]:
    return [
        [(hit["path"], hit["start_line"]) for hit in ask_json(cli, query, "--index", index, "--mode", "dense")["results"]]
        for query in QUERIES
    ]


def test_small_index_is_exact(indexed: Path) -> None:
    assert not saved_index(indexed / ".codesearch").binary


def test_large_index_is_binary_and_answers_like_exact(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = answers(cli, indexed / ".codesearch")
    monkeypatch.setattr(vectors, "EXACT_MAX", 3)
    (indexed / "src/extra.py").write_text("def extra_helper():\n    return 42\n")
    assert cli("index", indexed, "-q").exit_code == 0
    assert saved_index(indexed / ".codesearch").binary
    for before, after in zip(exact, answers(cli, indexed / ".codesearch")):
        kept = [hit for hit in after if hit[0] != "src/extra.py"]
        assert kept == before[: len(kept)]


def test_first_index_that_outgrows_exact_while_written_is_saved_binary_with_every_chunk(
    repo: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("index", repo, "--index", tmp_path / "exact", "-q").exit_code == 0
    monkeypatch.setattr(vectors, "EXACT_MAX", 3)
    monkeypatch.setattr(indexer, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "worker_count", lambda: 2)
    monkeypatch.setattr(indexer, "BATCH_FILES", 1)
    with monkeypatch.context() as writing:
        writing.setattr(Store, "chunk_vectors", lambda *_a, **_k: pytest.fail("vectors read back from SQLite"))
        assert cli("index", repo, "--index", tmp_path / "grown", "-q").exit_code == 0
    grown = saved_index(tmp_path / "grown")
    assert grown.binary
    assert sorted(faiss.vector_to_array(grown.index.id_map).tolist()) == chunk_ids(tmp_path / "grown")
    assert answers(cli, tmp_path / "grown") == answers(cli, tmp_path / "exact")
