"""One writer and many readers at once: `watch` syncing edits, `index` attempts, eight `ask` loops.

`run_concurrently(workdir, seconds)` sets it up over a generated repository, lets it run, and
returns what happened with every failure described: a query that failed or answered with text
that no version of its file ever held, an `index` attempt that neither ran nor said clearly
that a writer is busy, a watcher that complained or died, an index left inconsistent.
Used by tests/test_concurrency.py and benchmarks/faults.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from codesearch.indexer import sync
from codesearch.searcher import Searcher
from fault_repo import QUERIES, Versions, mismatched_hits, module, path_of, write_files
from invariants import check_invariants, chunk_rows, files_out_of_step

FILES = 40
HOT = range(0, FILES, 5)
"""The files the editor keeps saving (and now and then deletes and writes again)."""
READERS = 8
EDIT_PAUSE_S = 0.05
INDEX_EVERY_S = 0.5
BUSY = "is writing this index"
TESTS = Path(__file__).parent


@dataclass
class Outcome:
    queries: int = 0
    edits: int = 0
    index_attempts: int = 0
    failures: list[str] = field(default_factory=list)


def run_concurrently(workdir: Path, seconds: float) -> Outcome:
    """Edit, watch, index and ask all at once for `seconds`; then check everything that came back."""
    root = workdir / "repo"
    write_files(root, {path_of(n): module(n) for n in range(FILES)})
    sync(root)
    outcome = Outcome()
    edits = {n: 0 for n in HOT}
    watcher = _Watch(root)
    try:
        readers = _start_readers(root, workdir)
        stop = threading.Event()
        threads = [
            threading.Thread(target=_edit, args=(root, workdir / "scratch", edits, stop, outcome)),
            threading.Thread(target=_index_attempts, args=(root, stop, outcome)),
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        (workdir / "stop").touch()
        for reader in readers:
            if reader.wait(120) != 0:
                outcome.failures.append(f"ask loop exited with {reader.returncode}: {reader.stderr.read() if reader.stderr else ''}")
        _wait_until_synced(root, outcome)
    finally:
        (workdir / "stop").touch()  # readers left running by a failure above stop too
        watcher.stop(outcome)
    versions = {path_of(n): [module(n, e) for e in range(edits.get(n, 0) + 1)] for n in range(FILES)}
    _check_answers(workdir, versions, outcome)
    _check_index(root, workdir, outcome)
    return outcome


class _Watch:
    """`codesearch watch --verbose` in its own session, its stderr collected by a thread."""

    def __init__(self, root: Path) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codesearch", "watch", str(root), "--verbose"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self.reader = threading.Thread(target=self._collect)
        self.reader.start()
        if not self.ready.wait(60):
            self.stop(Outcome())
            raise RuntimeError(f"watch did not start: {self.lines}")

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("watching "):
                self.ready.set()

    def stop(self, outcome: Outcome) -> None:
        """SIGTERM, as Ctrl-C would: the batch in flight finishes, and the exit is clean."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        self.reader.join()
        if code != 0:
            outcome.failures.append(f"watch exited with {code}: {self.lines[-5:]}")
        for line in self.lines:
            if line.startswith("codesearch: ") and BUSY not in line or "Traceback" in line:
                outcome.failures.append(f"watch said: {line}")


def _start_readers(root: Path, workdir: Path) -> list[subprocess.Popen]:
    """READERS ask loops, started together and each waited for until it has imported."""
    readers = [
        subprocess.Popen(
            [sys.executable, str(TESTS / "ask_loop.py"), str(root / ".codesearch"),
             str(workdir / f"answers-{number}.jsonl"), str(workdir / "stop"), str(number)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for number in range(READERS)
    ]
    for reader in readers:
        assert reader.stdout is not None and reader.stdout.readline() == "ready\n"
    return readers


def _edit(root: Path, scratch: Path, edits: dict[int, int], stop: threading.Event, outcome: Outcome) -> None:
    """Save the hot files in turn, as editors do (write elsewhere, rename over); every 7th save deletes instead."""
    scratch.mkdir(exist_ok=True)
    hot = list(edits)
    while not stop.is_set():
        number = hot[outcome.edits % len(hot)]
        target = root / path_of(number)
        if outcome.edits % 7 == 3 and target.exists():
            target.unlink()
        else:
            edits[number] += 1
            temporary = scratch / f"{number}.py"
            temporary.write_text(module(number, edits[number]))
            os.replace(temporary, target)
        outcome.edits += 1
        time.sleep(EDIT_PAUSE_S)


def _index_attempts(root: Path, stop: threading.Event, outcome: Outcome) -> None:
    """`codesearch index` now and then: it must run, or say in one line that a writer is busy."""
    while not stop.is_set():
        result = subprocess.run(
            [sys.executable, "-m", "codesearch", "index", str(root), "--quiet"], capture_output=True, text=True, timeout=120
        )
        outcome.index_attempts += 1
        if result.returncode != 0 and not (result.returncode == 2 and BUSY in result.stderr and result.stderr.count("\n") == 1):
            outcome.failures.append(f"index attempt exited with {result.returncode}: {result.stderr.strip()}")
        stop.wait(INDEX_EVERY_S)


def _wait_until_synced(root: Path, outcome: Outcome, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while files_out_of_step(root / ".codesearch", root):
        if time.monotonic() > deadline:
            outcome.failures.append(f"watch left files unsynced: {files_out_of_step(root / '.codesearch', root)}")
            return
        time.sleep(0.1)


def _check_answers(workdir: Path, versions: Versions, outcome: Outcome) -> None:
    for answers in sorted(workdir.glob("answers-*.jsonl")):
        for line in answers.read_text().splitlines():
            record = json.loads(line)
            outcome.queries += 1
            problem = _problem(record, versions)
            if problem:
                outcome.failures.append(f"{answers.name}: {record['mode']} {record['query']!r}: {problem}")


def _problem(record: dict, versions: Versions) -> str | None:
    if record["exception"] or record["exit"] != (0 if record["hits"] else 1):  # 1: nothing matched
        return f"exit {record['exit']}: {record['exception'] or record['stderr'].strip()}"
    noise = [line for line in record["stderr"].splitlines() if not line.startswith("codesearch: notice: ")]
    if noise:
        return f"stderr: {noise}"
    wrong = mismatched_hits(record["hits"], versions)
    return f"hits no version of their file holds: {wrong}" if wrong else None


def _check_index(root: Path, workdir: Path, outcome: Outcome) -> None:
    """Consistent as the watcher left it, and after one more sync exactly what a fresh index of the files holds."""
    reference = workdir / "reference"
    shutil.copytree(root, reference, ignore=shutil.ignore_patterns(".codesearch"))
    sync(reference)
    try:
        with Searcher(root / ".codesearch") as searcher:
            searcher.search(QUERIES[0])  # as the next reader would: a reader that raced the last batch may have left an older vector file
        check_invariants(root / ".codesearch")
        sync(root)
        check_invariants(root / ".codesearch", root=root)
        assert chunk_rows(root / ".codesearch") == chunk_rows(reference / ".codesearch"), "the index differs from a fresh one"
    except AssertionError as exc:
        outcome.failures.append(f"index: {exc}")
