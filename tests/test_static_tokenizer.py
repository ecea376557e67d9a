"""The static model's code-aware tokenizer: identifiers split into lower-cased subwords."""

import zlib

import numpy as np

from codesearch.embedders import static
from codesearch.text import subtokens


def test_identifiers_split_into_parts_and_the_joined_name() -> None:
    assert static.tokenize("parseJSON") == ["parse", "json", "parsejson"]
    assert static.tokenize("read_file2") == ["read", "file", "2", "readfile2"]
    assert static.tokenize("HTTPServer.serve_forever()") == ["http", "server", "httpserver", "serve", "forever", "serveforever"]


def test_tokenizer_matches_lexical_search_tokens() -> None:
    text = "def getUserByID(user_id: int) -> User:  # fetch one"
    assert static.tokenize(text) == subtokens(text)


def test_punctuation_and_non_ascii_are_dropped() -> None:
    assert static.tokenize("a+b == c; // naïve") == ["a", "b", "c", "na", "ve"]
    assert static.tokenize("") == []


def test_unknown_tokens_fall_into_stable_buckets() -> None:
    assert static.bucket_of("zzqxfoo", 4096) == zlib.crc32(b"zzqxfoo") % 4096
    model = static.load_model(str(static.MODEL_DIR))
    (token_id,) = model.ids("zzqxfoo")
    assert token_id == len(model.vocab) + static.bucket_of("zzqxfoo", model.buckets)


def test_known_tokens_map_to_their_vocabulary_rows() -> None:
    model = static.load_model(str(static.MODEL_DIR))
    ids = model.ids("parseJson")
    assert [model.vocab.get(t) for t in ("parse", "json")] == list(ids[:2])


def test_token_counts_per_text_row() -> None:
    model = static.load_model(str(static.MODEL_DIR))
    rows, tokens, counts = model.token_counts(["parseJson(x) parseJson", "", "x"])
    ids, (x,) = model.ids("parseJson"), model.ids("x")
    found = {(int(r), int(t)): int(c) for r, t, c in zip(rows, tokens, counts)}
    assert found == {**{(0, i): 2 for i in ids}, (0, x): 1, (2, x): 1}


def test_query_and_code_weights_differ_but_share_vectors() -> None:
    model = static.load_model(str(static.MODEL_DIR))
    assert model.weights.shape == (2, model.size)
    assert (model.weights > 0).all()
    assert not np.array_equal(model.weights[0], model.weights[1])
