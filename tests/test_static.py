"""The built-in static embedder: deterministic, normalised, signature-bearing."""

import numpy as np
import pytest

from codesearch.embedders import EmbedderSpec, create_embedder
from codesearch.errors import CodesearchError

TEXTS = ["def parse_json(text):\n    return json.loads(text)", "func FetchURL(url string) {}", ""]


def embedder(dims=None):
    return create_embedder(EmbedderSpec("static", "", dims))


def test_vectors_are_unit_length_or_zero() -> None:
    norms = np.linalg.norm(embedder().embed(TEXTS, "nl2code.passage"), axis=1)
    assert np.allclose(norms, [1.0, 1.0, 0.0], atol=1e-6)


def test_embedding_is_deterministic_across_instances() -> None:
    assert np.array_equal(embedder().embed(TEXTS, "nl2code.passage"), embedder().embed(TEXTS, "nl2code.passage"))


def test_batch_and_single_agree() -> None:
    batch = embedder().embed(TEXTS, "nl2code.passage")
    assert np.array_equal(batch[1], embedder().embed(TEXTS[1:2], "nl2code.passage")[0])


def test_query_is_closest_to_matching_code() -> None:
    e = embedder()
    docs = e.embed(TEXTS[:2], "nl2code.passage")
    query = e.embed(["parse json"], "nl2code.query")[0]
    assert int(np.argmax(docs @ query)) == 0


def test_dims_change_shape_and_signature() -> None:
    e = embedder(128)
    assert e.embed(TEXTS, "nl2code.passage").shape == (3, 128)
    assert e.signature == "static:hash-subtokens:128:v1"


def test_out_of_range_dims_is_an_error() -> None:
    with pytest.raises(CodesearchError, match="out of range"):
        embedder(3)
