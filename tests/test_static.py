"""The built-in static embedder: deterministic, normalised, signature-bearing, trained weights shipped."""

import numpy as np
import pytest

from codesearch.embedders import EmbedderSpec, create_embedder
from codesearch.embedders import static
from codesearch.errors import CodesearchError

TEXTS = ["def parse_json(text):\n    return json.loads(text)", "func FetchURL(url string) {}", ""]


def embedder(dims=None, model=""):
    return create_embedder(EmbedderSpec("static", model, dims))


@pytest.mark.parametrize("model", ["", "hash-subtokens"])
def test_vectors_are_unit_length_or_zero(model) -> None:
    vectors = embedder(model=model).embed(TEXTS, "nl2code.passage")
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0, 0.0], atol=1e-5)


@pytest.mark.parametrize("model", ["", "hash-subtokens"])
def test_embedding_is_deterministic_across_instances(model) -> None:
    assert np.array_equal(embedder(model=model).embed(TEXTS, "nl2code.passage"), embedder(model=model).embed(TEXTS, "nl2code.passage"))


def test_batch_and_single_agree() -> None:
    texts = TEXTS * 50  # more than one internal group of texts
    batch = embedder().embed(texts, "nl2code.passage")
    for i in (1, 100, 148):
        assert np.allclose(batch[i], embedder().embed(texts[i : i + 1], "nl2code.passage")[0], atol=1e-6)


def test_bulk_conversion_to_float32_changes_no_vector() -> None:
    model = static.StaticModel(static.MODEL_DIR)
    before = model.embed(TEXTS[:2], 1, 256)
    model.embed(TEXTS * (static._BULK // len(TEXTS) + 1), 1, 256)  # past the bulk threshold: the float32 copy is made
    assert model._float32 is not None
    assert np.array_equal(model.embed(TEXTS[:2], 1, 256), before)


def test_a_query_finds_its_tokens_rows_in_the_vocabulary_text_as_the_dict_has_them() -> None:
    model = static.StaticModel(static.MODEL_DIR)
    lines = (static.MODEL_DIR / "vocab.txt").read_text(encoding="utf-8").split("\n")
    tokens = lines[:3] + lines[-3:] + lines[1000:1100:7] + ["notavocabularytoken", "pars", "json\u00e9"]
    found = model._rows_of(tokens)
    assert model._vocab is None  # a query's few tokens never build the dict
    assert found == {token: row for token, row in model.vocab.items() if token in tokens}
    assert found == {token: lines.index(token) for token in tokens if token in lines}


def test_indexing_many_distinct_words_builds_the_dict() -> None:
    model = static.StaticModel(static.MODEL_DIR)
    texts = [f"parse_json{i} load_config{i}" for i in range(200)]
    before = model.embed(texts, 1, 256)
    assert model._vocab is not None and len(model._vocab) == model.known
    # equal up to float32 rounding: numpy 2.4 sums a batch's rows in another order than one row's
    np.testing.assert_allclose(static.StaticModel(static.MODEL_DIR).embed(texts[:1], 1, 256), before[:1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["", "hash-subtokens"])
def test_query_is_closest_to_matching_code(model) -> None:
    e = embedder(model=model)
    docs = e.embed(TEXTS[:2], "nl2code.passage")
    query = e.embed(["parse json"], "nl2code.query")[0]
    assert int(np.argmax(docs @ query)) == 0


def test_natural_language_query_markup_is_cleaned_as_in_training() -> None:
    e = embedder()
    marked = e.embed(["The opposite of :func:`is_scalar`."], "nl2code.query")
    assert np.array_equal(marked, e.embed(["The opposite of is_scalar."], "nl2code.query"))


def test_code_query_keeps_its_markup() -> None:
    e = embedder()
    code = 'role = ":meth:`run`"'
    assert not np.array_equal(e.embed([code], "code2code.query"), e.embed(['role = "run"'], "code2code.query"))


def test_trained_model_relates_words_that_do_not_match_literally() -> None:
    e = embedder()
    docs = e.embed(["def remove_file(path):\n    os.unlink(path)", "def add_numbers(a, b):\n    return a + b"], "nl2code.passage")
    query = e.embed(["delete a file from disk"], "nl2code.query")[0]
    assert int(np.argmax(docs @ query)) == 0


def test_default_signature_names_the_trained_model() -> None:
    e = embedder()
    assert e.model == static.MODEL_NAME
    assert e.signature == f"static:{static.MODEL_NAME}:{e.dimensions}:v2"


def test_dims_change_shape_and_signature() -> None:
    e = embedder(128)
    vectors = e.embed(TEXTS, "nl2code.passage")
    assert vectors.shape == (3, 128)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert e.signature == f"static:{static.MODEL_NAME}:128:v2"
    assert embedder(128, "hash-subtokens").signature == "static:hash-subtokens:128:v1"


def test_out_of_range_dims_is_an_error() -> None:
    with pytest.raises(CodesearchError, match="out of range"):
        embedder(3)
    with pytest.raises(CodesearchError, match="out of range"):
        embedder(4096)


def test_unknown_model_is_an_error() -> None:
    with pytest.raises(CodesearchError, match="unknown static model"):
        embedder(model="no-such-model")


def test_missing_weights_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(static, "MODEL_DIR", tmp_path)
    with pytest.raises(CodesearchError, match="missing or unreadable"):
        static.StaticEmbedder()


def test_shipped_weights_are_small_float16() -> None:
    files = {p.name: p for p in static.MODEL_DIR.iterdir()}
    assert {"vectors.npy", "weights.npy", "vocab.txt", "config.json", "MODEL_CARD.md"} <= set(files)
    assert sum(p.stat().st_size for p in files.values()) <= 32 * 1024 * 1024
    assert np.load(files["vectors.npy"]).dtype == np.float16
