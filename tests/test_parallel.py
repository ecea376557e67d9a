"""Worker processes: results in order, identical indexes, nothing left behind after a crash."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codesearch import indexer, parallel
from codesearch.parallel import ordered_map
from codesearch.store import Store
from invariants import check_invariants


def test_results_come_back_in_input_order() -> None:
    words = ["x" * n for n in range(40)]
    assert list(ordered_map(len, words, 2, on_crash=lambda _w: -1)) == list(range(40))


def chunk_rows(index_dir: Path) -> list[tuple]:
    with sqlite3.connect(index_dir / "index.db") as conn:
        return conn.execute(
            "SELECT f.path, c.kind, c.symbol, c.start_line, c.end_line, c.text, c.vector_key "
            "FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY f.path, c.start_line, c.symbol"
        ).fetchall()


def stored_vectors(index_dir: Path) -> list[tuple]:
    with sqlite3.connect(index_dir / "index.db") as conn:
        return conn.execute("SELECT key, signature, vector FROM vectors ORDER BY key").fetchall()


def test_workers_build_the_same_index_as_one_process(repo: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("index", repo, "--index", tmp_path / "single", "-q").exit_code == 0
    monkeypatch.setattr(indexer, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "worker_count", lambda: 2)
    assert cli("index", repo, "--index", tmp_path / "pool", "-q").exit_code == 0
    assert chunk_rows(tmp_path / "pool") == chunk_rows(tmp_path / "single") != []
    assert stored_vectors(tmp_path / "pool") == stored_vectors(tmp_path / "single") != []


def test_a_first_index_through_workers_skips_the_orphan_vector_scan(
    repo: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[int] = []
    monkeypatch.setattr(Store, "drop_orphan_vectors", lambda store: scans.append(1) or 0)
    monkeypatch.setattr(indexer, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "worker_count", lambda: 2)
    assert cli("index", repo, "--index", tmp_path / "pool", "-q").exit_code == 0
    assert scans == []
    check_invariants(tmp_path / "pool", root=repo)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(textwrap.dedent("""
        import os, time

        def record_and_sleep(folder):
            open(os.path.join(folder, str(os.getpid())), "w").close()
            time.sleep(60)
    """))
    pids = tmp_path / "pids"
    pids.mkdir()
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import slow; from codesearch.parallel import ordered_map; "
        "list(ordered_map(slow.record_and_sleep, [sys.argv[2]] * 2, 2, on_crash=print))"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(pids)])
    deadline = time.monotonic() + 30
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers)


def crash_on_poison(name: str) -> str:
    if name == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return name.upper()


def test_a_crashed_task_costs_only_itself() -> None:
    items = ["a", "b", "poison", "c", "d", "e"]
    retry = lambda item: "crashed" if item == "poison" else item.upper()  # what the indexer's fallback does
    assert list(ordered_map(crash_on_poison, items, 2, on_crash=retry)) == ["A", "B", "crashed", "C", "D", "E"]


def test_a_crash_noticed_between_results_costs_only_its_task() -> None:
    """The consumer is busy (the writer commits) while a worker dies: the pool is broken before
    the next task is submitted."""
    items = ["a", "b", "c", "poison", "d", "e", "f", "g"]
    retry = lambda item: "crashed" if item == "poison" else item.upper()
    results = []
    for result in ordered_map(crash_on_poison, items, 2, on_crash=retry):
        results.append(result)
        if len(results) == 1:
            time.sleep(2)
    assert results == ["A", "B", "C", "crashed", "D", "E", "F", "G"]
