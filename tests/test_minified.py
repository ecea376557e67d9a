"""Minified bundles are skipped and counted, by name or by content, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from codesearch.prepare import minified
from conftest import ask_json, indexed_paths, write_repo

BUNDLE = "function zebraQuux(a){return a+1};" * 24_000
"""800 KB of JavaScript on one line, as a minifier writes it."""
NORMAL_JS = "export function debounce(fn, ms) {\n  return fn;\n}\n"


def index_json(cli, root: Path) -> dict:
    result = cli("index", root, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_minified_files_are_counted_as_skipped(tmp_path: Path, cli) -> None:
    root = write_repo(tmp_path / "repo", {"web/app.js": BUNDLE, "web/x.min.js": "var a=1;\n", "web/main.js": NORMAL_JS})
    report = index_json(cli, root)
    assert (report["files"], report["skipped"]) == (1, {"minified": 2})


def test_ask_never_returns_a_minified_file(tmp_path: Path, cli) -> None:
    root = write_repo(tmp_path / "repo", {"web/app.js": BUNDLE, "web/main.js": NORMAL_JS})
    index_json(cli, root)
    paths = {hit["path"] for hit in ask_json(cli, "zebraQuux", "--index", root, "-k", "50")["results"]}
    assert "web/app.js" not in paths


def test_a_file_that_became_minified_leaves_the_index(tmp_path: Path, cli) -> None:
    root = write_repo(tmp_path / "repo", {"web/app.js": NORMAL_JS, "web/main.js": NORMAL_JS})
    index_json(cli, root)
    (root / "web/app.js").write_text(BUNDLE)
    index_json(cli, root)
    assert indexed_paths(root) == {"web/main.js"}


def test_a_js_file_with_one_long_line_is_still_indexed(tmp_path: Path, cli) -> None:
    table = "const TABLE = [" + ", ".join(str(n) for n in range(1_000)) + "];\n"
    root = write_repo(tmp_path / "repo", {"web/table.js": NORMAL_JS * 20 + table + NORMAL_JS * 20})
    report = index_json(cli, root)
    assert (report["files"], report["skipped"]) == (1, {})


def test_minified_needs_a_file_over_4_kib() -> None:
    assert (minified(b"x" * 4096), minified(b"x" * 4097)) == (False, True)


def test_minified_means_lines_averaging_over_1000_bytes() -> None:
    assert (minified((b"y" * 999 + b"\n") * 10), minified((b"y" * 1000 + b"\n") * 10)) == (False, True)
