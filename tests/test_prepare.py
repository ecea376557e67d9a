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


def assert_same_vectors(made: np.ndarray | None, expected: np.ndarray) -> None:
    """Equal up to one float16 step: a batch sums its float32 rows in another order than a text
    alone, and numpy 2.4 rounds some of those sums across a float16 boundary (3.05e-05 apart)."""
    assert made is not None and made.shape == expected.shape
    assert np.allclose(made.astype(np.float32), expected.astype(np.float32), rtol=2**-10, atol=2**-24)


def test_worker_fields_equal_those_of_each_chunk_alone() -> None:
    for item in prepared_fixtures():
        chunks = item.chunks or []
        assert chunks
        assert item.keys == [text_key(embed_text(c)) for c in chunks]
        assert item.lexical == [lexical_fields(c.path, c.symbol, c.text) for c in chunks]
        assert_same_vectors(item.vectors, embedded([embed_text(c) for c in chunks]))


def test_a_header_glued_to_the_code_still_embeds_its_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "embed_text", lambda chunk: f"{chunk.symbol}{chunk.text}")
    for item in prepared_fixtures():
        assert_same_vectors(item.vectors, embedded([f"{c.symbol}{c.text}" for c in item.chunks or []]))


def test_texts_stay_in_the_worker() -> None:
    assert all(item.texts == [] for item in prepared_fixtures())
