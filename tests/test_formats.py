"""Output formats of `ask` and `similar` (--vimgrep, --files-only, --context, --json), and the
command line's own help: an example for every command, shell completion.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from codesearch import render
from codesearch.cli import app
from codesearch.searcher import Searcher
from conftest import ask_json

VIMGREP_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):1:(?P<text>.*)$")


def first_code_line(text: str) -> str:
    return next(line.rstrip() for line in text.split("\n") if line.strip())


def test_vimgrep_is_path_line_col_text(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed)
    hits = ask_json(cli, "parse json", "-k", "5")["results"]
    lines = cli("ask", "parse json", "-k", "5", "--vimgrep").stdout.splitlines()
    expected = [f"{hit['path']}:{hit['start_line']}:1:{first_code_line(hit['text'])}" for hit in hits]
    assert lines == expected
    assert all(VIMGREP_LINE.match(line) for line in lines)


def test_vimgrep_paths_are_relative_to_a_directory_inside_the_root(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed / "src")
    paths = {VIMGREP_LINE.match(line)["path"] for line in cli("ask", "debounce json", "-k", "20", "--vimgrep").stdout.splitlines()}
    assert {"jsonutil.py", "../web/debounce.js"} <= paths
    assert all((indexed / "src" / path).is_file() for path in paths)


def test_vimgrep_paths_are_absolute_from_outside_the_root(indexed: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    lines = cli("ask", "parse json", "--index", indexed, "--vimgrep").stdout.splitlines()
    assert lines and all(Path(VIMGREP_LINE.match(line)["path"]).is_absolute() for line in lines)
    assert all(Path(VIMGREP_LINE.match(line)["path"]).is_file() for line in lines)


def test_files_only_lists_each_file_once_best_first(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed)
    hits = ask_json(cli, "json", "-k", "20")["results"]
    listed = cli("ask", "json", "-k", "20", "--files-only").stdout.splitlines()
    assert listed == list(dict.fromkeys(hit["path"] for hit in hits))
    assert len(listed) < len(hits)  # jsonutil.py has several hits, listed once


def test_no_results_print_nothing_and_exit_1(indexed: Path, cli) -> None:
    result = cli("ask", "json", "--index", indexed, "--lang", "rust", "--vimgrep")
    assert (result.exit_code, result.stdout) == (1, "")


def test_context_shows_lines_around_the_hit_from_the_file(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed)
    out = cli("ask", "parse a json document", "-k", "1", "--context", "2").stdout.splitlines()
    assert out[0].startswith("src/jsonutil.py:5-7  parse_json  (function ")
    assert out[1:] == [
        "  3",
        "  4",
        "> 5  def parse_json(text):",
        '> 6      """Parse a JSON document and return the decoded object."""',
        "> 7      return json.loads(text)",
        "  8",
        "  9",
    ]


def test_context_of_a_changed_file_is_the_indexed_text(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed)
    source = indexed / "src" / "jsonutil.py"
    source.write_text("# edited since indexing\n" + source.read_text())
    out = cli("ask", "parse a json document", "-k", "1", "-C", "2").stdout.splitlines()
    assert out[0].endswith("[file changed since indexing: indexed text, no context]")
    assert out[1:] == [
        "> 5  def parse_json(text):",
        '> 6      """Parse a JSON document and return the decoded object."""',
        "> 7      return json.loads(text)",
    ]


def test_similar_takes_the_formats(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(indexed)
    lines = cli("similar", "src/mathutil.py:3", "-k", "3", "--vimgrep").stdout.splitlines()
    assert len(lines) == 3 and all(VIMGREP_LINE.match(line) for line in lines)
    assert len(cli("similar", "src/mathutil.py:3", "-k", "3", "-C", "0").stdout.split("\n\n")) == 3


@pytest.mark.parametrize(
    ("command", "flags", "named"),
    [
        ("ask", ["--json", "--vimgrep"], "--json and --vimgrep"),
        ("ask", ["--files-only", "--context", "3"], "--files-only and --context"),
        ("similar", ["--vimgrep", "--files-only"], "--vimgrep and --files-only"),
    ],
)
def test_formats_are_mutually_exclusive(indexed: Path, cli, command: str, flags: list[str], named: str) -> None:
    query = "parse json" if command == "ask" else "src/mathutil.py:3"
    result = cli(command, query, "--index", indexed, *flags)
    assert result.exit_code == 2
    assert result.stderr == f"codesearch: error: {named} are different output formats; choose one\n"


def test_batch_refuses_a_text_format(indexed: Path, cli) -> None:
    result = cli("ask", "--batch", "-", "--index", indexed, "--vimgrep", input="parse json\n")
    assert result.exit_code == 2
    assert result.stderr == "codesearch: error: --batch prints JSON Lines; it does not take --vimgrep\n"


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])
def test_every_command_help_has_an_example(cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert re.search(rf"Example: codesearch {command}\b", result.stdout)


def test_shell_completion_completes_commands() -> None:
    env = {**os.environ, "_CODESEARCH_COMPLETE": "complete_bash", "COMP_WORDS": "codesearch sim", "COMP_CWORD": "1"}
    done = subprocess.run([Path(sys.executable).with_name("codesearch")], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.split()) == (0, ["similar"])


def test_show_completion_prints_a_script() -> None:
    """Run from bash, as a user would: the script is for the shell typer finds among the
    process's parents, and a test runner started without one has none."""
    command = f"{shlex.quote(str(Path(sys.executable).with_name('codesearch')))} --show-completion; exit $?"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "_codesearch_completion" in done.stdout


def test_text_output_to_a_pipe_is_plain_numbered_lines(indexed: Path, cli) -> None:
    hit = ask_json(cli, "parse json", "--index", indexed, "-k", "1")["results"][0]
    lines = cli("ask", "parse json", "--index", indexed, "-k", "1").stdout.splitlines()
    first = first_code_line(hit["text"])
    assert f"{hit['start_line']}  {first}" in lines
    assert "\x1b[" not in "\n".join(lines)


def test_text_output_to_a_terminal_is_highlighted(indexed: Path) -> None:
    screen = StringIO()
    with Searcher(indexed) as searcher:
        result = searcher.search("parse json", k=1)
    render.hits(Console(file=screen, force_terminal=True, width=120), result, indexed, indexed)
    assert "\x1b[" in screen.getvalue()
    assert "parse_json" in screen.getvalue()
