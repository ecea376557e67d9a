"""`codesearch similar` and `Searcher.similar`: code-to-code search from a place in the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesearch.errors import CodesearchError
from codesearch.searcher import Searcher
from conftest import REPO_FILES, write_repo

FIB_COPY = '''
def fib(count):
    """Return the count-th Fibonacci number iteratively."""
    a, b = 0, 1
    for _ in range(count):
        a, b = b, a + b
    return a
'''


@pytest.fixture
def copied(tmp_path: Path, cli) -> Path:
    """The shared repository plus a near copy of `fibonacci` in another file."""
    root = write_repo(tmp_path / "repo", {**REPO_FILES, "lib/fib_copy.py": FIB_COPY})
    assert cli("index", root, "--quiet").exit_code == 0
    return root


def similar_json(cli, root: Path, *args: str) -> dict:
    result = cli("similar", *args, "--index", root, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def line_of(root: Path, relpath: str, needle: str) -> int:
    return next(i for i, line in enumerate((root / relpath).read_text().splitlines(), 1) if needle in line)


def test_line_inside_a_function_finds_its_copy_first(copied: Path, cli) -> None:
    answer = similar_json(cli, copied, f"src/mathutil.py:{line_of(copied, 'src/mathutil.py', 'a, b = b, a + b')}")
    top = answer["results"][0]
    assert (top["path"], top["symbol"]) == ("lib/fib_copy.py", "fib")
    assert (answer["query"], answer["task"], answer["mode"]) == ("src/mathutil.py:1-6", "code2code", "dense")


def test_the_query_chunk_itself_is_excluded(copied: Path, cli) -> None:
    results = similar_json(cli, copied, "src/mathutil.py:3", "-k", "50")["results"]
    places = {(hit["path"], hit["start_line"]) for hit in results}
    assert ("src/mathutil.py", 1) not in places
    assert ("src/mathutil.py", 9) in places  # the file's other function may still match


def test_the_smallest_enclosing_chunk_is_the_query(indexed: Path, cli) -> None:
    line = line_of(indexed, "src/jsonutil.py", "with open(path) as handle")
    answer = similar_json(cli, indexed, f"src/jsonutil.py:{line}")
    assert answer["query"] == "src/jsonutil.py:15-17"  # ConfigLoader.load, not the class around it


def test_a_whole_file_excludes_all_its_chunks(copied: Path, cli) -> None:
    answer = similar_json(cli, copied, "src/mathutil.py", "-k", "50")
    assert answer["query"] == "src/mathutil.py"
    assert answer["results"] and all(hit["path"] != "src/mathutil.py" for hit in answer["results"])
    assert answer["results"][0]["path"] == "lib/fib_copy.py"


def test_path_relative_to_the_current_directory(copied: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(copied / "src")
    result = cli("similar", "mathutil.py:3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["query"] == "src/mathutil.py:1-6"


def test_filters_apply(copied: Path, cli) -> None:
    results = similar_json(cli, copied, "src/mathutil.py:3", "--lang", "javascript")["results"]
    assert results and {hit["language"] for hit in results} == {"javascript"}


def test_api_takes_an_absolute_path(copied: Path) -> None:
    with Searcher(copied) as searcher:
        result = searcher.similar(str(copied / "src" / "mathutil.py"), 3, k=1)
    assert [(hit.path, hit.symbol) for hit in result.hits] == [("lib/fib_copy.py", "fib")]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("src/nope.py:1", "src/nope.py is not in the index"),
        ("src/mathutil.py:999", "src/mathutil.py:999 is not inside any indexed chunk (its chunks span lines 1-12)"),
        ("src/mathutil.py:0", "line numbers start at 1"),
    ],
)
def test_bad_location_is_one_clear_line(indexed: Path, cli, location: str, message: str) -> None:
    result = cli("similar", location, "--index", indexed)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("codesearch: error: ")


def test_path_outside_the_root_is_refused(indexed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n")
    with Searcher(indexed) as searcher, pytest.raises(CodesearchError, match="outside the indexed root"):
        searcher.similar(str(outside), 1)
