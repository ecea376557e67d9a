"""What a worker process hands the writer: chunks, keys, lexical fields and vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesearch import prepare
from codesearch.embedders import EmbedderSpec
from codesearch.embedders.static import StaticEmbedder
from codesearch.files import discover
from codesearch.prepare import PrepareOptions, Prepared, embed_text, prepare_batch, text_key
from codesearch.store import lexical_fields
from codesearch.tasks import PASSAGE_TASK

FIXTURES = Path(__file__).parent / "fixtures"


def prepared_fixtures() -> list[Prepared]:
    options = PrepareOptions(embedder=EmbedderSpec("static", None, 256))
    return prepare_batch(([(source, None) for source in discover(FIXTURES)], options))


def embedded(texts: list[str]) -> np.ndarray:
    return StaticEmbedder().embed(texts, PASSAGE_TASK).astype(np.float16)


def test_worker_fields_equal_those_of_each_chunk_alone() -> None:
    for item in prepared_fixtures():
        chunks = item.chunks or []
        assert chunks
        assert item.keys == [text_key(embed_text(c)) for c in chunks]
        assert item.lexical == [lexical_fields(c.path, c.symbol, c.text) for c in chunks]
        assert np.array_equal(item.vectors, embedded([embed_text(c) for c in chunks]))


def test_a_header_glued_to_the_code_still_embeds_its_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "embed_text", lambda chunk: f"{chunk.symbol}{chunk.text}")
    for item in prepared_fixtures():
        assert np.array_equal(item.vectors, embedded([f"{c.symbol}{c.text}" for c in item.chunks or []]))


def test_texts_stay_in_the_worker() -> None:
    assert all(item.texts == [] for item in prepared_fixtures())
