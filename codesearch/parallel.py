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
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], workers: int, on_crash: Callable[[T], R]
) -> Iterator[R]:
    """`map(function, items)` across `workers` processes, results in input order.

    At most two tasks per worker are in flight, so memory stays bounded however many items
    there are and however slowly the caller consumes results. A worker killed under a task (a
    native parser crash) costs that task only: `on_crash(item)` answers for it, and for the
    other tasks in flight on the broken pool, which are started again on a fresh one.
    """
    pending: deque[tuple[T, Future[R]]] = deque()
    pool = _pool(workers)
    try:
        for item in items:
            pending.append((item, _submit(pool, function, item)))
            if len(pending) >= 2 * workers:
                result, pool = _next(pending, pool, function, workers, on_crash)
                yield result
        while pending:
            result, pool = _next(pending, pool, function, workers, on_crash)
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _next(
    pending: deque, pool: ProcessPoolExecutor, function: Callable[[T], R], workers: int, on_crash: Callable[[T], R]
) -> tuple[R, ProcessPoolExecutor]:
    item, future = pending.popleft()
    try:
        return future.result(), pool
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        pool = _pool(workers)
        for index, (other, _) in enumerate(pending):
            pending[index] = (other, _submit(pool, function, other))
        return on_crash(item), pool


def _submit(pool: ProcessPoolExecutor, function: Callable[[T], R], item: T) -> Future[R]:
    """The task's future; a failed one when a worker has died since the last result was taken,
    which breaks the pool: `_next` then answers for the task in its turn, on a fresh pool."""
    try:
        return pool.submit(function, item)
    except BrokenProcessPool as exc:
        failed: Future[R] = Future()
        failed.set_exception(exc)
        return failed


def isolated(function: Callable[[T], R], item: T) -> R:
    """`function(item)` in a process of its own; raises BrokenProcessPool if that process dies."""
    with _pool(1) as pool:
        return pool.submit(function, item).result()


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),))


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
