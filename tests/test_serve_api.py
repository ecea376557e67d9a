"""`codesearch serve`: the real server as a subprocess of `python -m codesearch serve`, driven over HTTP with httpx.

One server over one indexed repository serves most tests (module fixture); tokens, the rate
limit, a missing index and shutdown each get a server of their own.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from codesearch.cli import app
from codesearch.searcher import MAX_QUERY_CHARS
from codesearch.access import load_tokens, parse_tokens
from codesearch.server import MAX_FILE_LINES, MAX_URL_BYTES
from conftest import REPO_FILES, write_repo

TIMEOUT_S = 20.0
READY = re.compile(r"^serving (?P<root>.+) at (?P<url>http://\S+) \(Ctrl-C to stop\)$")
FILES = REPO_FILES | {
    "data/long.txt": "".join(f"line {n}\n" for n in range(1, MAX_FILE_LINES + 1001)),
    "src/swapped.py": "def swapped_later(x):\n    return x\n",
    ".codesearchignore": "notes.txt\n",
    "notes.txt": "not indexed\n",
}
SECRET = "outside the root: never served"
ALL_TOKEN = "all-repositories-token-0123456789"
REPO_TOKEN = "repo-only-token-0123456789"
OTHER_TOKEN = "other-repo-token-0123456789"


@dataclass
class Server:
    """A running `codesearch serve`: its process, URL and root, a client on it, what it printed
    on stderr up to its ready line, and the queue of its stderr lines since."""

    process: subprocess.Popen[str]
    url: str
    root: str
    printed: list[str]
    lines: queue.Queue[str | None]
    http: httpx.Client

    def get(self, endpoint: str, /, token: str | None = None, **params: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.http.get(endpoint, params=params, headers=headers)

    def stop(self, how: signal.Signals = signal.SIGINT) -> tuple[int, list[str]]:
        """Ctrl-C (or `how`), as a person or a service manager stops it: its exit status and
        what it printed on stderr after the ready line."""
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            code = self.process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        rest = []
        while (line := self.lines.get(timeout=TIMEOUT_S)) is not None:
            rest.append(line)
        self.lines.put(None)  # stopping again finds the end at once
        return code, rest


@contextmanager
def served(*args: str | Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`codesearch serve ARGS... --port 0`, once it printed where it listens (bounded wait); stopped at the end."""
    command = [sys.executable, "-m", "codesearch", "serve", *map(str, args), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process, lines), daemon=True).start()
    server = None
    try:
        printed = _ready(lines)
        found = READY.match(printed[-1])
        assert found is not None
        http = httpx.Client(base_url=found["url"], timeout=TIMEOUT_S, trust_env=False)
        server = Server(process, found["url"], found["root"], printed, lines, http)
        yield server
    finally:
        if server is not None:
            server.stop()
        else:
            process.kill()
            process.wait()


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _ready(lines: queue.Queue[str | None]) -> list[str]:
    """The lines printed up to the ready line, that one last (bounded wait)."""
    deadline = time.monotonic() + TIMEOUT_S
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if READY.match(line):
            return seen
    raise AssertionError(f"codesearch serve printed no ready line within {TIMEOUT_S} s: {seen}")


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def cli_json(*args: str | Path) -> dict:
    code, out, err = run_cli(*args, "--json")
    assert code in (0, 1), err
    return json.loads(out)


def cli_error(*args: str | Path) -> str:
    """The CLI's one-line message for a failing command, without its `codesearch: error: ` prefix."""
    code, _out, err = run_cli(*args)
    assert code == 2, err
    return err.strip().removeprefix("codesearch: error: ")


def with_repo(answer: dict, repo: str) -> dict:
    return {**answer, "results": [{**hit, "repo": repo} for hit in answer["results"]]}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("serve")
    (base / "secret.txt").write_text(SECRET)
    root = write_repo(base / "acme", FILES)
    (root / "escape.py").symlink_to(base / "secret.txt")
    code, _out, err = run_cli("index", root, "--quiet")
    assert code == 0, err
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    with served(root) as running:
        yield running


