"""Crash safety: `index` killed with SIGKILL anywhere, damaged index files, a full disk.

After each fault: `ask` answers (exit 0, every hit the text of a version of its file that
existed), `status` tells what the database holds, the next `index` completes to exactly what
a clean index of the files holds, and tests/invariants.py holds throughout.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from crash_harness import KILL_POINTS, KILL_REPO_FILES, KillPoint, run_killed_after, run_killed_at
from fault_repo import QUERIES, Prepared, assert_recovers, changed_copy, prepare
from invariants import check_invariants
from codesearch.store import DB_NAME
from codesearch.vectors import VECTORS_NAME

FAST_POINTS = {"discover-300", "embedded-1", "write-200", "committed-3", "save-1", "full-write-300"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("versions"), KILL_REPO_FILES)


def point_params() -> list:
    """Every kill point: a sample in the fast suite, the rest marked slow."""
    params = []
    for point in KILL_POINTS:
        marks = [] if point.name in FAST_POINTS else [pytest.mark.slow]
        params.append(pytest.param(point, id=point.name, marks=marks))
    return params


@pytest.mark.parametrize("point", point_params())
def test_index_killed_at_a_seam_recovers(point: KillPoint, prepared: Prepared, tmp_path: Path, cli) -> None:
    root = changed_copy(prepared, tmp_path / "repo")
    assert run_killed_at(point, root) == -signal.SIGKILL
    assert_recovers(cli, root, prepared)


@pytest.fixture(scope="module")
def run_seconds(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an uninterrupted sync to version two takes on this machine now."""
    root = changed_copy(prepared, tmp_path_factory.mktemp("timed") / "repo")
    started = time.monotonic()
    assert run_killed_after(600, root) == 0
    return time.monotonic() - started


@pytest.mark.parametrize(
    "seed", [pytest.param(1, id="seed-1")] + [pytest.param(s, id=f"seed-{s}", marks=pytest.mark.slow) for s in range(2, 14)]
)
def test_index_killed_at_a_random_moment_recovers(seed: int, prepared: Prepared, run_seconds: float, tmp_path: Path, cli) -> None:
    """Not --full: a random moment there lands in the window of the bug in NO_EMBEDDER_BUG too often."""
    root = changed_copy(prepared, tmp_path / "repo")
    run_killed_after(random.Random(seed).uniform(0.02, 0.95) * run_seconds, root)
    assert_recovers(cli, root, prepared)


def test_killed_vector_save_leaves_no_temporary_file(indexed: Path, cli) -> None:
    with (indexed / "src/mathutil.py").open("a") as source:
        source.write("\n\ndef halve(n):\n    return n / 2\n")  # a sync that changes nothing saves nothing
    assert run_killed_at(KillPoint("rename", 1), indexed) == -signal.SIGKILL
    for left in (indexed / ".codesearch").glob(".vectors-*"):  # a minute later: no save takes that long
        os.utime(left, (left.stat().st_atime - 120, left.stat().st_mtime - 120))
    assert cli("index", indexed, "--quiet").exit_code == 0
    assert sorted(p.name for p in (indexed / ".codesearch").iterdir() if p.name.startswith(".vectors-")) == []


def test_recreated_database_never_trusts_the_old_vector_file(indexed: Path, cli) -> None:
    """A vector file left by a deleted database must not pass for the new one's, even when the
    new one has made as many writes (here: killed before it saves its own vector file)."""
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        (indexed / ".codesearch" / name).unlink(missing_ok=True)
    source = indexed / "src" / "mathutil.py"
    source.write_text("def square(x):\n    return x * x\n\n\n" + source.read_text())
    assert run_killed_at(KillPoint("save", 1), indexed) == -signal.SIGKILL
    assert cli("ask", "fibonacci number", "--index", indexed).exit_code == 0
    check_invariants(indexed / ".codesearch")


# Damaged vector file ------------------------------------------------------------------------


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_a_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def _garbage(data: bytes) -> bytes:
    return random.Random(len(data)).randbytes(len(data))


def _empty(_data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _garbage, _empty], ids=lambda f: f.__name__.strip("_"))
def test_damaged_vector_file_is_rebuilt_with_one_notice(damage, indexed: Path, cli) -> None:
    vectors = indexed / ".codesearch" / VECTORS_NAME
    before = cli("ask", "parse json", "--json", "--index", indexed)
    vectors.write_bytes(damage(vectors.read_bytes()))
    after = cli("ask", "parse json", "--json", "--index", indexed)
    assert after.exit_code == 0
    assert after.stdout == before.stdout
    assert after.stderr == (
        f"codesearch: notice: the vector file {vectors} was stale or damaged; rebuilt it from the index database\n"
    )
    check_invariants(indexed / ".codesearch", root=indexed)


