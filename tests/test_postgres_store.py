"""The PostgreSQL store through the real CLI, against a real PostgreSQL + pgvector server
(tests/pgserver.py): many repositories in one database, the same answers as the local index,
a shared vector cache, one writer per repository, and a killed writer resumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from codesearch.indexer import sync
from codesearch.lock import IndexBusy
from codesearch.stores import target_for
from conftest import ask_json

ROWS = (
    "SELECT r.name, f.path, c.kind, c.symbol, c.start_line, c.end_line, c.vector_key, c.embedding IS NOT NULL "
    "FROM chunks c JOIN files f ON f.repo_id = c.repo_id AND f.id = c.file_id JOIN repos r ON r.id = c.repo_id "
    "WHERE r.name = %s ORDER BY 2, 5, 4"
)


def rows(url: str, repo: str) -> list[tuple]:
    """Every chunk row of `repo`, without its ids (which a resumed run numbers differently)."""
    with psycopg.connect(url) as conn:
        return [row[1:] for row in conn.execute(ROWS, (repo,))]


def index(cli, path: Path, url: str, *args: str) -> dict:
    result = cli("index", path, "--store", url, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ask_finds_the_function_in_the_store(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    top = ask_json(cli, "parse a json document", "--store", pg_url)["results"][0]
    assert (top["repo"], top["path"], top["symbol"], top["start_line"]) == (repo.name, "src/jsonutil.py", "parse_json", 5)


def test_the_store_answers_as_the_local_index_does(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    assert cli("index", repo, "--quiet").exit_code == 0
    for query in ("parse json", "fibonacci number", "ConfigLoader", "debounce"):
        local = [(h["path"], h["symbol"]) for h in ask_json(cli, query, "--index", repo)["results"]]
        stored = [(h["path"], h["symbol"]) for h in ask_json(cli, query, "--store", pg_url)["results"]]
        assert stored == local, query


def test_one_database_holds_many_repositories(repo: Path, tmp_path: Path, pg_url: str, cli) -> None:
    other = shutil.copytree(repo, tmp_path / "other")
    index(cli, repo, pg_url)
    index(cli, other, pg_url)
    everywhere = ask_json(cli, "fibonacci", "--store", pg_url, "-k", "20")["results"]
    assert {hit["repo"] for hit in everywhere} == {repo.name, "other"}
    narrowed = ask_json(cli, "fibonacci", "--store", pg_url, "--repo", "other", "-k", "20")["results"]
    assert narrowed and {hit["repo"] for hit in narrowed} == {"other"}


def test_a_copied_repository_embeds_nothing_new(repo: Path, tmp_path: Path, pg_url: str, cli) -> None:
    first = index(cli, repo, pg_url)
    fork = index(cli, shutil.copytree(repo, tmp_path / "fork"), pg_url)
    assert first["embedded"] > 0
    assert (fork["embedded"], fork["reused"]) == (0, first["chunks"])


def test_repo_names_the_repository(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url, "--repo", "team/api")
    assert {hit["repo"] for hit in ask_json(cli, "json", "--store", pg_url)["results"]} == {"team/api"}


def test_status_lists_repositories_with_counts_and_last_sync(repo: Path, tmp_path: Path, pg_url: str, cli) -> None:
    report = index(cli, repo, pg_url)
    index(cli, shutil.copytree(repo, tmp_path / "second"), pg_url)
    result = cli("status", "--store", pg_url, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    by_name = {entry["repo"]: entry for entry in found["repositories"]}
    assert set(by_name) == {repo.name, "second"}
    assert (by_name[repo.name]["files"], by_name[repo.name]["chunks"]) == (report["files"], report["chunks"])
    assert by_name["second"]["last_sync"] > time.time() - 60
    assert found["embedder"].startswith("static")


def test_a_changed_file_replaces_its_chunks(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    (repo / "src/mathutil.py").write_text("def lucas(n):\n    return 2 if n == 0 else 1\n")
    (repo / "web/debounce.js").unlink()
    report = index(cli, repo, pg_url)
    assert (report["files_changed"], report["files_deleted"]) == (1, 1)
    symbols = {row[2] for row in rows(pg_url, repo.name)}
    assert "lucas" in symbols and "fibonacci" not in symbols and "debounce" not in symbols


def test_an_unchanged_repository_writes_nothing(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    before = rows(pg_url, repo.name)
    report = index(cli, repo, pg_url)
    assert (report["files_changed"], report["chunks_written"], report["embedded"]) == (0, 0, 0)
    assert rows(pg_url, repo.name) == before


def test_full_rebuilds_only_that_repository(repo: Path, tmp_path: Path, pg_url: str, cli) -> None:
    other = shutil.copytree(repo, tmp_path / "other")
    index(cli, repo, pg_url)
    index(cli, other, pg_url)
    kept = rows(pg_url, "other")
    index(cli, repo, pg_url, "--full")
    assert rows(pg_url, "other") == kept
    assert len(rows(pg_url, repo.name)) == len(kept)


def test_a_second_writer_of_a_repository_is_told_who_holds_it(repo: Path, pg_url: str) -> None:
    with target_for(repo, pg_url).writing("watch", 0.0, False):
        with pytest.raises(IndexBusy, match=rf"pid {os.getpid()} .*watch"):
            sync(repo, store=pg_url, wait=0.3)


def test_a_writer_of_another_repository_goes_on(repo: Path, tmp_path: Path, pg_url: str) -> None:
    other = shutil.copytree(repo, tmp_path / "other")
    with target_for(repo, pg_url).writing("index", 0.0, False):
        assert sync(other, store=pg_url, wait=0.0).chunks > 0


def test_two_indexers_at_once_lose_nothing(tmp_path: Path, pg_url: str) -> None:
    roots = [many_files(tmp_path / name, 300, name) for name in ("alpha", "beta")]
    runs = [codesearch("index", root, "--store", pg_url, "-q") for root in roots]
    assert [run.wait(120) for run in runs] == [0, 0]
    for root in roots:
        indexed = rows(pg_url, root.name)
        assert len({row[0] for row in indexed}) == 300
        assert all(row[-1] for row in indexed)  # every chunk has its vector


def test_a_killed_indexer_resumes_to_the_rows_of_an_uninterrupted_run(tmp_path: Path, pg_url: str) -> None:
    root = many_files(tmp_path / "big", 1000, "big")
    killed = kill_when_partly_written(codesearch("index", root, "--store", pg_url, "-q"), pg_url, "big", 1000)
    assert killed, "the indexer finished before it could be killed half way"
    assert codesearch("index", root, "--store", pg_url, "-q").wait(300) == 0
    assert codesearch("index", root, "--store", pg_url, "--repo", "uninterrupted", "-q").wait(300) == 0
    assert rows(pg_url, "big") == rows(pg_url, "uninterrupted")


def test_a_language_filter_still_returns_k_hits(tmp_path: Path, pg_url: str) -> None:
    root = many_files(tmp_path / "mixed", 400, "mixed")
    for n in range(12):
        (root / f"tool{n}.go").write_text(f"package tools\n\nfunc Tool{n}(x int) int {{\n\treturn x * {n}\n}}\n")
    sync(root, store=pg_url)
    from codesearch.searcher import Searcher

    with Searcher(pg_url) as searcher:
        hits = searcher.search("multiply a number", 10, language="go", mode="dense").hits
    assert len(hits) == 10 and {hit.language for hit in hits} == {"go"}


def test_an_unreachable_store_is_one_line(repo: Path, cli) -> None:
    result = cli("ask", "json", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot connect to the store" in result.stderr


def test_repo_without_a_store_is_an_error(indexed: Path, cli) -> None:
    result = cli("ask", "json", "--index", indexed, "--repo", "x")
    assert result.exit_code == 2 and "--repo names repositories of a --store" in result.stderr


def many_files(root: Path, count: int, name: str) -> Path:
    """A repository of `count` small Python files, each with two functions of its own."""
    for n in range(count):
        folder = root / f"pkg{n // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n}.py").write_text(
            f'def {name}_read_{n}(path):\n    """Read record {n} from a file."""\n    return open(path).read()[{n}:]\n\n\n'
            f"def {name}_total_{n}(values):\n    return sum(values) + {n}\n"
        )
    return root


def codesearch(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "codesearch", *map(str, args)], stderr=subprocess.DEVNULL)


def kill_when_partly_written(run: subprocess.Popen, url: str, repo: str, total: int) -> bool:
    """kill -9 the indexer once some of its files are committed; whether it was, before all were."""
    deadline = time.monotonic() + 120
    with psycopg.connect(url, autocommit=True) as conn:
        while run.poll() is None and time.monotonic() < deadline:
            written = conn.execute(
                "SELECT count(*) FROM files f JOIN repos r ON r.id = f.repo_id WHERE r.name = %s", (repo,)
            ).fetchone()[0] if conn.execute("SELECT to_regclass('files')").fetchone()[0] else 0
            if written:
                run.send_signal(signal.SIGKILL)
                run.wait(30)
                return written < total
            time.sleep(0.01)
    run.wait(120)
    return False


@pytest.fixture
def reader_url(pg_url: str) -> str:
    """The URL of a login role of its own, with no rights yet, in the test's database."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reader_a")
        conn.execute("CREATE ROLE reader_a LOGIN")
    return pg_url.replace("://postgres@", "://reader_a@")


