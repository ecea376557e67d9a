"""`codesearch watch`: a real watcher on a temporary repository, real file operations, and
every expectation checked through search results.

Most tests run the watcher in a thread (fast); a few run `codesearch watch` as a process, on a
pipe or on a pseudo-terminal, and stop it with a signal. Expected states are polled for with a
timeout, never slept for.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import ask_json, function, indexed_paths
from codesearch import watcher as watcher_module
from codesearch.embedders.static import StaticEmbedder
from codesearch.errors import CodesearchError
from codesearch.files import SkipFile, SourceFile
from codesearch.lock import IndexBusy, writer_lock
from codesearch.searcher import Searcher
from codesearch.watcher import Notice, Watcher

TIMEOUT_S = 15.0

# Watchdog's bookkeeping noise when directories appear fast; codesearch.watcher silences it,
# but pytest resets warning filters for each test.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


@dataclass
class Watching:
    """A watcher running in a thread over `root`, and what it has reported so far."""

    root: Path
    watcher: Watcher
    notices: list[Notice]

    def batches(self) -> list[tuple[str, ...]]:
        """The paths of each batch synced so far (full syncs left out)."""
        return [n.paths for n in self.notices if n.report is not None and n.paths]

    def warnings(self) -> list[str]:
        return [n.message for n in self.notices if n.warning]

    def synced(self, path: str) -> None:
        """Wait until a batch holding `path` has been synced."""

        def in_a_batch() -> bool:
            return any(path in batch for batch in self.batches())

        eventually(in_a_batch)


def eventually(check: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    """Wait until `check()` holds; fail once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {check.__name__}"
        time.sleep(0.05)


def found(root: Path, query: str, k: int = 20) -> set[tuple[str, str]]:
    """(path, symbol) of each hit a fresh reader gets, as `ask` would."""
    with Searcher(root / ".codesearch") as searcher:
        return {(hit.path, hit.symbol) for hit in searcher.search(query, k).hits}


def start_watching(root: Path, **options: object) -> tuple[Watching, threading.Thread]:
    notices: list[Notice] = []
    watcher = Watcher(root, on_notice=notices.append, **options)
    thread = threading.Thread(target=watcher.run, name="watcher", daemon=True)
    thread.start()
    assert watcher.ready.wait(TIMEOUT_S), notices
    return Watching(root, watcher, notices), thread


def stop_watching(watching: Watching, thread: threading.Thread) -> None:
    watching.watcher.stop()
    thread.join(TIMEOUT_S)
    assert not thread.is_alive()


@pytest.fixture
def watching(repo: Path) -> Iterator[Watching]:
    state, thread = start_watching(repo)
    yield state
    stop_watching(state, thread)


def test_initial_sync_indexes_the_tree(watching: Watching) -> None:
    assert ("src/mathutil.py", "fibonacci") in found(watching.root, "fibonacci")
    assert "build/generated.py" not in indexed_paths(watching.root)


def test_created_file_in_new_directories_becomes_searchable(watching: Watching) -> None:
    target = watching.root / "pkg/deep/er/shapes.py"
    target.parent.mkdir(parents=True)
    target.write_text(function("area_of_hexagon"))

    def hexagon_found() -> bool:
        return ("pkg/deep/er/shapes.py", "area_of_hexagon") in found(watching.root, "area of hexagon")

    eventually(hexagon_found)


def test_modified_file_replaces_its_chunks(watching: Watching) -> None:
    target = watching.root / "src/mathutil.py"
    target.write_text(target.read_text().replace("def is_prime(", "def is_odd_prime("))

    def renamed() -> bool:
        symbols = {symbol for _path, symbol in found(watching.root, "prime number")}
        return "is_odd_prime" in symbols and "is_prime" not in symbols

    eventually(renamed)


