"""The PostgreSQL store on Citus: a coordinator and two workers on 127.0.0.1, the same checks as
tests/test_postgres_store.py against the coordinator, and the layout that makes it scale out.

Citus is built from ../shared/vendor on first use (tests/citus_build.py, minutes), so these are slow.
"""

from __future__ import annotations

import inspect
import itertools
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from citus_build import citus_binaries, vendored_tarball
from pgserver import PostgresServer
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict

from codesearch.searcher import Searcher
from codesearch.stores import postgres
import test_postgres_store
from test_postgres_store import index, reader_url, two_repos  # noqa: F401 - fixtures, with this module's pg_url

pytestmark = pytest.mark.slow

NEED_GRANT_POLICIES = {
    "test_a_role_sees_only_the_repositories_granted_to_it",
    "test_a_role_gets_no_count_or_path_of_another_repository",
    "test_revoke_takes_a_repository_back",
    "test_a_reader_role_cannot_read_the_shared_vector_cache",
}
"""The store's checks of `grant`, which Citus cannot serve (test_grant_says_why_citus_cannot_guard_repositories)."""
globals().update(  # every other check of the store, collected here again to run against this module's pg_url
    (name, check) for name, check in vars(test_postgres_store).items()
    if name.startswith("test_") and name not in NEED_GRANT_POLICIES
    and {"pg_url", "two_repos"} & set(inspect.signature(check).parameters)
)

WORKERS = 2
SETTINGS = {"shared_preload_libraries": "citus", "max_worker_processes": "8"}
LAYOUT = {
    "codesearch_meta": ("n", None), "repos": ("n", None), "codesearch_grants": ("n", None),
    "repo_meta": ("h", "repo_id"), "files": ("h", "repo_id"), "chunks": ("h", "repo_id"),
}
"""Each table's method and column in pg_dist_partition: n a reference table, h hashed; the vector
cache is not there, a table of the coordinator's."""


class CitusCluster:
    """A coordinator and workers, each a PostgresServer running Citus; a database is made on
    all of them and the workers joined to it, as an administrator does."""

    def __init__(self, bin_dir: Path) -> None:
        self.coordinator, *self.workers = (
            PostgresServer(bin_dir=bin_dir, settings=SETTINGS) for _ in range(1 + WORKERS)
        )
        self._names = itertools.count(1)

    @property
    def servers(self) -> list[PostgresServer]:
        return [self.coordinator, *self.workers]

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def create_database(self) -> str:
        """A new database on every node, with citus (and pgvector on the coordinator, which
        Citus copies to the workers as they join); returns the coordinator's URL."""
        name = f"citus_{next(self._names)}"
        for worker in self.workers:
            worker.create_database(name, ("citus",))
        url = self.coordinator.create_database(name, ("citus", "vector"))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (self.coordinator.port,))
            for worker in self.workers:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (worker.port,))
        return url

    def drop_database(self, url: str) -> None:
        name = conninfo_to_dict(url)["dbname"]
        for server in self.servers:
            server.drop_database(server.database_url(name))


@pytest.fixture(scope="module")
def citus() -> Iterator[CitusCluster]:
    tarball = vendored_tarball()
    if tarball is None:
        pytest.skip("no Citus source in ../shared/vendor")
    cluster = CitusCluster(citus_binaries(tarball))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(citus: CitusCluster) -> Iterator[str]:
    """The store tests' database, here on the Citus coordinator."""
    url = citus.create_database()
    yield url
    citus.drop_database(url)


