"""Functions assigned to members (`res.render = function`, `exports.x = () =>`) are definitions:
express and send write every method this way, and unchunked they were anonymous module code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ask_json

from codesearch.chunker import chunk_source
from codesearch.models import Chunk

FIXTURE = Path(__file__).parent / "fixtures" / "js_assignments" / "response.js"
LANGUAGES = ["javascript", "typescript", "tsx"]


def chunks_of(language: str) -> list[Chunk]:
    """The fixture chunked as `language`: the TypeScript grammars read this JavaScript too."""
    return chunk_source(FIXTURE.name, language, FIXTURE.read_bytes())


@pytest.mark.parametrize("language", LANGUAGES)
def test_member_functions_are_named_by_the_left_hand_side_less_module(language: str) -> None:
    definitions = [(c.kind, c.symbol) for c in chunks_of(language) if c.kind != "module"]
    assert definitions == [
        ("method", "res.render"),
        ("method", "View.prototype.lookup"),
        ("method", "exports.normalizeType"),
        ("method", "exports.compileTrust"),
        ("function", "exports"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("symbol", "start", "end"),
    [("res.render", 6, 16), ("View.prototype.lookup", 18, 20), ("exports.normalizeType", 22, 23)],
)
def test_chunk_covers_the_whole_assignment_and_its_doc_comment(language: str, symbol: str, start: int, end: int) -> None:
    (chunk,) = [c for c in chunks_of(language) if c.symbol == symbol]
    lines = FIXTURE.read_text().split("\n")[start - 1 : end]
    assert (chunk.start_line, chunk.end_line, chunk.text) == (start, end, "\n".join(lines))


def test_assignment_inside_a_callback_stays_in_the_callers_chunk() -> None:
    (chunk,) = [c for c in chunks_of("javascript") if "inst.parse" in c.text]
    assert (chunk.kind, chunk.symbol, chunk.start_line, chunk.end_line) == ("module", "", 33, 35)


def test_ask_for_a_member_function_finds_its_whole_definition(tmp_path: Path, cli) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(FIXTURE, root / FIXTURE.name)
    assert cli("index", root, "--quiet").exit_code == 0
    top = ask_json(cli, "res.render", "--index", root)["results"][0]
    assert (top["symbol"], top["start_line"], top["end_line"]) == ("res.render", 6, 16)