def test_atomic_rename_save(watching: Watching) -> None:
    target = watching.root / "src/mathutil.py"
    temp = watching.root / "src/.mathutil.py.tmp-1234"
    temp.write_text(function("lucas_number"))
    os.replace(temp, target)

    def replaced() -> bool:
        hits = found(watching.root, "fibonacci lucas number")
        return ("src/mathutil.py", "lucas_number") in hits and ("src/mathutil.py", "fibonacci") not in hits

    eventually(replaced)
    assert not any(".tmp" in path for batch in watching.batches() for path in batch)


def test_vim_style_save_with_backup_and_probe_files(watching: Watching) -> None:
    src = watching.root / "src"
    (src / "4913").write_text("")
    (src / "4913").unlink()
    (src / ".jsonutil.py.swp").write_bytes(b"b0VIM 9.0\0")
    os.rename(src / "jsonutil.py", src / "jsonutil.py~")
    (src / "jsonutil.py").write_text(function("parse_yaml_document"))
    (src / "jsonutil.py~").unlink()
    (src / ".jsonutil.py.swp").unlink()

    def saved() -> bool:
        return ("src/jsonutil.py", "parse_yaml_document") in found(watching.root, "parse yaml document")

    eventually(saved)
    watching.synced("src/jsonutil.py")
    assert indexed_paths(watching.root) == {"src/jsonutil.py", "src/mathutil.py", "web/debounce.js", "net/fetch.go", "README.md"}
    scratch = {"src/4913", "src/jsonutil.py~", "src/.jsonutil.py.swp"}
    assert not scratch & {path for batch in watching.batches() for path in batch}


def test_deleted_file_leaves_the_index(watching: Watching) -> None:
    (watching.root / "web/debounce.js").unlink()

    def gone() -> bool:
        return all(path != "web/debounce.js" for path, _symbol in found(watching.root, "debounce", k=50))

    eventually(gone)


def test_moved_directory_moves_its_files(watching: Watching) -> None:
    package = watching.root / "geometry"
    package.mkdir()
    for index in range(5):
        (package / f"shape{index}.py").write_text(function(f"polygon_area_{index}"))
    eventually(lambda: {f"geometry/shape{i}.py" for i in range(5)} <= indexed_paths(watching.root))
    shutil.move(package, watching.root / "src/geo")

    def moved() -> bool:
        paths = {path for path, symbol in found(watching.root, "polygon area", k=50) if symbol.startswith("polygon_area")}
        return paths == {f"src/geo/shape{i}.py" for i in range(5)}

    eventually(moved)


def test_ignore_file_changes_move_files_out_and_in(watching: Watching) -> None:
    gitignore = watching.root / ".gitignore"
    gitignore.write_text("build/\nsrc/\n")

    def src_out() -> bool:
        paths = indexed_paths(watching.root)
        return not any(path.startswith("src/") for path in paths) and "web/debounce.js" in paths

    eventually(src_out)
    gitignore.write_text("")

    def all_in() -> bool:
        return {"src/mathutil.py", "build/generated.py"} <= indexed_paths(watching.root)

    eventually(all_in)
    assert ("build/generated.py", "generated_helper") in found(watching.root, "generated helper")


def test_codesearchignore_in_a_subdirectory_counts(watching: Watching) -> None:
    (watching.root / "web/.codesearchignore").write_text("*.js\n")
    eventually(lambda: "web/debounce.js" not in indexed_paths(watching.root))


def test_ignored_paths_and_the_index_never_trigger_work(watching: Watching) -> None:
    root = watching.root
    (root / "build/more.py").write_text(function("ignored_builder"))
    (root / "node_modules/left-pad").mkdir(parents=True)
    (root / "node_modules/left-pad/index.js").write_text("module.exports = 1;\n")
    (root / ".codesearch/scratch.txt").write_text("not source\n")
    (root / "src/notes.swp").write_text("swap\n")
    (root / "sentinel.py").write_text(function("sentinel_marker"))
    watching.synced("sentinel.py")
    assert {path for batch in watching.batches() for path in batch} == {"sentinel.py"}


