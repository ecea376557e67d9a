"""Doc comments travel with the definition they document: in its chunk's text and line range."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ask_json

from codesearch.chunker import chunk_source
from codesearch.languages import detect_language
from codesearch.models import Chunk

FIXTURES = Path(__file__).parent / "fixtures" / "doc_comments"


def chunk_of(name: str, symbol: str) -> list[Chunk]:
    """The chunks of the definition `symbol` in fixture file `name`, in file order."""
    path = FIXTURES / name
    language = detect_language(name)
    assert language is not None
    chunks = chunk_source(name, language, path.read_bytes())
    found = [c for c in chunks if c.symbol == symbol and c.kind != "module"]
    assert found, [(c.kind, c.symbol) for c in chunks]
    return found


@pytest.mark.parametrize(
    ("name", "symbol", "line", "opening"),
    [
        ("utils.js", "parseExtendedQueryString", 5, "/**"),
        ("Savings.java", "Savings.addInterest", 7, "/**"),
        ("Shelf.cs", "Shelf.Count", 7, "/// <summary>"),
        ("list.c", "list_free", 3, "/**"),
        ("cart.php", "cart_total", 3, "/**"),
    ],
)
def test_doc_comment_a_blank_line_above_belongs_to_the_definition(name: str, symbol: str, line: int, opening: str) -> None:
    (chunk,) = chunk_of(name, symbol)
    assert (chunk.start_line, chunk.text.split("\n")[0].strip()) == (line, opening)


def test_inner_doc_comment_stays_out_of_the_function_below_it() -> None:
    (chunk,) = chunk_of("shelf.rs", "helper")
    assert chunk.start_line == 2
    assert "Shelf utilities" not in chunk.text


def test_doc_comment_above_a_decorator_in_a_class_body_belongs_to_the_method() -> None:
    (chunk,) = chunk_of("panel.ts", "Panel.open")
    assert chunk.start_line == 6
    assert [line.strip() for line in chunk.text.split("\n")[:2]] == [
        "/** Shows the panel when the host is clicked. */",
        "@HostListener('click')",
    ]


def test_class_outline_keeps_a_member_signature_and_leaves_its_doc_comment_to_the_member() -> None:
    (outline,) = chunk_of("Savings.java", "Savings")
    assert "public void addInterest(double rate) { ... }" in outline.text
    assert "Adds interest" not in outline.text


def test_split_function_starts_at_its_doc_comment_and_repeats_only_its_signature() -> None:
    body = "".join(f"  total += step({i});\n" for i in range(40))
    source = f"/**\n * Sum the steps.\n */\n\nfunction accumulate(step) {{\n  let total = 0;\n{body}  return total;\n}}\n"
    parts = [c for c in chunk_source("big.js", "javascript", source.encode(), max_lines=12) if c.kind == "function"]
    assert len(parts) > 3
    assert (parts[0].start_line, parts[0].text.split("\n")[:2]) == (1, ["/**", " * Sum the steps."])
    assert {part.text.split("\n")[0] for part in parts[1:]} == {"function accumulate(step) {"}


def test_ask_shows_the_doc_comment_with_its_function(tmp_path: Path, cli) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(FIXTURES / "utils.js", root / "utils.js")
    assert cli("index", root, "--quiet").exit_code == 0
    top = ask_json(cli, "parse an extended query string", "--index", root)["results"][0]
    assert (top["symbol"], top["start_line"], top["end_line"]) == ("parseExtendedQueryString", 5, 17)
    assert top["text"].startswith("/**\n * Parse an extended query string with qs.")
