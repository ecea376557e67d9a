"""`codesearch mcp`: the server runs as a subprocess and is driven with the `mcp` SDK's own stdio
client, as an agent would drive it.

One server over one indexed repository serves most tests (module fixture); the tests that
need a server of their own (no index yet, a damaged one, `--watch`, shutdown) start one.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult
from typer.testing import CliRunner

from conftest import REPO_FILES, write_repo
from jina_server import JinaServer
from codesearch.cli import app

TIMEOUT_S = 15.0
TOOLS = {"search", "similar", "status", "reindex"}
HIT_FIELDS = {"path", "start_line", "end_line", "symbol", "kind", "language", "score", "code"}
# Two long functions that only a search for zebras finds: the budget tests cut them.
ZEBRA_FILES = {
    f"src/zebra_{name}.py": f"def {name}_zebras(herd):\n" + "".join(f"    zebra_{i} = herd[{i}] * {i}\n" for i in range(60)) + "    return herd\n"
    for name in ("count", "feed")
}
FIRST_BUILD_FILES = {path: REPO_FILES[path] for path in ("src/jsonutil.py", "src/mathutil.py")}  # 7 chunks


@dataclass
class Client:
    """A synchronous face on an MCP client session running in a portal's event loop."""

    portal: BlockingPortal
    session: ClientSession

    def call(self, tool: str, **arguments: object) -> CallToolResult:
        return self.portal.call(functools.partial(self.session.call_tool, tool, arguments))

    def answer(self, tool: str, **arguments: object) -> dict:
        """A successful call's JSON answer, the same as text and as structured content."""
        result = self.call(tool, **arguments)
        assert not result.is_error, result.content[0].text
        answer = json.loads(result.content[0].text)
        assert result.structured_content == answer
        return answer

    def error(self, tool: str, **arguments: object) -> str:
        """A failed call's message."""
        result = self.call(tool, **arguments)
        assert result.is_error, result.content[0].text
        return result.content[0].text


@contextmanager
def served(*args: str | Path, env: dict[str, str] | None = None) -> Iterator[Client]:
    """`codesearch mcp ARGS...` as a subprocess, with an initialized client session to it."""
    server = StdioServerParameters(command=sys.executable, args=["-m", "codesearch", "mcp", *map(str, args)], env=env)
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(stdio_client(server)) as (read, write):
            with portal.wrap_async_context_manager(ClientSession(read, write)) as session:
                portal.call(session.initialize)
                yield Client(portal, session)


