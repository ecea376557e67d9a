"""`codesearch serve --store`: the real server over real HTTP on 127.0.0.1, reading a real
PostgreSQL + pgvector store (tests/pgserver.py) that holds three small repositories indexed with
the real CLI: alpha and beta, whose roots are on this machine, and gamma, whose root was moved
away after indexing.

One database serves the module, read by one open server and one that needs tokens; `--repo`
and the failures at start get servers of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest
from typer.testing import CliRunner, Result

import codesearch.server as server_module
from codesearch.cli import app
from codesearch.searcher import Searcher
from codesearch.access import Grant
from codesearch.server import ServedStore
from conftest import REPO_FILES, write_repo
from test_postgres_store import index
from test_serve_api import Server, cli_json, run_cli, served
from test_serve_page import Browser, browser, hits, wait_for_hits  # noqa: F401 - browser is a fixture

if TYPE_CHECKING:
    from pgserver import PostgresServer

BETA_FILES = {
    "lib/sequence.py": '''
        def fibonacci_numbers(limit):
            """Yield the Fibonacci numbers below limit."""
            a, b = 0, 1
            while a < limit:
                yield a
                a, b = b, a + b
        ''',
    "lib/checksum.py": '''
        import zlib


        def crc_of_bytes(data):
            """Compute the CRC-32 checksum of a byte string."""
            return zlib.crc32(data) & 0xFFFFFFFF
        ''',
}
GAMMA_FILES = {"tools/report.py": 'def render_weekly_report(rows):\n    """Render the weekly report as text."""\n    return "\\n".join(rows)\n'}
SECRET = "outside every root: never served"
ALL_TOKEN = "store-all-repositories-0123456789"
ALPHA_TOKEN = "store-alpha-only-token-0123456789"
QUERIES = ["fibonacci numbers", "checksum of bytes", "parse a json document", "weekly report", "debounce", "prime"]


def cli(*args: str | Path) -> Result:
    """The `cli` fixture's runner, for a module's fixture."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@dataclass(frozen=True)
class Store:
    url: str
    alpha: Path
    beta: Path
    moved: Path
    """Where gamma's files went after indexing: its recorded root no longer exists."""


