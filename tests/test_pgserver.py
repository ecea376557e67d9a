"""The test PostgreSQL server: where it listens, what it runs as, pgvector, isolation, and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pgserver import PostgresServer, running


def proc_ids(pid: int, field: str) -> list[int]:
    """The ids on /proc/PID/status's FIELD line: real, effective, saved and filesystem for Uid and Gid."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return [int(value) for value in line.split()[1:]]
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def refuses_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def can_bind(port: int) -> bool:
    """Whether a new server could listen on PORT (SO_REUSEADDR, as postgres sets, so TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# a test run that starts a server, says where it is, and waits to be killed
KILLED_RUN = (
    "import time; from pgserver import PostgresServer; "
    "server = PostgresServer().start(); print(server.pid, server.base, flush=True); time.sleep(60)"
)


@dataclass(frozen=True)
class Stopped:
    pid: int
    port: int
    base: Path


@pytest.fixture(scope="module")
def stopped() -> Stopped:
    """A second server, started and stopped, so the session's server stays up."""
    server = PostgresServer().start()
    assert server.base is not None
    facts = Stopped(server.pid, server.port, server.base)
    server.stop()
    return facts


def test_server_answers_on_loopback_at_its_port(pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_server.url) as conn:
        address, port = conn.execute("SELECT host(inet_server_addr()), inet_server_port()").fetchone()
    assert (address, port) == ("127.0.0.1", pg_server.port)


def test_server_listens_on_loopback_only(pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_server.url) as conn:
        (addresses,) = conn.execute("SHOW listen_addresses").fetchone()
    assert addresses == "127.0.0.1"


def test_pgvector_is_0_8_or_later(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        (version,) = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)


def test_halfvec_hnsw_index_serves_iterative_scans(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding halfvec(3))")
        conn.execute("INSERT INTO items SELECT i, ARRAY[i, 1, 0]::halfvec FROM generate_series(1, 50) AS i")
        conn.execute("CREATE INDEX items_hnsw ON items USING hnsw (embedding halfvec_l2_ops)")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.execute("SET enable_seqscan = off")
        query = "SELECT id FROM items ORDER BY embedding <-> '[3, 1, 0]'::halfvec LIMIT 2"
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
        nearest = [row[0] for row in conn.execute(query)]
        (setting,) = conn.execute("SHOW hnsw.iterative_scan").fetchone()
    assert "items_hnsw" in plan
    assert nearest[0] == 3
    assert setting == "relaxed_order"


def test_each_database_is_independent(pg_server: PostgresServer, pg_url: str) -> None:
    other = pg_server.create_database()
    try:
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TABLE only_here (id int)")
        with psycopg.connect(other) as conn:
            (found,) = conn.execute("SELECT to_regclass('only_here')").fetchone()
            (has_vector,) = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone()
    finally:
        pg_server.drop_database(other)
    assert other != pg_url
    assert found is None
    assert has_vector == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="as a plain user the server runs as that user")
def test_server_runs_unprivileged_when_suite_is_root(pg_server: PostgresServer) -> None:
    uids = proc_ids(pg_server.pid, "Uid")
    gids = proc_ids(pg_server.pid, "Gid")
    assert 0 not in uids
    assert 0 not in gids
    assert 0 not in proc_ids(pg_server.pid, "Groups")


def test_stop_ends_the_postmaster(stopped: Stopped) -> None:
    assert not Path(f"/proc/{stopped.pid}").exists()


def test_stop_frees_the_port(stopped: Stopped) -> None:
    assert refuses_connections(stopped.port)
    assert can_bind(stopped.port)


def test_stop_removes_the_files(stopped: Stopped) -> None:
    assert not stopped.base.exists()


def test_a_killed_test_process_leaves_no_server() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN], cwd=Path(__file__).parent, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        pid, base = child.stdout.readline().split()
        child.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while (running(int(pid)) or Path(base).exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(int(pid))
    assert not Path(base).exists()


def test_failed_start_reports_the_log_and_cleans_up() -> None:
    # bound, not listening: postgres cannot bind it, and the readiness probe is refused at once
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        server = PostgresServer()
        server.port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="could not (bind|create)") as failure:
            server.start()
    assert "postgres exited" in str(failure.value)
    assert server.process is not None and server.process.poll() is not None
    assert server.base is not None and not server.base.exists()