def run_cli(*args: str | Path) -> str:
    """stdout of `codesearch ARGS...`, or its one-line error without the `codesearch: error: ` prefix."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exit_code:
        return result.stderr.strip().removeprefix("codesearch: error: ")
    return result.stdout


def eventually(check: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {check.__name__}"
        time.sleep(0.1)


def symbols(answer: dict) -> list[tuple[str, str]]:
    return [(hit["path"], hit["symbol"]) for hit in answer["results"]]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_repo(tmp_path_factory.mktemp("mcp") / "repo", REPO_FILES | ZEBRA_FILES)
    assert run_cli("index", root, "--quiet") == ""
    return root


@pytest.fixture(scope="module")
def client(repo: Path) -> Iterator[Client]:
    with served(repo) as connected:
        yield connected


def test_lists_the_four_tools_with_every_argument_described(client: Client) -> None:
    tools = client.portal.call(client.session.list_tools).tools
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        assert len(tool.description or "") > 80, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name}"


def test_search_returns_ranked_hits_with_their_code(client: Client) -> None:
    answer = client.answer("search", query="parse a JSON document", k=3)
    assert answer["results"][0]["path"] == "src/jsonutil.py"
    assert answer["results"][0]["symbol"] == "parse_json"
    assert "json.loads(text)" in answer["results"][0]["code"]
    assert all(set(hit) == HIT_FIELDS for hit in answer["results"])
    assert answer["left_out"] == 0 and "note" not in answer


def test_search_filters_by_language_and_path_glob(client: Client) -> None:
    go = client.answer("search", query="download a web page", language="go")
    web = client.answer("search", query="download a web page", path_glob="web/*", mode="lexical", k=5)
    assert {hit["language"] for hit in go["results"]} == {"go"}
    assert {hit["path"] for hit in web["results"]} <= {"web/debounce.js"}


def test_similar_finds_other_code_and_never_the_chunk_itself(client: Client, repo: Path) -> None:
    line = (repo / "src/jsonutil.py").read_text().splitlines().index("def parse_json(text):") + 1
    answer = client.answer("similar", path="src/jsonutil.py", line=line, k=5)
    assert answer["results"]
    assert ("src/jsonutil.py", "parse_json") not in symbols(answer)


def test_status_reports_what_codesearch_status_reports(client: Client, repo: Path) -> None:
    answer = client.answer("status")
    expected = json.loads(run_cli("status", "--index", repo, "--json"))
    assert answer.pop("watching") is False and answer.pop("indexing") is None
    assert answer.pop("bytes_on_disk") > 0 and expected.pop("bytes_on_disk") > 0
    assert answer == expected


def test_reindex_makes_an_edit_searchable(client: Client, repo: Path) -> None:
    (repo / "src/retry.py").write_text("def retry_with_backoff(call, attempts):\n    return call()\n")
    assert client.answer("status")["changed_since"] == 1
    report = client.answer("reindex")
    assert report["files_changed"] == 1 and report["chunks_written"] == 1
    assert symbols(client.answer("search", query="retry_with_backoff", k=1)) == [("src/retry.py", "retry_with_backoff")]
    assert client.answer("status")["changed_since"] == 0


def test_errors_come_back_as_tool_errors_with_the_cli_messages(client: Client, repo: Path) -> None:
    assert client.error("search", query="parse json", mode="fast") == run_cli("ask", "parse json", "--mode", "fast", "--index", repo)
    assert client.error("search", query="parse json", language="klingon") == run_cli("ask", "x", "--lang", "klingon", "--index", repo)
    assert "src/missing.py is not in the index" in client.error("similar", path="src/missing.py")
    assert client.answer("search", query="parse json", k=1)["results"]


def test_max_chars_keeps_whole_hits_first_then_cuts_the_next(client: Client) -> None:
    query = {"query": "zebra", "path_glob": "src/zebra_*", "mode": "lexical"}
    everything = client.answer("search", **query, max_chars=100_000)["results"]
    budget = len(json.dumps(everything[0], ensure_ascii=False)) + 2 + 400
    answer = client.answer("search", **query, max_chars=budget)
    whole, cut = answer["results"]
    shown, _, marker = cut["code"].rpartition("\n")
    assert whole == everything[0]
    assert shown and everything[1]["code"].startswith(shown)
    first_cut = cut["start_line"] + shown.count("\n") + 1
    assert marker.endswith(f"more lines cut to fit max_chars; read {cut['path']} lines {first_cut}-{cut['end_line']}]")
    assert len(json.dumps(answer["results"], ensure_ascii=False)) <= budget
    assert answer["left_out"] == len(everything) - 2
    assert f"max_chars={budget}" in answer["note"]


def test_a_tiny_budget_still_answers_with_the_best_hit_cut(client: Client) -> None:
    answer = client.answer("search", query="zebra", path_glob="src/zebra_*", mode="lexical", max_chars=500)
    assert len(answer["results"]) == 1
    assert "more lines cut to fit max_chars" in answer["results"][0]["code"]
    assert len(json.dumps(answer["results"], ensure_ascii=False)) <= 500


def test_without_an_index_tools_say_so_and_reindex_builds_one(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "fresh", {"calc.py": "def add_numbers(a, b):\n    return a + b\n"})
    with served(root) as fresh:
        message = fresh.error("search", query="add numbers")
        assert message.startswith("no index found here or in any parent directory")
        assert fresh.answer("reindex")["files"] == 1
        assert symbols(fresh.answer("search", query="add numbers", k=1)) == [("calc.py", "add_numbers")]


def test_a_damaged_index_is_reported_and_a_full_reindex_rebuilds_it(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "damaged", REPO_FILES)
    assert run_cli("index", root, "--quiet") == ""
    for leftover in (root / ".codesearch").glob("index.db-*"):
        leftover.unlink()
    (root / ".codesearch/index.db").write_bytes(b"not a database at all" * 100)
    with served(root) as damaged:
        assert damaged.error("search", query="parse json") == run_cli("ask", "parse json", "--index", root)
        report = damaged.answer("reindex", full=True)
        assert report["files_changed"] == report["files"] > 0
        assert ("src/jsonutil.py", "parse_json") in symbols(damaged.answer("search", query="parse a JSON document", k=3))


def test_watch_keeps_the_index_fresh_while_serving(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "watched", REPO_FILES)
    with served(root, "--watch") as watched:

        def watching() -> bool:
            status = watched.call("status")
            return not status.is_error and json.loads(status.content[0].text)["watching"]

        eventually(watching)
        (root / "src/zebra.py").write_text("def feed_the_zebra(hay):\n    return hay * 2\n")

        def zebra_found() -> bool:
            return ("src/zebra.py", "feed_the_zebra") in symbols(watched.answer("search", query="feed the zebra", k=3))

        eventually(zebra_found)
        assert watched.answer("reindex")["files_changed"] == 0


@pytest.fixture
def api() -> Iterator[JinaServer]:
    """The Jina API stand-in: an embedder whose latency the test sets, so that a first build takes its time honestly."""
    with JinaServer() as server:
        yield server


def through(api: JinaServer, texts_per_request: int) -> dict[str, str]:
    """The server's environment for indexing with `api`, one request at a time."""
    return {
        "JINA_API_KEY": api.api_key, "JINA_API_BASE": api.url,
        "CODESEARCH_JINA_BATCH_SIZE": str(texts_per_request), "CODESEARCH_JINA_CONCURRENCY": "1",
    }


