"""Identifier splitting used by lexical search and the static embedder."""

import pytest

from codesearch.text import plain_prose, query_words, spaced_subtokens, split_identifier, subtokens


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("parseJSON", ["parse", "json"]),
        ("HTTPServer", ["http", "server"]),
        ("read_file2", ["read", "file", "2"]),
        ("__init__", ["init"]),
        ("getURLForID", ["get", "url", "for", "id"]),
        ("x", ["x"]),
    ],
)
def test_split_identifier(word: str, parts: list[str]) -> None:
    assert split_identifier(word) == parts


def test_subtokens_add_the_joined_identifier() -> None:
    assert subtokens("parseJSON(x)") == ["parse", "json", "parsejson", "x"]


def test_subtokens_ignore_punctuation_and_unicode_symbols() -> None:
    assert subtokens("a + b → c;") == ["a", "b", "c"]


def test_spaced_subtokens_are_the_subtokens_in_text_order() -> None:
    text = "parseJSON(x) __init__ _ parseJSON 2 é"
    assert spaced_subtokens(text).split() == subtokens(text)


def test_query_words_drop_stopwords() -> None:
    assert query_words("how to parse the JSON") == ["parse", "json"]


def test_query_words_keep_stopwords_when_nothing_else() -> None:
    assert query_words("the") == ["the"]


@pytest.mark.parametrize(
    ("doc", "prose"),
    [
        ("The opposite of :func:`is_scalar`.", "The opposite of is_scalar."),
        ("See :meth:`~dict.get` and ``None``.", "See dict.get and None."),
        ("Uses {@link Parser} for <b>JSON</b>.", "Uses Parser for JSON ."),
        ("Like [map][1] or [filter](https://x.io), **fast**.", "Like map or filter, fast."),
        ("  spread\n  over lines ", "spread over lines"),
    ],
)
def test_plain_prose_drops_doc_markup(doc: str, prose: str) -> None:
    assert plain_prose(doc) == prose
