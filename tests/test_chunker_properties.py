"""Properties of chunk_source in every supported language, on arbitrary bytes and on real syntax
recombined: it never raises, chunks stay inside the file and in order, their text is the file's
own lines (or the documented split form), and every definition the grammar finds is covered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree_sitter import Parser

from codesearch.chunker import GRAMMAR_LANGUAGES, _compiled, _parse_input, bounded_cursor, chunk_source
from codesearch.embedded import EMBEDDED_LANGUAGES
from codesearch.models import Chunk

FIXTURE_LANGUAGES = GRAMMAR_LANGUAGES | EMBEDDED_LANGUAGES
LANGUAGES = sorted(FIXTURE_LANGUAGES | {"markdown", "text"})
HERE = Path(__file__).parent
PROSE = (HERE.parent / "README.md", HERE.parent / "docs" / "DESIGN.md")

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def real_lines(language: str) -> list[str]:
    """Lines of real syntax to recombine: the language's fixture, or the project's own prose."""
    if language in FIXTURE_LANGUAGES:
        paths = [p for p in (HERE / "fixtures" / language).iterdir() if p.name != "chunks.tsv"]
    else:
        paths = list(PROSE)
    return [line for path in paths for line in path.read_text(encoding="utf-8").split("\n")]


@st.composite
def recombined(draw: st.DrawFn, language: str) -> bytes:
    """Runs of real lines in random order, with stray text, shifted indentation, CRLF and a BOM."""
    lines = real_lines(language)
    blocks = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 4)):
            start = draw(st.integers(0, len(lines) - 1))
            block = lines[start : start + draw(st.integers(1, 60))]
        else:
            block = draw(st.lists(st.text(max_size=30), max_size=3))
        indent = " " * draw(st.sampled_from([0, 0, 2, 4]))
        blocks += [indent + line if line else line for line in block]
    ending = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = ending.join(blocks) + draw(st.sampled_from(["", ending]))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode("utf-8")


limits = st.fixed_dictionaries({"max_lines": st.integers(1, 130), "max_chars": st.integers(1, 7000)})


def line_count(source: bytes) -> int:
    return source.count(b"\n") + (0 if source.endswith(b"\n") else 1)


def check_lines(source: bytes, chunks: list[Chunk]) -> None:
    """Every chunk inside the file, non-empty, and in file order."""
    last = line_count(source)
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= last, chunk
        assert chunk.text.strip()
    assert [c.start_line for c in chunks] == sorted(c.start_line for c in chunks)


def check_text(language: str, source: bytes, chunks: list[Chunk]) -> None:
    """A chunk's text is its lines start..end, trimmed, or, when split, a repeated signature line
    or two (found in the file) and then its lines. Class chunks show members as `signature ...`,
    so there the text after the signature is part of the same class chunked without limits."""
    whole = source.decode("utf-8").removeprefix("\ufeff")
    lines = whole.split("\n")
    unsplit = [c.text for c in chunk_source("f", language, source, max_lines=10**9, max_chars=10**9) if c.kind == "class"]
    for chunk in chunks:
        region = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        within = unsplit if chunk.kind == "class" else [region]
        text = chunk.text.split("\n")
        assert any(_matches(text, head, whole, within) for head in range(len(text))), chunk


def _matches(text: list[str], head: int, whole: str, within: list[str]) -> bool:
    rest = "\n".join(text[head:])
    return all(line in whole for line in text[:head]) and any(rest in outer for outer in within)


def definition_lines(language: str, source: bytes) -> dict[int, str]:
    """Line -> name of every definition the language's grammar and .scm query capture, parsing
    what the chunker parses (raw bytes can crash the bash grammar, see `_parse_input`), with the
    chunker's bounded cursor: an unbounded one hung on a rare recombined file here."""
    language_object, query = _compiled(language)
    tree = Parser(language_object).parse(_parse_input(source, language))
    found = {}
    for _, captures in bounded_cursor(query).matches(tree.root_node):
        label = next((name for name in captures if name.startswith("definition.")), None)
        if label is None or "name" not in captures:
            continue
        node, name = captures[label][0], captures["name"][0]
        if node.end_byte > node.start_byte and name.end_byte > name.start_byte:
            found[source.count(b"\n", 0, node.start_byte) + 1] = source[name.start_byte : name.end_byte].decode("utf-8", "replace")
    return found


def check_definitions(language: str, source: bytes, chunks: list[Chunk]) -> None:
    """Each definition's first line lies in a chunk, or a chunk's symbol names it."""
    for line, name in definition_lines(language, source).items():
        covered = any(c.start_line <= line <= c.end_line for c in chunks)
        named = any(c.symbol.split(".")[-1] == " ".join(name.split()).split("::")[-1] for c in chunks)
        assert covered or named, (line, name)


def check_all(language: str, source: bytes, options: dict[str, int]) -> None:
    chunks = chunk_source("f", language, source, **options)
    check_lines(source, chunks)
    check_text(language, source, chunks)
    if language in GRAMMAR_LANGUAGES:
        check_definitions(language, source, chunks)


def check_bytes(language: str, source: bytes, options: dict[str, int]) -> None:
    """What holds for any bytes: text can only be compared where they decode."""
    chunks = chunk_source("f", language, source, **options)
    check_lines(source, chunks)
    if language in GRAMMAR_LANGUAGES:
        check_definitions(language, source, chunks)


@pytest.mark.parametrize("language", LANGUAGES)
@FAST
@given(source=st.binary(max_size=2000), options=limits)
def test_any_bytes(language: str, source: bytes, options: dict[str, int]) -> None:
    check_bytes(language, source, options)


@pytest.mark.parametrize("language", LANGUAGES)
@FAST
@given(text=st.text(max_size=1000), options=limits)
def test_any_text(language: str, text: str, options: dict[str, int]) -> None:
    check_all(language, text.encode("utf-8"), options)


@pytest.mark.parametrize("language", LANGUAGES)
@FAST
@given(data=st.data(), options=limits)
def test_recombined_real_syntax(language: str, data: st.DataObject, options: dict[str, int]) -> None:
    check_all(language, data.draw(recombined(language)), options)


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@SLOW
@given(source=st.binary(max_size=20_000), options=limits)
def test_any_bytes_long_run(language: str, source: bytes, options: dict[str, int]) -> None:
    check_bytes(language, source, options)


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@SLOW
@given(text=st.text(max_size=10_000), options=limits)
def test_any_text_long_run(language: str, text: str, options: dict[str, int]) -> None:
    check_all(language, text.encode("utf-8"), options)


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
@SLOW
@given(data=st.data(), options=limits)
def test_recombined_real_syntax_long_run(language: str, data: st.DataObject, options: dict[str, int]) -> None:
    check_all(language, data.draw(recombined(language)), options)
