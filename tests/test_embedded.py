"""Vue and Svelte components: script and style blocks chunked as their own language, at the
file's line numbers; the fixtures' exact chunks are checked in test_chunker.py."""

from __future__ import annotations

import pytest

from codesearch import embedded
from codesearch.chunker import chunk_source
from codesearch.models import Chunk


def triples(chunks: list[Chunk]) -> list[tuple[str, str, int, int]]:
    return [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks]


def test_code_on_the_script_tag_line_keeps_its_line_numbers() -> None:
    source = b"<template><p>{{ n }}</p></template>\n<script>function count() {\n  return 1\n}</script>\n"
    chunks = chunk_source("a.vue", "vue", source)
    assert triples(chunks) == [("window", "", 1, 1), ("function", "count", 2, 4)]
    assert chunks[1].text == "function count() {\n  return 1\n}"
    assert {c.language for c in chunks} == {"vue"}


@pytest.mark.parametrize(
    ("attribute", "kinds"),
    [
        (b' lang="ts"', ["class", "function"]),  # an interface is TypeScript: a class chunk
        (b"", ["module", "function"]),  # JavaScript reads it as an expression statement
        (b' lang="coffee"', ["window"]),  # no grammar: text
    ],
)
def test_script_lang_attribute_picks_the_grammar(attribute: bytes, kinds: list[str]) -> None:
    code = b"interface Point { x: number }\n\nfunction f(p) {\n  return p\n}\n"
    source = b"<script" + attribute + b">\n" + code + b"</script>\n"
    assert [c.kind for c in chunk_source("a.svelte", "svelte", source)] == kinds


def test_style_in_another_language_is_text_and_tags_are_left_out() -> None:
    source = b'<style lang="scss">\n.a {\n  .b { color: red; }\n}\n</style>\n'
    (chunk,) = chunk_source("a.vue", "vue", source)
    assert (chunk.kind, chunk.start_line, chunk.end_line) == ("window", 2, 4)
    assert "<style" not in chunk.text and "</style>" not in chunk.text


def test_a_failing_host_grammar_falls_back_to_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("grammar surprise")

    monkeypatch.setattr(embedded, "_code_blocks", explode)
    source = b"<script>\nfunction f() {}\n</script>\n"
    assert triples(chunk_source("a.vue", "vue", source)) == [("window", "", 1, 3)]


def test_other_languages_are_not_components() -> None:
    assert embedded.component_chunks("a.py", "python", b"x = 1\n", 120, 6000) is None