def test_file_vanishing_between_event_and_read_is_no_error(watching: Watching) -> None:
    flicker = watching.root / "src/flicker.py"
    for _ in range(30):
        flicker.write_text(function("flickering"))
        flicker.unlink()
    (watching.root / "sentinel.py").write_text(function("sentinel_marker"))
    watching.synced("sentinel.py")
    assert "src/flicker.py" not in indexed_paths(watching.root)
    assert watching.warnings() == []


def test_unreadable_file_is_reported_and_skipped(watching: Watching, monkeypatch: pytest.MonkeyPatch) -> None:
    from codesearch import prepare

    real_read = prepare.read_source

    def read(source: SourceFile, max_bytes: int) -> bytes:
        if source.path == "src/secret.py":
            raise SkipFile("unreadable")
        return real_read(source, max_bytes)

    monkeypatch.setattr(prepare, "read_source", read)
    (watching.root / "src/secret.py").write_text(function("hidden_secret"))
    (watching.root / "src/open.py").write_text(function("open_secret"))
    eventually(lambda: "src/open.py" in indexed_paths(watching.root))
    assert "src/secret.py" not in indexed_paths(watching.root)
    assert "skipped src/secret.py: unreadable" in watching.warnings()


def test_embedder_failure_keeps_changes_and_retries(watching: Watching, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher_module, "RETRY_FIRST_S", 0.1)
    real_embed = StaticEmbedder.embed
    down = threading.Event()
    down.set()

    def embed(self: StaticEmbedder, texts: list[str], task: str) -> np.ndarray:
        if down.is_set():
            raise ConnectionError("embedding API unreachable")
        return real_embed(self, texts, task)

    monkeypatch.setattr(StaticEmbedder, "embed", embed)
    (watching.root / "src/retry.py").write_text(function("retried_function"))
    eventually(lambda: len(watching.warnings()) >= 2)
    assert "src/retry.py" not in indexed_paths(watching.root)
    assert "kept for a retry" in watching.warnings()[0] and "embedding API unreachable" in watching.warnings()[0]
    down.clear()
    eventually(lambda: ("src/retry.py", "retried_function") in found(watching.root, "retried function"))


def test_lost_events_start_a_full_sync(watching: Watching) -> None:
    full_syncs = sum(1 for n in watching.notices if n.report is not None and not n.paths)
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")

    def synced_again() -> bool:
        return sum(1 for n in watching.notices if n.report is not None and not n.paths) > full_syncs

    eventually(synced_again)
    assert any("inotify queue overflow" in message for message in watching.warnings())



_INOTIFY_READS = 0x1 | 0x10 | 0x20  # IN_ACCESS, IN_CLOSE_NOWRITE, IN_OPEN


def inotify_masks() -> list[int]:
    """The event mask of every inotify watch this process holds, as Linux lists them in /proc."""
    masks = []
    for info in Path("/proc/self/fdinfo").iterdir():
        try:
            lines = info.read_text().splitlines()
        except OSError:  # the fd of the listing itself, closed by now
            continue
        for line in lines:
            if line.startswith("inotify wd:"):
                masks += [int(part.removeprefix("mask:"), 16) for part in line.split() if part.startswith("mask:")]
    return masks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_native_watches_never_ask_for_opens_or_reads(watching: Watching) -> None:
    """Reading a file changes nothing, and on the Linux tree the events of a full sync's own
    directory listings overflowed the kernel's queue, which started another full sync, for ever."""
    masks = inotify_masks()
    assert masks
    assert not [hex(mask) for mask in masks if mask & _INOTIFY_READS]

def test_index_runs_while_the_watcher_idles(watching: Watching, cli) -> None:
    result = cli("index", watching.root, "--json")
    assert result.exit_code == 0, result.output
    (watching.root / "after.py").write_text(function("after_index"))
    eventually(lambda: "after.py" in indexed_paths(watching.root))


def test_batch_waits_out_another_writer(watching: Watching, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher_module, "LOCK_WAIT_S", 0.1)
    monkeypatch.setattr(watcher_module, "RETRY_FIRST_S", 0.1)
    with writer_lock(watching.root / ".codesearch", "index"):
        (watching.root / "during.py").write_text(function("written_during_index"))
        eventually(lambda: any("(pid" in message and "index) is writing this index" in message for message in watching.warnings()))
    eventually(lambda: "during.py" in indexed_paths(watching.root))


