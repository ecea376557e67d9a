"""An ordered, bounded map over worker processes, for the CPU-bound half of indexing.

Workers are started with `forkserver` (never a fork of a process that has threads running),
ignore Ctrl-C (the parent decides what an interrupt means), and exit on their own when the
parent dies, even by SIGKILL: nothing is left running after a crash.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PARENT_CHECK_SECONDS = 1.0


def worker_count() -> int:
    """The cores this process may run on: parsing scales with them and nothing else."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def ordered_map(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`map(function, items)` across `workers` processes, results in input order.

    At most two tasks per worker are in flight, so memory stays bounded however many items
    there are and however slowly the caller consumes results.
    """
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers, initializer=_start_worker, initargs=(os.getpid(),)) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.apply_async(function, (item,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _start_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker whose indexer died has nobody to report to: stop instead of lingering."""
    while True:
        time.sleep(_PARENT_CHECK_SECONDS)
        try:
            os.kill(parent, 0)
        except OSError:  # gone, or its pid now belongs to someone else
            os._exit(1)
