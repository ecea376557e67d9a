"""What grep users and first-time users expect of the CLI: exit codes, one-line errors, `--path`
as people type it, `--lang` aliases, output that a pipe gets whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codesearch import __version__
from codesearch.tasks import TASK_NAMES
from conftest import ask_json, write_repo


def one_line_error(result) -> str:
    """The stderr of a failed command, checked to be exactly one `codesearch: error:` line."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codesearch: error: "), result.stderr
    return lines[0]


def help_text(cli, command: str) -> str:
    """`codesearch COMMAND --help` as one line of words, without the frame rich draws."""
    return " ".join(cli(command, "--help").stdout.replace("│", " ").split())


def paths_of(cli, *args: str) -> set[str]:
    return {hit["path"] for hit in ask_json(cli, "json fibonacci debounce fetch", "-k", "50", "--mode", "lexical", *args)["results"]}


# --- exit status and errors ------------------------------------------------------------------------


def test_hits_exit_0_and_no_hits_exit_1(indexed: Path, cli) -> None:
    assert cli("ask", "parse json", "--index", indexed).exit_code == 0
    missed = cli("ask", "parse json", "--lang", "rust", "--index", indexed)
    assert (missed.exit_code, missed.stdout) == (1, "")


def test_batch_exits_1_only_when_no_query_matched(indexed: Path, cli) -> None:
    assert cli("ask", "--batch", "-", "--lang", "rust", "--index", indexed, input="json\nfetch\n").exit_code == 1
    assert cli("ask", "--batch", "-", "--index", indexed, input="json\nfetch\n").exit_code == 0


def test_similar_with_nothing_left_exits_1(indexed: Path, cli) -> None:
    assert cli("similar", "src/mathutil.py", "--lang", "rust", "--index", indexed).exit_code == 1


def test_an_error_exits_2(indexed: Path, cli) -> None:
    one_line_error(cli("ask", "json", "--mode", "fuzzy", "--index", indexed))


@pytest.mark.parametrize("args", [("-k", "0"), ("-k", "many"), ("--no-such-flag",)])
def test_bad_flag_values_are_one_line(indexed: Path, cli, args: tuple[str, ...]) -> None:
    line = one_line_error(cli("ask", "json", *args, "--index", indexed))
    assert "codesearch ask --help" in line


def test_index_of_a_file_says_a_directory_is_needed(repo: Path, cli) -> None:
    line = one_line_error(cli("index", repo / "src/jsonutil.py"))
    assert "is a file" in line and str(repo / "src") in line
    assert not (repo / "src/jsonutil.py/.codesearch").exists()


def test_version(cli) -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"codesearch {__version__}")


def test_no_arguments_show_the_help(cli) -> None:
    assert "Usage" in cli().output


def test_unknown_task_is_named_as_help_names_it(indexed: Path, cli) -> None:
    line = one_line_error(cli("ask", "json", "--task", "bogus", "--index", indexed))
    assert line.endswith(", ".join(TASK_NAMES))
    assert ", ".join(TASK_NAMES) in help_text(cli, "ask")


# --- --path and --lang as people type them ---------------------------------------------------------


@pytest.mark.parametrize("pattern", ["src", "src/", "src/*", "./src", "/src"])
def test_path_names_a_directory_however_written(indexed: Path, cli, pattern: str) -> None:
    assert paths_of(cli, "--path", pattern, "--index", indexed) == {"src/jsonutil.py", "src/mathutil.py"}


def test_path_bare_file_name_matches_at_any_depth(indexed: Path, cli) -> None:
    assert paths_of(cli, "--path", "mathutil.py", "--index", indexed) == {"src/mathutil.py"}


def test_path_exclusions_and_several_patterns(indexed: Path, cli) -> None:
    assert "src/jsonutil.py" not in paths_of(cli, "--path", "!src/*", "--index", indexed)
    assert paths_of(cli, "--path", "*.go", "--path", "*.js", "--index", indexed) == {"net/fetch.go", "web/debounce.js"}
    assert paths_of(cli, "--path", "src", "--path", "!jsonutil.py", "--index", indexed) == {"src/mathutil.py"}


def test_path_starts_where_the_user_stands(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed / "src")
    assert paths_of(cli, "--path", "./mathutil.py") == {"src/mathutil.py"}
    assert paths_of(cli, "--path", "../web/*") == {"web/debounce.js"}
    listed = cli("ask", "fibonacci", "--path", "./mathutil.py", "--files-only").stdout.split()
    assert listed == ["mathutil.py"]


@pytest.mark.parametrize("name", ["py", "Python", "PYTHON"])
def test_lang_takes_aliases_in_any_case(indexed: Path, cli, name: str) -> None:
    assert paths_of(cli, "--lang", name, "--index", indexed) == {"src/jsonutil.py", "src/mathutil.py"}


def test_help_explains_path_patterns(cli) -> None:
    explained = help_text(cli, "ask")
    assert "!PATTERN" in explained and "current directory" in explained


# --- output that tools and people read -------------------------------------------------------------


def test_piped_headers_are_never_wrapped(tmp_path: Path, cli) -> None:
    deep = "very_long_directory_name_for_wrapping/" * 3 + "module_with_a_long_name.py"
    root = write_repo(tmp_path / "repo", {deep: "def wrapped_header_function():\n    return 1\n"})
    assert cli("index", root, "--quiet").exit_code == 0
    out = cli("ask", "wrapped_header_function", "-k", "1", "--index", root).stdout
    assert f"{deep}:1-2  wrapped_header_function  function" in out.splitlines()[0]


def test_status_counts_one_changed_file_in_the_singular(indexed: Path, cli) -> None:
    target = indexed / "src/mathutil.py"
    target.write_text(target.read_text() + "\n# touched\n")
    out = cli("status", "--index", indexed).stdout
    assert "changed since  1 file\n" in out


def test_text_paths_are_relative_to_the_current_directory(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed / "web")
    first = cli("ask", "debounce", "-k", "1").stdout.splitlines()[0]
    assert first.startswith("debounce.js:"), first
    assert json.loads(cli("ask", "debounce", "-k", "1", "--json").stdout)["results"][0]["path"] == "web/debounce.js"
    assert os.getcwd() == str(indexed / "web")


# --- bytes that are not UTF-8 ------------------------------------------------------------------------


def test_batch_file_with_a_line_that_is_not_utf8_answers_that_line_with_an_error(indexed: Path, cli, tmp_path: Path) -> None:
    batch = tmp_path / "queries.txt"
    batch.write_bytes(b"parse json\n\xff\xfe bad\nfibonacci\n")
    result = cli("ask", "--batch", str(batch), "-k", "1", "--index", indexed)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in answer) for answer in answers] == [False, True, False]
    assert "not valid UTF-8" in answers[1]["error"]


def test_similar_with_a_path_that_is_not_utf8_is_one_line(indexed: Path, cli) -> None:
    line = one_line_error(cli("similar", "caf\udce9.py:1", "--index", indexed))
    assert "not valid UTF-8" in line