def test_second_watcher_on_the_same_index_is_refused(watching: Watching) -> None:
    with pytest.raises(IndexBusy, match=rf"pid {os.getpid()}, watch\) is already watching this index"):
        Watcher(watching.root).run()


def test_stop_returns_promptly_and_frees_the_index(repo: Path) -> None:
    state, thread = start_watching(repo)
    started = time.monotonic()
    stop_watching(state, thread)
    assert time.monotonic() - started < 2
    assert state.notices[-1].message == "stopped"
    again, thread = start_watching(repo)
    stop_watching(again, thread)


def test_falls_back_to_polling_at_the_watch_limit(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher_module, "_inotify_watch_limit", lambda: 1)
    state, thread = start_watching(repo)
    try:
        assert any("polling every" in message and "inotify watch limit" in message for message in state.warnings())
        (repo / "polled.py").write_text(function("found_by_polling"))
        (repo / "node_modules/pkg").mkdir(parents=True)
        (repo / "node_modules/pkg/index.js").write_text("module.exports = 1;\n")
        eventually(lambda: ("polled.py", "found_by_polling") in found(repo, "found by polling"))
        assert all("node_modules" not in path for batch in state.batches() for path in batch)
    finally:
        stop_watching(state, thread)


READER = """
import json, sys, time
from pathlib import Path
from codesearch.searcher import Searcher
index, stop = Path(sys.argv[1]), Path(sys.argv[2])
queries, errors = 0, []
while not stop.exists():
    try:
        with Searcher(index) as searcher:
            for query in ("burst function", "fibonacci", "parse json"):
                searcher.search(query, 5)
                queries += 1
    except Exception as exc:
        errors.append(repr(exc))
print(json.dumps({"queries": queries, "errors": errors}))
"""


@pytest.mark.slow  # flaky in the full fast suite (2 of 5 runs): deletion of the burst not seen within 30 s; see the 2026-11-24 note
def test_burst_of_2000_files_with_a_reader_throughout(watching: Watching, tmp_path: Path) -> None:
    stop = tmp_path / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(watching.root / ".codesearch"), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        burst = watching.root / "burst"
        for index in range(2000):
            folder = burst / f"d{index // 100:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{index:04d}.py").write_text(function(f"burst_function_{index}"))

        def all_indexed() -> bool:
            return sum(path.startswith("burst/") for path in indexed_paths(watching.root)) == 2000

        eventually(all_indexed, timeout=30)
        assert ("burst/d19/f1999.py", "burst_function_1999") in found(watching.root, "burst_function_1999")
        assert len(watching.batches()) <= 10
        shutil.rmtree(burst)
        try:
            eventually(lambda: not any(path.startswith("burst/") for path in indexed_paths(watching.root)), timeout=30)
        except AssertionError:
            left = sum(path.startswith("burst/") for path in indexed_paths(watching.root))
            raise AssertionError(f"{left} burst files still indexed; warnings {watching.warnings()[-5:]}; last batches {[len(b) for b in watching.batches()[-5:]]}")
    finally:
        stop.touch()  # the reader stops even when an assertion failed
    out, _ = reader.communicate(timeout=TIMEOUT_S)
    summary = json.loads(out)
    assert summary["errors"] == []
    assert summary["queries"] > 10


