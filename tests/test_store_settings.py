"""A new database's storage settings, which the writer's speed was measured with."""

from __future__ import annotations

from pathlib import Path

from codesearch.store import FTS_AUTOMERGE, PAGE_BYTES, Store


def setting(index_dir: Path, sql: str) -> int:
    store = Store.open(index_dir)
    try:
        return int(store.conn.execute(sql).fetchone()[0])
    finally:
        store.close()


def test_new_database_uses_large_pages(indexed: Path) -> None:
    assert setting(indexed / ".codesearch", "PRAGMA page_size") == PAGE_BYTES


def test_new_database_merges_lexical_segments_less_often_than_fts5_by_default(indexed: Path) -> None:
    automerge = setting(indexed / ".codesearch", "SELECT v FROM chunks_fts_config WHERE k = 'automerge'")
    assert automerge == FTS_AUTOMERGE > 4
