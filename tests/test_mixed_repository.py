"""One repository holding every language with a grammar, indexed through the real CLI: each
language yields named definition chunks, not line windows."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from codesearch.chunker import GRAMMAR_LANGUAGES

FIXTURES = Path(__file__).parent / "fixtures"
COMPONENTS = {"vue", "svelte"}


def test_every_language_yields_named_definitions_in_one_index(tmp_path: Path, cli) -> None:
    root = tmp_path / "repo"
    for language in sorted(GRAMMAR_LANGUAGES | COMPONENTS):
        shutil.copytree(FIXTURES / language, root / language, ignore=shutil.ignore_patterns("chunks.tsv"))
    result = cli("index", root, "--quiet")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(root / ".codesearch" / "index.db") as db:
        named = db.execute(
            "SELECT DISTINCT substr(f.path, 1, instr(f.path, '/') - 1) FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE c.kind IN ('function', 'method', 'class') AND c.symbol != ''"
        ).fetchall()
    assert {row[0] for row in named} == GRAMMAR_LANGUAGES | COMPONENTS