def first_sync_done(repo: Path) -> bool:
    """Whether the watch process has indexed the repository (its database may be half made)."""
    try:
        return "src/mathutil.py" in indexed_paths(repo)
    except CodesearchError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_watch_command_follows_changes_and_stops_cleanly(repo: Path, cli, stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "codesearch", "watch", str(repo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        eventually(lambda: first_sync_done(repo))
        (repo / "src/strings.py").write_text(function("reverse_words"))

        def answered() -> bool:
            return any(hit["symbol"] == "reverse_words" for hit in ask_json(cli, "reverse words", "--index", repo)["results"])

        eventually(answered)
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
    assert (process.returncode, out, err) == (0, "", "")
    report = json.loads(cli("index", repo, "--json").stdout)
    assert (report["files_changed"], report["files_deleted"]) == (0, 0)


def test_watch_command_verbose_prints_each_batch(repo: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "codesearch", "watch", str(repo), "--verbose", "--poll"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        eventually(lambda: first_sync_done(repo))
        (repo / "src/strings.py").write_text(function("reverse_words"))
        eventually(lambda: "src/strings.py" in indexed_paths(repo))
        process.terminate()
        _, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
    lines = err.splitlines()
    assert lines[0].startswith("full sync: 5 files changed, 0 deleted,")
    assert lines[1] == f"watching {repo} (Ctrl-C stops)"
    assert any(line.startswith("src/strings.py: 1 file changed, 0 deleted, 1 chunk written (1 embedded) in ") for line in lines)
    assert lines[-1] == "stopped"


def test_a_batch_notice_names_a_few_paths_and_counts_the_rest(repo: Path) -> None:
    state, thread = start_watching(repo, quiet_s=1.0)  # the five saves below land in one batch
    try:
        names = [f"src/many_{i}.py" for i in range(5)]
        for name in names:
            (repo / name).write_text(function(Path(name).stem))
        state.synced(names[0])
    finally:
        stop_watching(state, thread)
    (message,) = [notice.message for notice in state.notices if names[0] in notice.paths]
    assert message.startswith("src/many_0.py, src/many_1.py, src/many_2.py and 2 more: 5 files changed, 0 deleted, 5 chunks written")


@dataclass
class Terminal:
    """A process whose stdin, stdout and stderr are one pseudo-terminal, and what it wrote there."""

    process: subprocess.Popen
    master: int
    output: str = ""

    def shows(self, text: str) -> None:
        """Read until `text` appears; fail once TIMEOUT_S pass or the terminal is closed."""
        deadline = time.monotonic() + TIMEOUT_S
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"not within {TIMEOUT_S} s: {text!r} in {self.output!r}"
            if select.select([self.master], [], [], left)[0]:
                written = self._read()
                assert written, f"the terminal closed before {text!r}: {self.output!r}"
                self.output += written

    def finish(self) -> int:
        """Wait for the process to exit, read the rest of what it wrote, and return its exit status."""
        status = self.process.wait(TIMEOUT_S)
        while select.select([self.master], [], [], 0)[0] and (written := self._read()):
            self.output += written
        return status

    def lines(self) -> list[str]:
        return self.output.replace("\r\n", "\n").splitlines()

    def _read(self) -> str:
        """What is there to read; "" once every process holding the terminal closed it (Linux: EIO)."""
        try:
            return os.read(self.master, 4096).decode()
        except OSError:
            return ""


@contextmanager
def on_a_terminal(*args: str | Path) -> Iterator[Terminal]:
    """`codesearch ARGS...` on a pseudo-terminal, as run from an interactive shell."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "codesearch", *map(str, args)], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    try:
        yield Terminal(process, master)
    finally:
        process.kill()
        process.wait(TIMEOUT_S)
        os.close(master)


def test_watch_on_a_terminal_says_what_it_synced_that_it_watches_and_that_it_stopped(repo: Path) -> None:
    with on_a_terminal("watch", repo) as terminal:
        terminal.shows(f"watching {repo} (Ctrl-C stops)")
        (repo / "src/strings.py").write_text(function("reverse_words"))
        eventually(lambda: "src/strings.py" in indexed_paths(repo))
        terminal.process.send_signal(signal.SIGINT)
        terminal.shows("stopped")
        assert terminal.finish() == 0
    first_sync, watching, stopped = terminal.lines()  # later batches only with --verbose
    assert re.fullmatch(r"full sync: \d+ files changed, 0 deleted, \d+ chunks written \(\d+ embedded\) in \d+ ms", first_sync)
    assert (watching, stopped) == (f"watching {repo} (Ctrl-C stops)", "stopped")