def test_rebuilt_vector_file_is_saved_so_the_notice_comes_once(indexed: Path, cli) -> None:
    vectors = indexed / ".codesearch" / VECTORS_NAME
    vectors.write_bytes(_truncate(vectors.read_bytes()))
    cli("ask", "parse json", "--index", indexed)
    again = cli("ask", "parse json", "--index", indexed)
    assert again.exit_code == 0
    assert again.stderr == ""


def test_missing_vector_file_is_built_without_a_notice(indexed: Path, cli) -> None:
    (indexed / ".codesearch" / VECTORS_NAME).unlink()
    result = cli("ask", "parse json", "--json", "--index", indexed)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["results"]
    assert result.stderr == ""


# Damaged database ---------------------------------------------------------------------------


def _header_overwritten(data: bytes) -> bytes:
    return b"\xff" * 100 + data[100:]


def _pages_overwritten(data: bytes) -> bytes:
    """Garbage over pages in the middle: the database opens, and fails only where they are read."""
    start = len(data) // 2 // 4096 * 4096
    return data[:start] + random.Random(7).randbytes(3 * 4096) + data[start + 3 * 4096 :]


UNREADABLE = [_garbage, _truncate, _header_overwritten]


@pytest.mark.parametrize("command", ["ask", "status", "index"])
@pytest.mark.parametrize("damage", UNREADABLE, ids=lambda f: f.__name__.strip("_"))
def test_unreadable_database_is_one_line_suggesting_a_full_index(damage, command: str, indexed: Path, cli) -> None:
    database = indexed / ".codesearch" / DB_NAME
    database.write_bytes(damage(database.read_bytes()))
    args = {"ask": ["ask", "parse json", "--index", indexed], "status": ["status", "--index", indexed], "index": ["index", indexed]}
    result = cli(*args[command])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("codesearch: error: ")
    assert "`codesearch index --full`" in result.stderr


@pytest.mark.parametrize("damage", [*UNREADABLE, _pages_overwritten, _empty], ids=lambda f: f.__name__.strip("_"))
def test_full_index_replaces_a_damaged_database(damage, indexed: Path, cli) -> None:
    database = indexed / ".codesearch" / DB_NAME
    before = cli("ask", "parse json", "--json", "--index", indexed)
    database.write_bytes(damage(database.read_bytes()))
    rebuilt = cli("index", indexed, "--full", "--quiet")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    check_invariants(indexed / ".codesearch", root=indexed)
    assert cli("ask", "parse json", "--json", "--index", indexed).stdout == before.stdout


def test_full_index_keeps_a_healthy_database_file(indexed: Path, cli) -> None:
    """--full empties the index in place; only a damaged file is deleted (readers may hold it open)."""
    database = indexed / ".codesearch" / DB_NAME
    inode = database.stat().st_ino
    assert cli("index", indexed, "--full", "--quiet").exit_code == 0
    assert database.stat().st_ino == inode


# Full disk ----------------------------------------------------------------------------------


def index_with_file_size_limit(root: Path, limit: int) -> subprocess.CompletedProcess:
    """`codesearch index` where no file may grow past `limit` bytes: writes fail with EFBIG, as on a full disk."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "codesearch", "index", str(root)],
        preexec_fn=limited, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )


def test_failed_transaction_leaves_the_vector_file_in_step(indexed: Path, cli) -> None:
    """A transaction that removed chunks, then failed, removed nothing: the vector file saved
    after the error must still hold those chunks' vectors."""
    for relpath in ("src/jsonutil.py", "web/debounce.js"):
        with (indexed / relpath).open("a") as source:
            source.write("\n// edited\n" if relpath.endswith(".js") else "\n# edited\n")
    with closing(sqlite3.connect(indexed / ".codesearch" / DB_NAME)) as db, db:
        db.execute(
            "CREATE TRIGGER fail_on_debounce BEFORE UPDATE ON files WHEN NEW.path = 'web/debounce.js' "
            "BEGIN SELECT RAISE(ABORT, 'injected write failure'); END"
        )
    assert cli("index", indexed, "--quiet").exit_code == 2
    check_invariants(indexed / ".codesearch")


@pytest.mark.parametrize(
    ("limit", "unchanged"),
    [pytest.param(0, True, id="lock-file"), pytest.param(64 << 10, True, id="first-transaction"), pytest.param(4 << 20, False, id="later-batch")],
)
def test_write_error_fails_in_one_line_and_keeps_the_index(limit: int, unchanged: bool, prepared: Prepared, tmp_path: Path, cli) -> None:
    """A failure before any commit changes nothing; a later one keeps the batches finished before it."""
    root = changed_copy(prepared, tmp_path / "repo")
    index_dir = root / ".codesearch"
    before = [cli("ask", query, "--json", "--index", index_dir).stdout for query in QUERIES]
    result = index_with_file_size_limit(root, limit)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("codesearch: error: "), result.stderr
    assert "--full" not in result.stderr, "a write error is not a damaged index"
    if unchanged:
        assert [cli("ask", query, "--json", "--index", index_dir).stdout for query in QUERIES] == before
    assert_recovers(cli, root, prepared)
