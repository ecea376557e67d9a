"""A reader while a writer is between its commit and its vector file save: it serves from the
older file instead of rebuilding, never replaces the writer's file, and takes the new one once
it is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import function
from codesearch import indexer
from codesearch.indexer import sync
from codesearch.lock import writer_active, writer_lock
from codesearch.searcher import Searcher
from codesearch.store import Store
from codesearch.vectors import VECTORS_NAME, VectorIndex, file_identity


def commit_without_saving(index_dir: Path) -> None:
    """What a writer has done between a commit and its save: the store's generation moved on."""
    store = Store.open(index_dir)
    try:
        with store.transaction():
            store.bump_generation()
    finally:
        store.close()


def test_writer_active_while_the_writer_lock_is_held(tmp_path: Path) -> None:
    assert not writer_active(tmp_path)
    with writer_lock(tmp_path, "test"):
        assert writer_active(tmp_path)
    assert not writer_active(tmp_path)


def test_a_reader_serves_from_the_older_file_while_a_writer_is_at_work(indexed: Path) -> None:
    index_dir = indexed / ".codesearch"
    saved = file_identity(index_dir / VECTORS_NAME)
    notices: list[str] = []
    with writer_lock(index_dir, "test"):
        commit_without_saving(index_dir)
        with Searcher(index_dir, on_notice=notices.append) as searcher:
            hits = searcher.search("parse a json document", 5, mode="dense").hits
    assert "parse_json" in {hit.symbol for hit in hits}
    assert notices == []
    assert file_identity(index_dir / VECTORS_NAME) == saved


def test_a_reader_that_must_rebuild_leaves_the_file_to_the_writer_at_work(indexed: Path) -> None:
    index_dir = indexed / ".codesearch"
    (index_dir / VECTORS_NAME).unlink()
    with writer_lock(index_dir, "test"):
        with Searcher(index_dir) as searcher:
            assert searcher.search("parse a json document", 5, mode="dense").hits
    assert not (index_dir / VECTORS_NAME).exists()


def test_a_reader_first_opened_before_the_writers_save_takes_the_saved_file(
    indexed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (indexed / "src/new.py").write_text(function("gamma_ray_burst"))
    readers: list[Searcher] = []
    save = VectorIndex.save

    def save_after_a_look(self: VectorIndex, path: Path, generation: int) -> None:
        readers.append(Searcher(indexed / ".codesearch"))
        readers[0].search("gamma ray burst", 5, mode="dense")
        save(self, path, generation)

    monkeypatch.setattr(VectorIndex, "save", save_after_a_look)
    sync(indexed)
    monkeypatch.undo()
    with readers[0] as searcher:
        assert "src/new.py" in {hit.path for hit in searcher.search("gamma ray burst", 5, mode="dense").hits}


def test_a_full_rebuild_removes_the_old_vector_file_before_it_writes(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader during `index --full` would otherwise serve the old file, whose ids the rebuild
    gives to other chunks."""
    present_at_start: list[bool] = []
    run = indexer._Sync.run

    def look_first(self: indexer._Sync, paths: list[str] | None) -> indexer.SyncReport:
        present_at_start.append(self.store.vectors_path.exists())
        return run(self, paths)

    monkeypatch.setattr(indexer._Sync, "run", look_first)
    sync(indexed, full=True)
    assert present_at_start == [False]