@pytest.fixture
def two_repos(repo: Path, tmp_path: Path, pg_url: str, cli) -> tuple[str, str]:
    index(cli, repo, pg_url, "--repo", "open")
    index(cli, shutil.copytree(repo, tmp_path / "secret"), pg_url, "--repo", "secret")
    return "open", "secret"


def test_a_role_sees_only_the_repositories_granted_to_it(two_repos, pg_url: str, reader_url: str, cli) -> None:
    assert cli("grant", "reader_a", "open", "--store", pg_url).exit_code == 0
    hits = ask_json(cli, "fibonacci", "--store", reader_url, "-k", "50")["results"]
    assert hits and {hit["repo"] for hit in hits} == {"open"}


def test_a_role_gets_no_count_or_path_of_another_repository(two_repos, pg_url: str, reader_url: str, cli) -> None:
    assert cli("grant", "reader_a", "open", "--store", pg_url).exit_code == 0
    listed = json.loads(cli("status", "--store", reader_url, "--json").stdout)["repositories"]
    assert [entry["repo"] for entry in listed] == ["open"]
    asked = cli("ask", "fibonacci", "--store", reader_url, "--repo", "secret")
    assert asked.exit_code == 2 and "no repository 'secret'" in asked.stderr
    with psycopg.connect(reader_url) as conn:
        for table in ("files", "chunks", "repo_meta"):
            visible = conn.execute(f"SELECT count(*) FROM {table} t JOIN repos r ON r.id = t.repo_id WHERE r.name <> 'open'").fetchone()[0]
            assert visible == 0, table
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE repo_id NOT IN (SELECT id FROM repos)").fetchone()[0] == 0


