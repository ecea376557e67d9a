"""Kill `codesearch index` with SIGKILL at a chosen point, as a crash or the OOM killer would.

Child side, `python tests/crash_harness.py SEAM N ARGS...`: runs `codesearch ARGS...` in this
process after patching SEAM (a public seam of the library) so that its Nth call in this
process SIGKILLs the whole process group, worker processes included. Patches are inherited by
forked workers, so they fire only in the process that installed them. SEAM `none` patches
nothing (for kills at a random moment). The child prints "ready" once imported.

Parent side: `run_killed_at` and `run_killed_after` start the child in a session of its own
and report how it ended. Used by tests/test_crash.py and benchmarks/faults.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import codesearch.files
import codesearch.indexer  # noqa: F401  (imported so its binding of discover is patched too)
from codesearch.cli import main
from codesearch.embedders.static import StaticEmbedder
from codesearch.store import Store
from codesearch.vectors import VECTORS_NAME, VectorIndex

HARNESS_PID = os.getpid()
SEAMS = {
    "none": "no patch: killed from outside after a delay",
    "discover": "discovery yields its Nth file",
    "embed": "the Nth embedder call starts",
    "embedded": "the Nth embedder call has returned, its vectors not yet written",
    "delete": "Store.delete_files starts for the Nth time, inside a transaction",
    "put_vectors": "Store.put_vectors starts for the Nth time, inside a transaction",
    "write": "Store.replace_file starts for the Nth time, inside a transaction",
    "commit": "the Nth transaction is about to COMMIT",
    "committed": "the Nth transaction has committed",
    "save": "VectorIndex.save starts for the Nth time",
    "rename": "the Nth vector file is written to its temporary name, not yet renamed",
}


@dataclass(frozen=True)
class KillPoint:
    seam: str
    nth: int
    full: bool = False

    @property
    def name(self) -> str:
        return f"{'full-' if self.full else ''}{self.seam}-{self.nth}"


KILL_REPO_FILES = 600
KILL_POINTS = [
    KillPoint("discover", 1),
    KillPoint("discover", 300),
    KillPoint("discover", 574),
    KillPoint("delete", 1),
    KillPoint("commit", 1),
    KillPoint("committed", 1),
    KillPoint("embed", 1),
    KillPoint("embedded", 1),
    KillPoint("put_vectors", 1),
    KillPoint("committed", 2),
    KillPoint("write", 1),
    KillPoint("write", 200),
    KillPoint("commit", 3),
    KillPoint("committed", 3),
    KillPoint("embed", 2),
    KillPoint("write", 260),
    KillPoint("committed", 5),
    KillPoint("commit", 6),
    KillPoint("save", 1),
    KillPoint("rename", 1),
    KillPoint("commit", 1, full=True),
    KillPoint("committed", 1, full=True),
    KillPoint("committed", 2, full=True),
    KillPoint("embed", 2, full=True),
    KillPoint("write", 300, full=True),
    KillPoint("committed", 5, full=True),
    KillPoint("save", 1, full=True),
]
"""Points across discovery, embedding and writing of a sync from version one to version two of
tests/fault_repo.py's tree of KILL_REPO_FILES files (574 files then, two batches; --full: three
batches, ten transactions). Without --full the transactions are: 1 deletions, 2 and 4 vectors, 3 and 5
batches, 6 the closing record."""


def kill_group() -> None:
    """SIGKILL this process group, but only from the process that installed the patch."""
    if os.getpid() == HARNESS_PID:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _countdown(nth: int) -> Callable[[], None]:
    """A trigger that kills on its Nth call."""
    calls = 0

    def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == nth:
            kill_group()

    return tick


def _before(owner: Any, name: str, tick: Callable[[], None]) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        tick()
        return original(*args, **kwargs)

    setattr(owner, name, patched)


def _after(owner: Any, name: str, tick: Callable[[], None]) -> None:
    original = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        tick()
        return result

    setattr(owner, name, patched)


def _patch_discover(tick: Callable[[], None]) -> None:
    """Replace discover in every codesearch module that imported it by name."""
    original = codesearch.files.discover

    def patched(*args: Any, **kwargs: Any) -> Iterator[codesearch.files.SourceFile]:
        for source in original(*args, **kwargs):
            tick()
            yield source

    for name, module in list(sys.modules.items()):
        if name.startswith("codesearch") and getattr(module, "discover", None) is original:
            module.discover = patched  # type: ignore[attr-defined]


def _patch_transaction(tick: Callable[[], None], *, committed: bool) -> None:
    original = Store.transaction

    @contextmanager
    def patched(self: Store) -> Iterator[None]:
        with original(self):
            yield
            if not committed:
                tick()
        if committed:
            tick()

    Store.transaction = patched  # type: ignore[method-assign]


def _patch_rename(tick: Callable[[], None]) -> None:
    original = os.replace

    def patched(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).name == VECTORS_NAME:
            tick()
        original(src, dst, *args, **kwargs)

    os.replace = patched


def install(seam: str, nth: int) -> None:
    """Patch `seam` (a key of SEAMS) to kill this process group at its Nth call."""
    tick = _countdown(nth)
    patches: dict[str, Callable[[], None]] = {
        "none": lambda: None,
        "discover": lambda: _patch_discover(tick),
        "embed": lambda: _before(StaticEmbedder, "embed", tick),
        "embedded": lambda: _after(StaticEmbedder, "embed", tick),
        "delete": lambda: _before(Store, "delete_files", tick),
        "put_vectors": lambda: _before(Store, "put_vectors", tick),
        "write": lambda: _before(Store, "replace_file", tick),
        "commit": lambda: _patch_transaction(tick, committed=False),
        "committed": lambda: _patch_transaction(tick, committed=True),
        "save": lambda: _before(VectorIndex, "save", tick),
        "rename": lambda: _patch_rename(tick),
    }
    patches[seam]()


def index_args(root: Path, full: bool) -> list[str]:
    return ["index", str(root), "--quiet", *(["--full"] if full else [])]


@contextmanager
def _child(seam: str, nth: int, args: list[str]) -> Iterator[subprocess.Popen]:
    """The harness as a process group leader, waited for (or killed with its group) on the way out."""
    command = [sys.executable, str(Path(__file__)), seam, str(nth), *args]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n", child.stderr.read() if child.stderr else ""
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()


def run_killed_at(point: KillPoint, root: Path, timeout: float = 120.0) -> int:
    """Index `root` and die at `point`; returns the exit status (-9 when the kill came)."""
    with _child(point.seam, point.nth, index_args(root, point.full)) as child:
        child.wait(timeout)
    return child.returncode


def run_killed_after(delay: float, root: Path, full: bool = False) -> int:
    """Index `root` and SIGKILL the process group `delay` seconds after start-up, unless it
    finished first; returns the exit status (-9 when the kill came)."""
    with _child("none", 0, index_args(root, full)) as child:
        try:
            child.wait(delay)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.returncode


if __name__ == "__main__":
    if os.getpgrp() != os.getpid():
        sys.exit("crash_harness.py must lead its own process group (start it with start_new_session=True)")
    install(sys.argv[1], int(sys.argv[2]))
    print("ready", flush=True)
    sys.argv = ["codesearch", *sys.argv[3:]]
    main()
