"""Chunk single-file components (Vue, Svelte), whose code sits in `<script>` and `<style>` blocks.

The host grammar only finds the blocks; each block's bytes are chunked by `chunk_source` as the
language it is written in (JavaScript, or TypeScript for `lang="ts"`; CSS for a plain style) and
its chunks moved to the file's own line numbers. Everything else (the template, a style in SCSS or
Less) is text, cut into line windows. Chunks keep the component's language: that is the file's
language, which `--lang` filters on, and the embedder reads `vue function add` as component code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import NamedTuple

from tree_sitter import Language, Node, Parser, Query

from codesearch import chunker
from codesearch.models import Chunk

# There is no Vue wheel: a Vue component's top level is HTML, and the HTML grammar reads it.
_HOSTS = {"vue": "tree_sitter_html", "svelte": "tree_sitter_svelte"}

EMBEDDED_LANGUAGES: frozenset[str] = frozenset(_HOSTS)

_BLOCKS = """
[
  (script_element (start_tag) @tag (raw_text) @code)
  (style_element (start_tag) @tag (raw_text) @code)
] @element
"""

# Element -> its `lang` attribute (empty when absent) -> the language its code is chunked as.
_LANGS = {
    "script_element": {b"": "javascript", b"js": "javascript", b"jsx": "javascript", b"ts": "typescript",
                       b"typescript": "typescript", b"tsx": "tsx"},
    "style_element": {b"": "css", b"css": "css"},
}
_TEXT = "text"  # anything else: a template, SCSS, CoffeeScript


class _Block(NamedTuple):
    """A script or style element [start, end) and its code [code_start, code_end), which is
    chunked as `language`; the tags around the code are left out of every chunk."""

    start: int
    end: int
    code_start: int
    code_end: int
    language: str


def component_chunks(
    path: str, language: str, source: bytes, max_lines: int, max_chars: int
) -> list[Chunk] | None:
    """The component's chunks in file order; None for other languages, or when the host grammar
    fails, so that the caller chunks the file as it would without this module."""
    if language not in _HOSTS:
        return None
    try:
        segments = list(_segments(_code_blocks(language, source), len(source)))
    except Exception:  # a missing wheel or a grammar surprise must cost chunk quality, never the file
        return None
    chunks: list[Chunk] = []
    offset = pos = 0  # newlines before `pos`
    for start, end, segment_language in segments:
        offset += source.count(b"\n", pos, start)
        pos = start
        for chunk in chunker.chunk_source(
            path, segment_language, source[start:end], max_lines=max_lines, max_chars=max_chars
        ):
            first, last = chunk.start_line + offset, chunk.end_line + offset
            chunks.append(replace(chunk, language=language, start_line=first, end_line=last))
    return chunks


@cache
def _compiled(language: str) -> tuple[Language, Query]:
    """Host grammar and block query, built once per process (the wheel is imported here, lazily)."""
    lang = chunker.wheel_language(_HOSTS[language])
    return lang, Query(lang, _BLOCKS)


def _parser(language: str) -> Parser:
    return chunker.thread_parser(f"host:{language}", lambda: _compiled(language)[0])


def _code_blocks(language: str, source: bytes) -> list[_Block]:
    """The script and style blocks' code, in file order, with the language each is chunked as."""
    root = _parser(language).parse(chunker._parse_input(source, language)).root_node
    blocks = []
    for _, caps in chunker.bounded_cursor(_compiled(language)[1]).matches(root):
        element, tag, code = caps["element"][0], caps["tag"][0], caps["code"][0]
        lang = _LANGS[element.type].get(_lang_attribute(source, tag), _TEXT)
        blocks.append(_Block(element.start_byte, element.end_byte, code.start_byte, code.end_byte, lang))
    return sorted(blocks)


def _lang_attribute(source: bytes, tag: Node) -> bytes:
    """The value of the start tag's `lang` attribute, lower case; empty when it has none."""
    for attribute in tag.named_children:
        if attribute.type != "attribute" or not attribute.named_children:
            continue
        name, *values = attribute.named_children
        if source[name.start_byte : name.end_byte].lower() == b"lang" and values:
            value = source[values[0].start_byte : values[0].end_byte]
            return value.strip(b"\"'").strip().lower()
    return b""


def _segments(blocks: list[_Block], size: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, language) of each block's code and of the text between and around the
    elements, in file order."""
    pos = 0
    for block in blocks:
        if pos < block.start:
            yield pos, block.start, _TEXT
        yield block.code_start, block.code_end, block.language
        pos = block.end
    if pos < size:
        yield pos, size, _TEXT
