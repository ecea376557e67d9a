"""One writer per index: the lock excludes, waits a bounded time, names its holder, and dies
with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from codesearch import lock
from codesearch.lock import IndexBusy, watch_lock, writer_lock

HOLDER = """
import sys, time
from pathlib import Path
from codesearch.lock import writer_lock
with writer_lock(Path(sys.argv[1]), sys.argv[2]):
    print("locked", flush=True)
    time.sleep(60)
"""


@contextmanager
def held_elsewhere(index_dir: Path, role: str) -> Iterator[subprocess.Popen]:
    """Another process holding the writer lock until the block ends (then killed with SIGKILL)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(index_dir), role], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "locked\n"
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_second_writer_is_refused_with_the_holder_named(index_dir: Path) -> None:
    with writer_lock(index_dir, "watch"):
        with pytest.raises(IndexBusy) as caught:
            with writer_lock(index_dir, "index", wait=0.2):
                pass
    message = str(caught.value)
    assert message.startswith(f"another codesearch process (pid {os.getpid()}, watch) is writing this index (waited 0.2 s)")
    assert "\n" not in message


def test_waiting_writer_gets_the_lock_once_released(index_dir: Path) -> None:
    taken = threading.Event()

    def hold_briefly() -> None:
        with writer_lock(index_dir, "watch"):
            taken.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    taken.wait()
    started = time.monotonic()
    with writer_lock(index_dir, "index", wait=5):
        waited = time.monotonic() - started
    holder.join()
    assert 0.1 < waited < 2


def test_lock_is_released_when_the_holder_fails(index_dir: Path) -> None:
    with pytest.raises(RuntimeError):
        with writer_lock(index_dir, "index"):
            raise RuntimeError("sync failed")
    with writer_lock(index_dir, "index", wait=0):
        pass


def test_killed_holder_does_not_block(index_dir: Path) -> None:
    with held_elsewhere(index_dir, "index") as holder:
        with pytest.raises(IndexBusy, match=rf"\(pid {holder.pid}, index\)"):
            with writer_lock(index_dir, "watch", wait=0):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        with writer_lock(index_dir, "watch", wait=0):
            pass


def test_only_one_watcher_and_no_waiting_for_it(index_dir: Path) -> None:
    with watch_lock(index_dir):
        started = time.monotonic()
        with pytest.raises(IndexBusy, match=rf"\(pid {os.getpid()}, watch\) is already watching this index; stop it first"):
            with watch_lock(index_dir):
                pass
        assert time.monotonic() - started < 0.5
        with writer_lock(index_dir, "index", wait=0):
            pass


def test_index_command_names_the_writer_in_one_line(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "DEFAULT_WAIT_S", 0.3)
    with held_elsewhere(indexed / ".codesearch", "watch") as holder:
        result = cli("index", indexed)
    assert result.exit_code == 2
    assert result.stderr == (
        f"codesearch: error: another codesearch process (pid {holder.pid}, watch) is writing this index "
        "(waited 0.3 s); try again when it finishes, or stop it\n"
    )