def test_a_search_during_a_short_first_build_waits_for_it(tmp_path: Path, api: JinaServer) -> None:
    root = write_repo(tmp_path / "new", FIRST_BUILD_FILES)
    api.latency = 0.75  # 2 requests: about 1.5 s, within the server's wait
    with served(root, "--watch", env=through(api, 4)) as fresh:
        answer = fresh.answer("search", query="parse a JSON document", k=3)
    assert ("src/jsonutil.py", "parse_json") in symbols(answer)


def test_a_long_first_build_is_reported_instead_of_empty_results(tmp_path: Path, api: JinaServer) -> None:
    root = write_repo(tmp_path / "new", FIRST_BUILD_FILES)
    api.latency = 3.0  # 7 requests: about 21 s, much longer than the two waits below
    being_built = "the index is being built: 0 of 2 files done; try again in a few seconds"
    with served(root, "--watch", env=through(api, 1)) as fresh:
        assert fresh.error("search", query="parse a JSON document") == being_built
        assert fresh.error("similar", path="src/jsonutil.py") == being_built
        status = fresh.answer("status")
        assert (status["indexing"], status["watching"]) == ({"files_done": 0, "files_total": 2}, False)
        api.latency = 0.0
        eventually(lambda: fresh.answer("status")["indexing"] is None)
        assert ("src/jsonutil.py", "parse_json") in symbols(fresh.answer("search", query="parse a JSON document", k=3))


def test_closing_stdin_stops_a_watching_server_cleanly(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "closing", REPO_FILES)
    server = subprocess.run(
        [sys.executable, "-m", "codesearch", "mcp", str(root), "--watch"],
        input="", capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert server.returncode == 0, server.stderr
    assert server.stdout == "" and "Traceback" not in server.stderr


def test_a_missing_root_fails_at_start_with_one_line(tmp_path: Path) -> None:
    assert run_cli("mcp", tmp_path / "nowhere") == f"path not found or not a directory: {tmp_path / 'nowhere'}"


def test_ask_never_imports_the_mcp_sdk(repo: Path) -> None:
    script = (
        "import sys; from typer.testing import CliRunner; from codesearch.cli import app; "
        f"result = CliRunner().invoke(app, ['ask', 'parse json', '--index', {str(repo)!r}]); "
        "print(result.exit_code, sorted(name for name in sys.modules if name.split('.')[0] == 'mcp'))"
    )
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout == "0 []\n"