def test_the_tables_are_distributed_by_repository(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    with psycopg.connect(pg_url) as conn:
        layout = {
            table: (method, column) for table, method, column in conn.execute(
                "SELECT logicalrelid::text, partmethod, column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition"
            )
        }
    assert layout == LAYOUT


def test_every_chunk_shard_has_the_vector_index(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    with psycopg.connect(pg_url) as conn:
        counts = [row[0] for row in conn.execute(
            "SELECT result FROM run_command_on_shards('chunks', $$SELECT count(*) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE i.indrelid = '%s'::regclass AND a.amname = 'hnsw'$$)"
        )]
    assert counts and set(counts) == {"1"}


def test_a_search_setting_reaches_every_shard(repo: Path, pg_url: str, cli) -> None:
    index(cli, repo, pg_url)
    on_shards: dict[str, set[str]] = {}
    for name, conn in (("store", postgres._connect(pg_url)), ("plain", psycopg.connect(pg_url, autocommit=True))):
        with conn, conn.transaction():
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            on_shards[name] = {row[0] for row in conn.execute("SELECT current_setting('hnsw.iterative_scan') FROM chunks")}
    assert on_shards == {"store": {"relaxed_order"}, "plain": {"off"}}


def test_a_reader_role_sees_no_row_without_the_grant_policies(two_repos, pg_url: str, reader_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON codesearch_meta, codesearch_grants, repos, repo_meta, files, chunks TO reader_a")
    with psycopg.connect(reader_url) as conn:
        for table in ("repos", "repo_meta", "files", "chunks"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_chunks_are_co_located_with_their_files(pg_url: str, repo: Path, cli) -> None:
    index(cli, repo, pg_url)
    with psycopg.connect(pg_url) as conn:
        groups = conn.execute(
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'"
        ).fetchone()[0]
    assert groups == 1


def test_shards_land_on_both_workers(citus: CitusCluster, many_repos: list[str], pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        holding = {
            port for port, rows in conn.execute(
                "SELECT nodeport, result::bigint FROM run_command_on_placements('chunks', 'SELECT count(*) FROM %s')"
            ) if rows
        }
    assert holding == {worker.port for worker in citus.workers}


def test_a_one_repository_search_runs_on_one_shard(many_repos: list[str], pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = shard_tasks(search_statements(pg_url, [many_repos[0]], monkeypatch), pg_url)
    assert tasks and set(tasks.values()) == {1}, tasks


def test_an_all_repository_search_fans_out(many_repos: list[str], pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = shard_tasks(search_statements(pg_url, [], monkeypatch), pg_url)
    with psycopg.connect(pg_url) as conn:
        shards = conn.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'chunks'::regclass").fetchone()[0]
    assert shards > 1 and shards in tasks.values(), tasks


def test_grant_says_why_citus_cannot_guard_repositories(two_repos, pg_url: str, reader_url: str, cli) -> None:
    result = cli("grant", "reader_a", "open", "--store", pg_url)
    assert result.exit_code == 2 and "Citus" in result.stderr and result.stderr.count("\n") == 1
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM codesearch_grants").fetchone()[0] == 0


@pytest.fixture
def many_repos(repo: Path, tmp_path: Path, pg_url: str, cli) -> list[str]:
    """Four copies of the test repository: with 32 shards per table, enough to reach both workers."""
    names = [f"copy{n}" for n in range(4)]
    for name in names:
        index(cli, shutil.copytree(repo, tmp_path / name), pg_url)
    return names


def search_statements(url: str, repos: list[str], monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """The statements on chunks and files that hybrid searches over REPOS (all when empty) run,
    one of them filtered by language."""
    seen: list[tuple[str, tuple]] = []
    execute = postgres._Connection.execute

    def record(self: postgres._Connection, query: object, params: Sequence[object] | None = None, **kwargs: Any) -> Any:
        seen.append((str(query), tuple(params or ())))
        return execute(self, query, params, **kwargs)

    monkeypatch.setattr(postgres._Connection, "execute", record)
    with Searcher(url, repos=repos) as searcher:
        assert searcher.search("fibonacci number", 5).hits
        assert searcher.search("parse json", 5, language="python").hits
    # reading the tables themselves: not the catalog's statistics of them (`_common_words`), which are the coordinator's
    return [(query, params) for query, params in seen if re.search(r"\bFROM (chunks|files)\b", query) and query.startswith("SELECT")]


def shard_tasks(statements: list[tuple[str, tuple]], url: str) -> dict[str, int]:
    """Each statement's number of shard tasks, from Citus's EXPLAIN (the first Task Count)."""
    tasks: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        for query, params in statements:
            plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}", params))
            counted = re.search(r"Task Count: (\d+)", plan)
            assert counted, plan
            tasks[query] = int(counted[1])
    return tasks