@pytest.fixture(scope="module")
def store(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A database made as `pg_url` makes one, but once for the module: indexing three
    repositories for each test would take most of a minute."""
    base = tmp_path_factory.mktemp("store")
    (base / "secret.txt").write_text(SECRET)
    alpha = write_repo(base / "alpha", REPO_FILES | {"src/swapped.py": "def swapped_later(x):\n    return x\n"})
    (alpha / "escape.py").symlink_to(base / "secret.txt")
    beta = write_repo(base / "beta", BETA_FILES)
    gamma = write_repo(base / "gamma", GAMMA_FILES)
    url = pg_server.create_database()
    try:
        for root in (alpha, beta, gamma):
            index(cli, root, url)
        yield Store(url, alpha, beta, gamma.rename(base / "gamma-moved"))
    finally:
        pg_server.drop_database(url)


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[Server]:
    with served("--store", store.url, "--rate", "0") as running:
        yield running


@pytest.fixture(scope="module")
def guarded(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"{ALL_TOKEN}\n{ALPHA_TOKEN} alpha\n")
    with served("--store", store.url, "--token-file", tokens, "--rate", "0") as running:
        yield running


def repos_of(answer: dict) -> set[str]:
    return {hit["repo"] for hit in answer["results"]}


# --- /api/search ---------------------------------------------------------------------------------


def test_ready_line_names_the_store(server: Server, store: Store) -> None:
    assert server.root == f"3 repositories of {store.url}"


def test_search_is_what_ask_json_prints_with_hits_from_every_repository(server: Server, store: Store) -> None:
    answer = server.get("/api/search", q="fibonacci numbers", k=20).json()
    assert answer == cli_json("ask", "fibonacci numbers", "-k", "20", "--store", store.url)
    assert repos_of(answer) == {"alpha", "beta", "gamma"}
    assert {(hit["repo"], hit["symbol"]) for hit in answer["results"]} >= {("alpha", "fibonacci"), ("beta", "fibonacci_numbers")}


def test_repo_narrows_the_search(server: Server, store: Store) -> None:
    answer = server.get("/api/search", q="fibonacci numbers", k=20, repo="beta").json()
    assert answer == cli_json("ask", "fibonacci numbers", "-k", "20", "--store", store.url, "--repo", "beta")
    assert repos_of(answer) == {"beta"}


def test_a_repo_not_in_the_store_finds_nothing(server: Server) -> None:
    response = server.get("/api/search", q="fibonacci", repo="no-such-repo")
    assert response.status_code == 200 and response.json()["results"] == []


def test_repo_at_start_narrows_what_is_served(store: Store) -> None:
    with served("--store", store.url, "--repo", "beta", "--rate", "0") as running:
        assert running.root == f"1 repository of {store.url}"
        assert repos_of(running.get("/api/search", q="fibonacci numbers", k=20).json()) == {"beta"}
        assert running.get("/api/search", q="fibonacci", repo="alpha").json()["results"] == []
        assert [entry["repo"] for entry in running.get("/api/status").json()["repositories"]] == ["beta"]


# --- /api/similar and /api/status ----------------------------------------------------------------


def test_similar_in_a_repository_is_what_similar_json_prints(server: Server, store: Store) -> None:
    answer = server.get("/api/similar", path="src/mathutil.py", line=2, k=3, repo="alpha").json()
    expected = cli_json("similar", f"{store.alpha}/src/mathutil.py:2", "-k", "3", "--store", store.url, "--repo", "alpha")
    assert answer == expected and answer["results"] and repos_of(answer) == {"alpha"}


def test_similar_needs_repo_when_several_are_in_scope(server: Server) -> None:
    response = server.get("/api/similar", path="src/mathutil.py", line=2)
    assert response.status_code == 400 and response.json()["error"].startswith("repo= is required: 3 repositories")


def test_status_is_what_status_json_prints(server: Server, store: Store) -> None:
    assert server.get("/api/status").json() == cli_json("status", "--store", store.url)


# --- /api/file ------------------------------------------------------------------------------------


def test_file_of_a_repository_on_this_machine(server: Server, store: Store) -> None:
    answer = server.get("/api/file", path="lib/checksum.py", repo="beta").json()
    assert (answer["repo"], answer["lines"]) == ("beta", (store.beta / "lib/checksum.py").read_text().splitlines())


def test_file_needs_repo_when_several_are_in_scope(server: Server) -> None:
    response = server.get("/api/file", path="lib/checksum.py")
    assert response.status_code == 400 and "repo= is required" in response.json()["error"]


@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "/etc/passwd"])
def test_file_refuses_paths_that_could_leave_the_root(server: Server, path: str) -> None:
    response = server.get("/api/file", path=path, repo="alpha")
    assert response.status_code == 400 and "relative to the repository root" in response.json()["error"]


def test_file_refuses_a_symlink_out_of_the_root(server: Server, store: Store) -> None:
    assert server.get("/api/file", path="escape.py", repo="alpha").status_code == 404
    swapped = store.alpha / "src/swapped.py"
    swapped.unlink()
    swapped.symlink_to(store.alpha.parent / "secret.txt")
    response = server.get("/api/file", path="src/swapped.py", repo="alpha")
    assert response.status_code == 404 and SECRET not in response.text and "symlink leaving root" in response.json()["error"]


def test_file_of_a_repository_whose_root_is_elsewhere_is_404(server: Server, store: Store) -> None:
    response = server.get("/api/file", path="tools/report.py", repo="gamma")
    assert response.status_code == 404 and "render_weekly_report" not in response.text
    assert response.json()["error"].startswith("the files of repository 'gamma' are not on this server")
    assert (store.moved / "tools/report.py").is_file()


# --- tokens ---------------------------------------------------------------------------------------


def test_a_token_for_all_sees_every_repository(guarded: Server) -> None:
    assert repos_of(guarded.get("/api/search", token=ALL_TOKEN, q="fibonacci numbers", k=20).json()) == {"alpha", "beta", "gamma"}
    listed = guarded.get("/api/status", token=ALL_TOKEN).json()["repositories"]
    assert [entry["repo"] for entry in listed] == ["alpha", "beta", "gamma"]


def test_a_token_for_one_repository_gets_hits_from_it_only(guarded: Server) -> None:
    for query in QUERIES:
        answer = guarded.get("/api/search", token=ALPHA_TOKEN, q=query, k=20).json()
        assert repos_of(answer) <= {"alpha"}, query
    assert repos_of(guarded.get("/api/search", token=ALPHA_TOKEN, q="fibonacci numbers", k=20).json()) == {"alpha"}


def test_a_token_for_one_repository_gets_its_status_only(guarded: Server) -> None:
    response = guarded.get("/api/status", token=ALPHA_TOKEN)
    assert [entry["repo"] for entry in response.json()["repositories"]] == ["alpha"]
    assert "beta" not in response.text and "gamma" not in response.text


def test_a_token_for_one_repository_reads_no_file_of_another(guarded: Server) -> None:
    response = guarded.get("/api/file", token=ALPHA_TOKEN, path="lib/checksum.py")
    assert response.status_code == 404 and response.json() == {"error": "lib/checksum.py is not in the index"}


def test_a_token_for_one_repository_gets_no_similar_code_of_another(guarded: Server) -> None:
    response = guarded.get("/api/similar", token=ALPHA_TOKEN, path="lib/checksum.py", line=4)
    assert response.status_code == 404 and "crc" not in response.text.lower() and "beta" not in response.text
    similar = guarded.get("/api/similar", token=ALPHA_TOKEN, path="src/mathutil.py", line=2, k=20).json()
    assert similar["results"] and repos_of(similar) == {"alpha"}


@pytest.mark.parametrize("endpoint", ["/api/search", "/api/similar", "/api/file"])
def test_asking_for_a_repo_not_granted_is_403(guarded: Server, endpoint: str) -> None:
    response = guarded.get(endpoint, token=ALPHA_TOKEN, q="checksum", path="lib/checksum.py", repo="beta")
    assert response.status_code == 403 and response.json() == {"error": "this token may not read repository 'beta'"}


# --- many readers at once -------------------------------------------------------------------------


def test_eight_clients_at_once_get_the_answers_of_one_at_a_time(server: Server) -> None:
    asks = [{"q": query, "k": 5, **({"repo": repo} if repo else {})} for query in QUERIES for repo in (None, "alpha", "beta")]
    alone = [server.get("/api/search", **params).json() for params in asks]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda params: _get_json(server.url, params), asks * 2))
    assert together == alone * 2


def test_searchers_dropped_from_the_cache_close_only_after_their_searches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for one narrowed Searcher, eight threads asking for two scopes in turn drop
    Searchers that other threads are still searching with (a closed one would fail them); each
    is closed by its last user, and closing the server closes the rest."""
    opened: list[Searcher] = []

    class Tracked(Searcher):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            opened.append(self)
            self.closed = False

        def close(self) -> None:
            assert not self.closed
            self.closed = True
            super().close()

    monkeypatch.setattr(server_module, "MAX_SCOPES", 1)
    monkeypatch.setattr(server_module, "Searcher", Tracked)
    served = ServedStore(store.url, [])
    grants = [Grant(frozenset({name})) for name in ("alpha", "beta")] * 8

    def search(grant: Grant) -> list[tuple[str, str]]:
        answer = served.call(grant, None, lambda sight: sight.searcher().search("fibonacci numbers", 5).to_dict())
        return [(hit["repo"], hit["path"]) for hit in answer["results"]]

    try:
        alone = [search(grant) for grant in grants]
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(search, grants)) == alone
        assert sum(not searcher.closed for searcher in opened) == 2  # the one that lists, and the last narrowed one
    finally:
        served.close()
    assert len(opened) > len(grants) + 1 and all(searcher.closed for searcher in opened)