def test_a_role_without_grants_reads_nothing(two_repos, reader_url: str, cli) -> None:
    result = cli("ask", "fibonacci", "--store", reader_url)
    assert result.exit_code == 2 and "codesearch grant" in result.stderr and result.stderr.count("\n") == 1


def test_revoke_takes_a_repository_back(two_repos, pg_url: str, reader_url: str, cli) -> None:
    assert cli("grant", "reader_a", "open", "secret", "--store", pg_url).exit_code == 0
    assert cli("revoke", "reader_a", "secret", "--store", pg_url).exit_code == 0
    hits = ask_json(cli, "fibonacci", "--store", reader_url, "-k", "50")["results"]
    assert {hit["repo"] for hit in hits} == {"open"}


def test_a_reader_role_cannot_read_the_shared_vector_cache(two_repos, pg_url: str, reader_url: str, cli) -> None:
    assert cli("grant", "reader_a", "open", "--store", pg_url).exit_code == 0
    with psycopg.connect(reader_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM vectors")


def test_a_settings_file_may_not_choose_the_store(repo: Path, cli) -> None:
    (repo / "pyproject.toml").write_text('[tool.codesearch]\nstore = "postgresql://collector@203.0.113.9/code"\n')
    result = cli("index", repo, "--quiet")
    assert result.exit_code == 2 and "may not choose the store" in result.stderr


def test_one_reader_answers_several_threads_at_once(repo: Path, pg_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from codesearch.searcher import Searcher

    sync(repo, store=pg_url)
    queries = ["parse json", "fibonacci number", "ConfigLoader", "debounce", "prime"] * 4
    with Searcher(pg_url) as searcher:
        alone = [searcher.search(q, 5).to_dict() for q in queries]
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda q: searcher.search(q, 5).to_dict(), queries))
    assert together == alone


def test_mcp_serves_a_repository_of_the_store(repo: Path, pg_url: str, cli) -> None:
    from test_mcp import served

    files = index(cli, repo, pg_url)["files"]
    with served(repo, "--store", pg_url) as client:
        assert client.answer("search", query="parse a JSON document", k=3)["results"][0]["symbol"] == "parse_json"
        status = client.answer("status")
    assert (status["repo"], status["store"], status["files"]) == (repo.name, pg_url, files)


def test_watch_keeps_the_repository_in_the_store_fresh(repo: Path, pg_url: str) -> None:
    from test_watch import eventually, start_watching, stop_watching

    watching, thread = start_watching(repo, store=pg_url)
    try:
        (repo / "src/shapes.py").write_text("def area_of_hexagon(side):\n    return 2.598 * side * side\n")
        eventually(lambda: "area_of_hexagon" in {row[2] for row in rows(pg_url, repo.name)})
    finally:
        stop_watching(watching, thread)


def test_a_search_of_every_repository_ranks_as_a_scoped_one_after_analyze(repo: Path, pg_url: str) -> None:
    from codesearch.searcher import Searcher

    sync(repo, store=pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ANALYZE chunks")  # the common words' counts now come from its statistics
    for query in ("parse json", "load settings from a json file", "fibonacci number"):
        with Searcher(pg_url) as everywhere, Searcher(pg_url, repos=[repo.name]) as scoped:
            assert everywhere.search(query, 10, mode="lexical").to_dict() == scoped.search(query, 10, mode="lexical").to_dict()


def test_a_store_whose_server_stopped_is_unavailable_in_one_line(repo: Path) -> None:
    from pgserver import PostgresServer

    from codesearch.errors import StoreUnavailable
    from codesearch.searcher import Searcher

    server = PostgresServer().start()
    try:
        url = server.create_database()
        sync(repo, store=url)
        searcher = Searcher(url)
        assert searcher.search("parse json", 3).hits
    finally:
        server.stop()
    with pytest.raises(StoreUnavailable, match=r"^the store is unavailable: [^\n]+$"):
        searcher.search("parse json", 3)
    searcher.close()
