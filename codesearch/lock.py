"""One writer per index, and one watcher: OS file locks that die with their process.

A lock is `fcntl.flock` on a file in the index directory. The kernel releases it when the
holding process exits, however it exits (kill -9 included), so there is no stale-lock
detection to get wrong: a lock that is held belongs to a live process. The holder writes its
pid and role into the file, only so that a process kept waiting can say who holds it.

Two locks, taken by different parties:
- `writer.lock`: whoever changes the index (every `sync`, hence `index` and each batch of
  `watch`) holds it for the duration of that change.
- `watch.lock`: a watcher holds it for its whole life, so two watchers never chase the same
  events on one index.

flock locks belong to an open file, not to a process, so two threads of one process that
each open the lock exclude each other too.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from codesearch.errors import CodesearchError
from codesearch.locate import WATCH_LOCK, WRITER_LOCK, open_state_file

DEFAULT_WAIT_S = 5.0
_RETRY_S = 0.05
_HOLDER_BYTES = 256
"""More than a holder's "PID ROLE" line takes."""


class IndexBusy(CodesearchError):
    """Another live process holds the lock; the message names it."""


@contextmanager
def writer_lock(index_dir: Path, role: str, wait: float | None = None) -> Iterator[None]:
    """Hold the index's writer lock, waiting up to `wait` seconds (default DEFAULT_WAIT_S) for it."""
    seconds = DEFAULT_WAIT_S if wait is None else wait
    busy = f"is writing this index (waited {seconds:g} s); try again when it finishes, or stop it"
    with _hold(index_dir / WRITER_LOCK, role, seconds, busy):
        yield


def writer_active(index_dir: Path) -> bool:
    """Whether a live process holds the writer lock at this moment (a probe that takes nothing
    a writer waits on for longer than its retry interval)."""
    try:
        fd = open_state_file(index_dir / WRITER_LOCK, os.O_RDONLY)
    except (OSError, CodesearchError):  # none, or not a lock codesearch made: no writer holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def watch_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's watcher lock, or fail at once: a second watcher has nothing to add."""
    with _hold(index_dir / WATCH_LOCK, "watch", 0.0, "is already watching this index; stop it first"):
        yield


@contextmanager
def _hold(path: Path, role: str, wait: float, busy: str) -> Iterator[None]:
    """flock `path`, record who holds it, and release it (by closing) on the way out.

    `busy` ends the one-line error raised when the lock stays taken: "another codesearch
    process (pid N, ROLE) " + busy. The file is opened without following a link: a lock file
    linked to another file would otherwise truncate that file.
    """
    fd = open_state_file(path, os.O_RDWR | os.O_CREAT)
    try:
        _acquire(fd, wait, busy)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _acquire(fd: int, wait: float, busy: str) -> None:
    """Try the lock until `wait` seconds have passed; flock has no timeout of its own."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexBusy(f"{_holder(fd)} {busy}") from None
            time.sleep(_RETRY_S)


def _holder(fd: int) -> str:
    """'another codesearch process (pid N, ROLE)', the pid and role as the holder wrote them
    (it may not have written them yet) in the lock file open at `fd`."""
    pid, _, role = os.pread(fd, _HOLDER_BYTES, 0).decode(errors="replace").strip().partition(" ")
    known = f" (pid {pid}, {role})" if pid.isdigit() and role else ""
    return f"another codesearch process{known}"
