"""Lexical search on large indexes scores only the rarest query terms within a budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesearch import store as store_module
from codesearch.store import Store


def matched_symbols(root: Path, words: list[str]) -> set[str]:
    store = Store.open(root / ".codesearch")
    try:
        ids = [cid for cid, _ in store.lexical_search(words, 50, None)]
        return {chunk.symbol for chunk in store.chunks_by_ids(ids).values()}
    finally:
        store.close()


def test_small_index_scores_every_term(indexed: Path) -> None:
    assert {"fibonacci", "parse_json"} <= matched_symbols(indexed, ["fibonacci", "json"])


def test_large_index_leaves_out_common_terms(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "LEXICAL_BUDGET", 2)
    assert matched_symbols(indexed, ["fibonacci", "json"]) == {"fibonacci"}


def test_only_common_terms_leave_lexical_search_empty(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "LEXICAL_BUDGET", 1)
    assert matched_symbols(indexed, ["json"]) == set()
