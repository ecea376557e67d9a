"""A cloned repository, a pasted key and a client's query are untrusted input (issue #21):
a tree nested past Python's recursion limit, a key with a line break, a query of megabytes.
Each is answered as designed or with one line, never a traceback or a stall."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Iterator

import pytest
import test_mcp
from conftest import REPO_FILES, ask_json, write_repo
from jina_server import JinaServer, Reply
from mcp import stdio_client
from test_mcp import Client, run_cli, served

from codesearch.files import discover, discover_paths
from codesearch.searcher import MAX_QUERY_CHARS

DEPTH = 1000
BOTTOM = "def deepest_bottom_helper(value):\n    return value * 42\n"
KEY = "jina_hostile_SECRET_42"
SECRET = "SECRET_42"


def nest(root: Path, depth: int) -> Path:
    """root/d/d/.../d, `depth` levels below `root`, made one level at a time (os.makedirs recurses)."""
    directory = root
    for _ in range(depth):
        directory = directory / "d"
        directory.mkdir()
    return directory


def unnest(root: Path, depth: int) -> None:
    """Remove what `nest` made and what lies at its bottom, deepest first: shutil.rmtree, which
    pytest cleans up with, recurses per level."""
    directory = root / ("d/" * depth)
    for _ in range(depth):
        for entry in directory.iterdir():
            entry.unlink()
        directory.rmdir()
        directory = directory.parent


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Path]:
    """A repository whose only source file lies DEPTH directories down."""
    root = tmp_path / "deep"
    root.mkdir()
    (nest(root, DEPTH) / "bottom.py").write_text(BOTTOM)
    yield root
    unnest(root, DEPTH)


# --- a tree deeper than the recursion limit ---------------------------------------------


def test_a_tree_1000_directories_deep_is_indexed_and_searched(deep: Path, cli) -> None:
    result = cli("index", deep, "--quiet")
    assert result.exit_code == 0, result.output
    hit = ask_json(cli, "deepest bottom helper", "--index", deep)["results"][0]
    assert (hit["path"], hit["symbol"]) == ("d/" * DEPTH + "bottom.py", "deepest_bottom_helper")


def test_a_deep_tree_reports_a_loop_to_an_open_directory_and_a_link_to_a_left_one(deep: Path) -> None:
    bottom = deep / ("d/" * DEPTH)
    (bottom / "up").symlink_to(deep / "d")
    (deep / "z").mkdir()
    (deep / "z/back").symlink_to(deep / "d/d")
    reports: dict[str, str] = {}
    assert [source.path for source in discover(deep, on_skip=reports.__setitem__)] == ["d/" * DEPTH + "bottom.py"]
    assert reports == {"d/" * DEPTH + "up": "symlink loop", "z/back": "symlink to indexed directory"}


def test_discover_paths_walks_a_deep_directory(deep: Path) -> None:
    assert [source.path for source in discover_paths(deep, ["d"])] == ["d/" * DEPTH + "bottom.py"]


# --- a Jina key pasted with more than the key ---------------------------------------------


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[JinaServer]:
    """The Jina API stand-in, with the CLI pointed at it; each test sets JINA_API_KEY."""
    for name in ("CODESEARCH_INDEX", *(f"CODESEARCH_JINA_{knob}" for knob in ("CONCURRENCY", "BATCH_SIZE", "RETRIES"))):
        monkeypatch.delenv(name, raising=False)
    with JinaServer(api_key=KEY) as server:
        monkeypatch.setenv("JINA_API_BASE", server.url)
        yield server


def one_line_error(result) -> str:
    """The message of a CLI run that failed with one line and exit status 2."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("codesearch: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_key_pasted_with_a_trailing_line_break_is_used_without_it(repo: Path, cli, api: JinaServer, monkeypatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", f"{KEY}\n")
    result = cli("index", repo, "--embedder", "jina", "--quiet")
    assert result.exit_code == 0, result.output
    assert {request.headers["authorization"] for request in api.requests} == {f"Bearer {KEY}"}


@pytest.mark.parametrize("key", ["jina_hostile\nSECRET_42", "jina_hostile\r\nSECRET_42", "jina_hostile\x01SECRET_42", "jina_hostile SECRET_42", "jina_hostilé_SECRET_42"])
def test_a_key_holding_what_no_key_holds_is_refused_in_one_line_without_it(repo: Path, cli, api: JinaServer, monkeypatch, key: str) -> None:
    monkeypatch.setenv("JINA_API_KEY", key)
    result = cli("index", repo, "--embedder", "jina")
    assert one_line_error(result).startswith("codesearch: error: JINA_API_KEY has U+")
    assert SECRET not in result.stdout + result.stderr
    assert api.requests == []


def test_a_key_echoed_in_another_case_is_masked(repo: Path, cli, api: JinaServer, monkeypatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", KEY)
    api.script(Reply(401, {"detail": f"unknown key {KEY.upper()} (did you mean {KEY.lower()}?)"}))
    result = cli("index", repo, "--embedder", "jina")
    assert "rejected the key (401: unknown key *** (did you mean ***?))" in one_line_error(result)


def test_an_answer_httpx_cannot_decode_is_one_line(repo: Path, cli, api: JinaServer, monkeypatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", KEY)
    api.script(Reply(200, b"not gzip at all", {"Content-Encoding": "gzip"}))
    result = cli("index", repo, "--embedder", "jina")
    assert "while decompressing data" in one_line_error(result)


@pytest.fixture
def mcp_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The file that the stderr of servers started by `served` goes to: stdio_client's default
    is the sys.stderr of its import, which capfd does not reach."""
    log = tmp_path / "mcp-stderr.log"
    with log.open("w") as handle:
        monkeypatch.setattr(test_mcp, "stdio_client", functools.partial(stdio_client, errlog=handle))
        yield log


def test_mcp_with_a_key_holding_a_line_break_answers_a_tool_error_and_logs_no_key(
    tmp_path: Path, cli, api: JinaServer, monkeypatch, mcp_log: Path,
) -> None:
    root = write_repo(tmp_path / "repo", REPO_FILES)
    monkeypatch.setenv("JINA_API_KEY", KEY)
    assert cli("index", root, "--embedder", "jina", "--quiet").exit_code == 0
    with served(root, env={"JINA_API_KEY": "jina_hostile\nSECRET_42", "JINA_API_BASE": api.url}) as client:
        message = client.error("search", query="parse a JSON document")
    assert message.startswith("JINA_API_KEY has U+000A at character 13 of 22") and "\n" not in message
    logged = mcp_log.read_text()
    assert SECRET not in logged and "Traceback" not in logged


# --- a query of any size ------------------------------------------------------------------


def test_ask_with_a_query_over_the_limit_is_one_line(indexed: Path, cli) -> None:
    result = cli("ask", "x" * (MAX_QUERY_CHARS + 1), "--index", indexed)
    message = one_line_error(result)
    assert message.startswith(f"codesearch: error: query is {MAX_QUERY_CHARS + 1:,} characters long; at most {MAX_QUERY_CHARS:,} are searched")


def test_ask_batch_answers_an_over_long_line_with_an_error_and_the_rest_with_results(indexed: Path, cli) -> None:
    longest = "parse json " * (MAX_QUERY_CHARS // 11) + "x" * (MAX_QUERY_CHARS % 11)
    lines = ["parse json", longest + "x", longest]
    result = cli("ask", "--batch", "-", "--index", indexed, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["query"] for answer in answers] == lines
    assert answers[1]["error"].startswith(f"query is {MAX_QUERY_CHARS + 1:,} characters long")
    assert answers[0]["results"] and answers[2]["results"]


@pytest.fixture(scope="module")
def mcp_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """`codesearch mcp` over an indexed copy of REPO_FILES."""
    root = write_repo(tmp_path_factory.mktemp("hostile") / "repo", REPO_FILES)
    assert run_cli("index", root, "--quiet") == ""
    with served(root) as client:
        yield client


def test_mcp_search_with_a_query_of_megabytes_is_a_quick_tool_error(mcp_client: Client) -> None:
    started = time.monotonic()
    message = mcp_client.error("search", query="parse json " * 255_000)
    assert time.monotonic() - started < 10
    assert message.startswith(f"query is 2,804,999 characters long; at most {MAX_QUERY_CHARS:,} are searched")


def test_mcp_search_declares_the_query_limit(mcp_client: Client) -> None:
    tools = {tool.name: tool for tool in mcp_client.portal.call(mcp_client.session.list_tools).tools}
    assert tools["search"].input_schema["properties"]["query"]["maxLength"] == MAX_QUERY_CHARS


def test_an_api_base_holding_a_line_break_is_one_line(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", "jina_visible_key")
    monkeypatch.setenv("JINA_API_BASE", "http://127.0.0.1:9/v1\nx")
    result = cli("index", repo, "--embedder", "jina")
    assert result.exit_code == 2
    assert "JINA_API_BASE must be an http(s) URL of visible ASCII" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_watch_on_a_tree_too_deep_to_watch_is_one_line(deep: Path, cli) -> None:
    result = cli("watch", deep)
    assert result.exit_code == 2
    assert "too deeply nested to watch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