def _get_json(url: str, params: dict) -> dict:
    """One request on a connection of its own, as a separate client makes it."""
    response = httpx.get(f"{url}/api/search", params=params, timeout=20.0, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


# --- starting -------------------------------------------------------------------------------------


def test_a_store_that_cannot_be_reached_is_one_line() -> None:
    code, out, err = run_cli("serve", "--store", "postgresql://nobody@127.0.0.1:1/none", "--port", "0")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "cannot connect to the store" in err


def test_a_repo_not_in_the_store_stops_the_start(store: Store) -> None:
    code, _out, err = run_cli("serve", "--store", store.url, "--repo", "nothing", "--port", "0")
    assert code == 2 and err.count("\n") == 1 and "no repository 'nothing'" in err


def test_a_path_with_a_store_is_one_line(store: Store) -> None:
    code, _out, err = run_cli("serve", store.alpha, "--store", store.url, "--port", "0")
    assert code == 2 and err.count("\n") == 1 and "serve takes no PATH" in err


# --- the page -------------------------------------------------------------------------------------




def shown_repos(browser: Browser) -> list[str]:
    return browser.evaluate("[...document.querySelectorAll('#results .hit .repo')].map(n => n.textContent)")  # type: ignore[return-value]


def test_page_shows_hits_of_several_repositories_and_filters_by_one(browser: Browser, server: Server) -> None:
    browser.open(server.url + "/?" + urlencode({"q": "fibonacci numbers"}))
    wait_for_hits(browser)
    assert {"alpha", "beta"} <= set(shown_repos(browser))
    browser.wait_for("[...document.querySelectorAll('#repo option')].map(o => o.value).join() === ',alpha,beta,gamma'")
    browser.evaluate("document.getElementById('repo').value = 'beta'; document.getElementById('repo').dispatchEvent(new Event('change'))")
    browser.wait_for("[...document.querySelectorAll('#results .hit .repo')].every(n => n.textContent === 'beta')")
    wait_for_hits(browser)
    assert set(shown_repos(browser)) == {"beta"}
    assert browser.evaluate("new URLSearchParams(location.search).get('repo')") == "beta"
    first = hits(browser)[0]["where"]
    browser.evaluate("document.querySelector('#results .hit .where').click()")
    browser.wait_for("location.pathname === '/file' && document.querySelectorAll('#file-code .row').length > 0")
    assert browser.evaluate("document.getElementById('file-note').textContent").startswith("beta · ")
    assert browser.evaluate("document.getElementById('file-title').textContent") == first.split(":")[0]


def test_a_store_that_stops_answering_is_a_503(tmp_path: Path) -> None:
    from pgserver import PostgresServer

    root = write_repo(tmp_path / "solo", {"solo.py": "def solo():\n    return 1\n"})
    database = PostgresServer().start()
    try:
        url = database.create_database()
        assert run_cli("index", root, "--store", url, "--quiet")[0] == 0
        with served("--store", url, "--rate", "0") as running:
            assert running.http.get("/api/search", params={"q": "solo"}).status_code == 200
            database.stop()
            answer = running.http.get("/api/search", params={"q": "solo"})
            assert answer.status_code == 503 and answer.json()["error"].startswith("the store is unavailable")
    finally:
        database.stop()