@pytest.fixture(scope="module")
def guarded(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that needs tokens: one for everything, one for this repository, one for another."""
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"# who may read what\n\n{ALL_TOKEN}\n{REPO_TOKEN} {root.name}  # this one\n{OTHER_TOKEN} elsewhere\n")
    with served(root, "--token-file", tokens) as running:
        yield running


# --- /api/search --------------------------------------------------------------------------------


def test_ready_line_names_the_indexed_root(server: Server, root: Path) -> None:
    assert server.root == str(root) and server.url.startswith("http://127.0.0.1:") and len(server.printed) == 1


def test_search_is_what_ask_json_prints_with_the_repo(server: Server, root: Path) -> None:
    answer = server.get("/api/search", q="parse a json document").json()
    assert answer == with_repo(cli_json("ask", "parse a json document", "--index", root), root.name)
    assert answer["results"][0]["symbol"] == "parse_json"


@pytest.mark.parametrize(
    ("params", "flags"),
    [
        ({"k": 2}, ["-k", "2"]),
        ({"mode": "lexical"}, ["--mode", "lexical"]),
        ({"mode": "dense"}, ["--mode", "dense"]),
        ({"lang": "go"}, ["--lang", "go"]),
        ({"path": "web/"}, ["--path", "web/"]),
        ({"path": ["src", "!mathutil.py"]}, ["--path", "src", "--path", "!mathutil.py"]),
        ({"task": "qa"}, ["--task", "qa"]),
    ],
    ids=["k", "lexical", "dense", "lang", "path", "paths", "task"],
)
def test_search_filters_as_ask_does(server: Server, root: Path, params: dict, flags: list[str]) -> None:
    answer = server.get("/api/search", q="fetch json from a url", **params).json()
    assert answer == with_repo(cli_json("ask", "fetch json from a url", "--index", root, *flags), root.name)


def test_search_in_the_served_repo_by_name(server: Server, root: Path) -> None:
    assert server.get("/api/search", q="fibonacci", repo=root.name).json()["results"]


def test_search_in_a_repo_not_served_finds_nothing(server: Server) -> None:
    response = server.get("/api/search", q="fibonacci", repo="no-such-repo")
    assert response.status_code == 200 and response.json()["results"] == []


# --- /api/similar and /api/status ----------------------------------------------------------------


def test_similar_is_what_similar_json_prints(server: Server, root: Path) -> None:
    answer = server.get("/api/similar", path="src/mathutil.py", line=2, k=3).json()
    assert answer == with_repo(cli_json("similar", f"{root}/src/mathutil.py:2", "-k", "3", "--index", root), root.name)


def test_similar_filters_by_path_glob(server: Server) -> None:
    answer = server.get("/api/similar", path="src/mathutil.py", line=2, path_glob="*.py").json()
    assert answer["results"] and {hit["path"].rsplit(".", 1)[1] for hit in answer["results"]} == {"py"}


def test_similar_of_a_file_not_indexed_is_404(server: Server) -> None:
    response = server.get("/api/similar", path="src/nothing.py", line=1)
    assert response.status_code == 404 and "src/nothing.py is not in the index" in response.json()["error"]


def test_similar_outside_any_chunk_is_400(server: Server) -> None:
    response = server.get("/api/similar", path="src/mathutil.py", line=999)
    assert response.status_code == 400 and response.json()["error"] == cli_error("similar", "src/mathutil.py:999", "--index", server.root)


def test_status_is_what_status_json_prints_with_the_repo(server: Server, root: Path) -> None:
    assert server.get("/api/status").json() == {**cli_json("status", "--index", root), "repo": root.name}


# --- /api/file ------------------------------------------------------------------------------------


def test_file_returns_the_lines_asked_for(server: Server, root: Path) -> None:
    answer = server.get("/api/file", path="src/jsonutil.py", start=5, end=7).json()
    expected = (root / "src/jsonutil.py").read_text().splitlines()[4:7]
    assert answer["lines"] == expected
    assert (answer["repo"], answer["language"], answer["start_line"], answer["end_line"], answer["changed"]) == (root.name, "python", 5, 7, False)


def test_file_without_a_range_is_the_whole_file(server: Server, root: Path) -> None:
    answer = server.get("/api/file", path="net/fetch.go").json()
    assert answer["lines"] == (root / "net/fetch.go").read_text().splitlines() and answer["total_lines"] == len(answer["lines"])


def test_file_lines_are_capped(server: Server) -> None:
    answer = server.get("/api/file", path="data/long.txt").json()
    assert len(answer["lines"]) == MAX_FILE_LINES and answer["end_line"] == MAX_FILE_LINES
    assert answer["total_lines"] == MAX_FILE_LINES + 1000


@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "./src/jsonutil.py", "/etc/passwd", "src//jsonutil.py"])
def test_file_refuses_paths_that_could_leave_the_root(server: Server, path: str) -> None:
    response = server.get("/api/file", path=path)
    assert response.status_code == 400 and "relative to the repository root" in response.json()["error"]


def test_file_refuses_an_absolute_path_inside_the_root(server: Server, root: Path) -> None:
    assert server.get("/api/file", path=str(root / "src/jsonutil.py")).status_code == 400


def test_file_refuses_a_symlink_out_of_the_root(server: Server) -> None:
    response = server.get("/api/file", path="escape.py")
    assert response.status_code == 404 and SECRET not in response.text


def test_file_swapped_for_a_symlink_out_of_the_root_is_not_read(server: Server, root: Path) -> None:
    swapped = root / "src/swapped.py"
    swapped.unlink()
    swapped.symlink_to(root.parent / "secret.txt")
    response = server.get("/api/file", path="src/swapped.py")
    assert response.status_code == 404 and SECRET not in response.text
    assert "symlink leaving root" in response.json()["error"]


def test_file_not_in_the_index_is_404(server: Server, root: Path) -> None:
    assert (root / "notes.txt").is_file()
    response = server.get("/api/file", path="notes.txt")
    assert response.status_code == 404 and response.json() == {"error": "notes.txt is not in the index"}


def test_file_start_past_the_end_is_400(server: Server) -> None:
    assert server.get("/api/file", path="net/fetch.go", start=500).status_code == 400


# --- errors ---------------------------------------------------------------------------------------


def test_unknown_language_is_400_with_the_cli_message(server: Server, root: Path) -> None:
    response = server.get("/api/search", q="parse json", lang="klingon")
    assert response.status_code == 400
    assert response.json() == {"error": cli_error("ask", "parse json", "--lang", "klingon", "--index", root)}


def test_empty_query_is_400_with_the_cli_message(server: Server, root: Path) -> None:
    response = server.get("/api/search", q=" ")
    assert response.status_code == 400 and response.json() == {"error": cli_error("ask", " ", "--index", root)}


@pytest.mark.parametrize("k", ["0", "-1", "ten", "101", "1e3"])
def test_bad_k_is_400(server: Server, k: str) -> None:
    response = server.get("/api/search", q="parse json", k=k)
    assert response.status_code == 400 and response.json()["error"].startswith("k ")


def test_unknown_mode_is_400(server: Server) -> None:
    response = server.get("/api/search", q="parse json", mode="psychic")
    assert response.status_code == 400 and "unknown mode 'psychic'" in response.json()["error"]


def test_query_too_long_is_413_with_the_library_message(server: Server) -> None:
    response = server.get("/api/search", q="x" * (MAX_QUERY_CHARS + 1))
    assert response.status_code == 413 and f"at most {MAX_QUERY_CHARS:,} are searched" in response.json()["error"]


def test_url_too_long_is_413(server: Server) -> None:
    response = server.get("/api/search", q="x" * MAX_URL_BYTES)
    assert response.status_code == 413 and "URL" in response.json()["error"]


def test_a_request_body_is_413(server: Server) -> None:
    response = server.http.request("GET", "/api/search", params={"q": "json"}, content=b"{}")
    assert response.status_code == 413 and response.json()["error"].startswith("requests carry no body")


def test_post_is_405(server: Server) -> None:
    response = server.http.post("/api/search", params={"q": "json"})
    assert response.status_code == 405 and "error" in response.json()


def test_unknown_endpoint_is_404_json(server: Server) -> None:
    response = server.get("/api/nothing")
    assert response.status_code == 404 and response.json() == {"error": "not found: /api/nothing"}


def test_another_host_name_is_refused_without_tokens(server: Server) -> None:
    """A page whose domain rebinds to 127.0.0.1 must not read the code."""
    response = server.http.get("/api/status", headers={"host": "attacker.example:8765"})
    assert response.status_code == 400 and "localhost only" in response.json()["error"]


def test_openapi_describes_every_endpoint(server: Server) -> None:
    document = server.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/api/search", "/api/similar", "/api/file", "/api/status"}
    assert {param["name"] for param in document["paths"]["/api/search"]["get"]["parameters"]} >= {"q", "k", "mode", "lang", "path", "repo"}


def test_page_and_its_assets_are_served(server: Server) -> None:
    page = server.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text):
        assert server.get(asset).status_code == 200, asset


# --- tokens ---------------------------------------------------------------------------------------


def test_no_token_is_401(guarded: Server) -> None:
    response = guarded.get("/api/search", q="parse json")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["error"]


def test_wrong_token_is_401(guarded: Server) -> None:
    response = guarded.get("/api/status", token="not-a-token-anyone-was-given")
    assert response.status_code == 401 and response.json() == {"error": "unknown token"}


def test_page_needs_no_token(guarded: Server) -> None:
    assert guarded.get("/").status_code == 200


def test_a_token_for_everything_reads_everything(guarded: Server, root: Path) -> None:
    assert guarded.get("/api/search", token=ALL_TOKEN, q="fibonacci").json()["results"][0]["repo"] == root.name


def test_a_token_for_the_repo_reads_it(guarded: Server, root: Path) -> None:
    assert guarded.get("/api/search", token=REPO_TOKEN, q="fibonacci", repo=root.name).json()["results"]


def test_a_token_for_another_repo_finds_nothing_here(guarded: Server) -> None:
    response = guarded.get("/api/search", token=OTHER_TOKEN, q="fibonacci")
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_token_for_another_repo_gets_no_status(guarded: Server, root: Path) -> None:
    response = guarded.get("/api/status", token=OTHER_TOKEN)
    assert response.status_code == 403 and root.name not in response.text and str(root) not in response.text


def test_a_token_for_another_repo_reads_no_file(guarded: Server) -> None:
    response = guarded.get("/api/file", token=OTHER_TOKEN, path="src/jsonutil.py")
    assert response.status_code == 404 and "parse_json" not in response.text


def test_a_token_for_another_repo_gets_no_similar_code(guarded: Server) -> None:
    response = guarded.get("/api/similar", token=OTHER_TOKEN, path="src/mathutil.py", line=2)
    assert response.status_code == 404 and "fibonacci" not in response.text


def test_asking_for_a_repo_not_granted_is_403(guarded: Server, root: Path) -> None:
    response = guarded.get("/api/search", token=OTHER_TOKEN, q="fibonacci", repo=root.name)
    assert response.status_code == 403 and "fibonacci" not in response.text


def test_token_file_format() -> None:
    grants = parse_tokens(f"# comment\n\n{ALL_TOKEN}\n  {REPO_TOKEN}  a b # two repos\n", "tokens")
    assert [grant.repos for grant in grants.values()] == [None, frozenset({"a", "b"})]


def test_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESEARCH_TOKENS", f"{REPO_TOKEN} repo\n")
    assert [grant.repos for grant in (load_tokens(None) or {}).values()] == [frozenset({"repo"})]


def test_a_short_token_is_refused(tmp_path: Path, root: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("short\n")
    message = cli_error("serve", root, "--token-file", tokens)
    assert "at least 16 characters" in message and "\n" not in message


# --- starting and stopping ------------------------------------------------------------------------


def test_refuses_a_public_address_without_tokens(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODESEARCH_TOKENS", raising=False)
    code, out, err = run_cli("serve", root, "--host", "0.0.0.0")
    assert (code, out) == (2, "")
    assert err.startswith("codesearch: error: refusing to serve on 0.0.0.0 without tokens") and err.count("\n") == 1


def test_port_in_use_is_one_line(server: Server, root: Path) -> None:
    port = server.url.rsplit(":", 1)[1]
    code, _out, err = run_cli("serve", root, "--port", port)
    assert code == 2 and "address already in use" in err.lower() and err.count("\n") == 1


def test_no_index_answers_503_until_one_is_built(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "later", {"src/app.py": "def fibonacci(n):\n    return n\n"})
    with served(root) as running:
        assert running.printed[0].startswith("codesearch: warning: no index found") and len(running.printed) == 2
        response = running.get("/api/search", q="fibonacci")
        assert response.status_code == 503 and "codesearch index" in response.json()["error"]
        assert run_cli("index", root, "--quiet")[0] == 0
        assert running.get("/api/search", q="fibonacci").json()["results"][0]["symbol"] == "fibonacci"


def test_rate_limit_answers_429(root: Path) -> None:
    with served(root, "--rate", "0.5") as running:  # one request every 2 s, bursts of one
        allowed, limited = (running.get("/api/search", q="fibonacci") for _ in range(2))
    assert allowed.status_code == 200
    assert limited.status_code == 429 and limited.headers["retry-after"] in ("1", "2") and "too many requests" in limited.json()["error"]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stops_cleanly(root: Path, how: signal.Signals) -> None:
    with served(root) as running:
        assert running.get("/api/search", q="fibonacci").status_code == 200
        code, rest = running.stop(how)
    assert (code, rest) == (0, [])
