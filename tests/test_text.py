"""Identifier splitting used by lexical search and the static embedder."""

import pytest

from codesearch.text import plain_prose, query_words, spaced_subtokens, spaced_word, subtokens, word_parts


@pytest.mark.parametrize(
    ("word", "spaced"),
    [
        ("parseJSON", "parse json parsejson"),
        ("HTTPServer", "http server httpserver"),
        ("read_file2", "read file 2 readfile2"),
        ("__init__", "init"),
        ("ABC_Def", "abc def abcdef"),
        ("getURLForID", "get url for id geturlforid"),
        ("x", "x"),
        ("0x1F", "0 x 1 f 0x1f"),
    ],
)
def test_spaced_word_splits_an_identifier_at_case_digits_and_underscores(word: str, spaced: str) -> None:
    assert spaced_word(word) == spaced


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


def test_word_parts_are_the_parts_without_the_joined_names() -> None:
    assert word_parts("HTTPServer_io Application+Servers") == ["http", "server", "io", "application", "servers"]
