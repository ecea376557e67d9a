"""Keep an index in step with its files: file-system events, debounced into `sync(paths=...)` batches.

Two threads meet in `_Pending`. Watchdog's thread turns each event into paths relative to the
root, dropping what can never be indexed (ignored paths, the index's own files, editors'
scratch files), and files them. The thread in `Watcher.run` takes them as batches and syncs
one batch at a time, so syncs never overlap and the index sees the same incremental path as
`codesearch index`.

Debounce: a batch starts once events pause for QUIET_S, or MAX_DELAY_S after its first event
when they never pause. An editor's save (temp file + rename, or backup + rewrite) lands in one
batch and is searchable a fraction of a second later; a `git checkout` of thousands of files
becomes a few batches, each split by sync into short transactions.

Lock policy: the writer lock is held per batch (sync takes it), not for the watcher's life,
so `codesearch index`, even `--full`, runs while a watcher idles, waiting at most for the
batch in flight; a batch that finds the lock taken is retried. `watch.lock`, held for life,
keeps a second watcher off the same index.

Nothing is lost: a batch that fails (embedder down, index busy, disk full) goes back to the
pending paths and is retried with exponential backoff; an unreadable file is reported and
skipped. A change to an ignore file re-reads the rules and runs a full sync, which moves newly
ignored files out of the index and un-ignored ones in. Changes still pending at shutdown are
picked up by the next sync, which compares every file's stat with the index.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from codesearch.chunker import MAX_LINES
from codesearch.errors import CodesearchError
from codesearch.files import DEFAULT_MAX_BYTES, IgnoreRules
from codesearch.embedders import EmbedderSpec
from codesearch.indexer import CHUNK_SIZE_KEY, EmbedderMismatch, KeptVectors, Progress, SyncReport, sync
from codesearch.languages import detect_language, needs_head
from codesearch.locate import index_dir_for_root, prepare_index_dir
from codesearch.lock import watch_lock
from codesearch.stores import open_reader, target_for
from codesearch.text import plural

QUIET_S = 0.1  # an editor's save is a burst of events within a few milliseconds
MAX_DELAY_S = 2.0  # a long checkout is still synced as it goes, in batches of about this span
POLL_S = 1.0  # the polling fallback's interval
LOCK_WAIT_S = 1.0  # a batch waits this long for `index` to finish before it is put back
RETRY_FIRST_S = 1.0  # backoff after a failed batch: doubles per failure...
RETRY_MAX_S = 60.0  # ...up to this
WAKE_S = 0.25  # see _Pending.take
SHOWN_PATHS = 3  # a batch's notice names this many of its paths, then counts the rest

IGNORE_FILES = frozenset({".gitignore", ".codesearchignore"})
GIT_EXCLUDE = ".git/info/exclude"
# Editors' swap, backup, lock and probe files (vim's `4913` tests that a directory is writable).
# Most have no language and would be dropped anyway; these are named so they never cost a batch.
EDITOR_SCRATCH = ("*.swp", "*.swo", "*.swx", "*~", "4913", ".#*", "#*#")
_WATCHED_EVENTS = [
    FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent, FileAttribEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]
"""The events that can change what a file holds or whether it exists, and the only ones asked of
the platform: unfiltered, inotify also reports every open and every read-only close, and on a
tree the size of Linux a full sync's own directory listings then overflowed the kernel's event
queue, which started another full sync, for ever."""
_WATCH_LIMIT_FILE = "/proc/sys/fs/inotify/max_user_watches"
_OVERFLOW_LOGGER = "watchdog.observers.inotify_c"

# Watchdog's own bookkeeping, raised when directories appear faster than it registers them;
# it recovers by itself and the warning would only confuse whoever reads `watch` output.
warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning, module=r"watchdog\.")


@dataclass(frozen=True)
class Notice:
    """What the watcher reports; the library never prints, its caller decides what to show.

    A `warning` needs a person's attention (polling fallback, skipped file, failed batch);
    the rest narrates: ready, each synced batch with its `report` and `paths` (empty for a
    full sync), stopped.
    """

    message: str
    warning: bool = False
    report: SyncReport | None = None
    paths: tuple[str, ...] = ()


NoticeCallback = Callable[[Notice], None]


@dataclass(frozen=True)
class _Batch:
    """Paths to sync together, or everything when `full`."""

    paths: frozenset[str]
    full: bool


class Watcher:
    """Watches one root and keeps its index fresh; `run` blocks until `stop` is called.

    `on_notice` is called from the thread in `run`, and from watchdog's thread for the one
    notice that starts there (lost events).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        index_dir: Path | None = None,
        store: str | None = None,
        repo: str | None = None,
        poll: bool = False,
        on_notice: NoticeCallback | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        quiet_s: float = QUIET_S,
        max_delay_s: float = MAX_DELAY_S,
        ignore: Iterable[str] = (),
        languages: Collection[str] | None = None,
        chunk_size: int = MAX_LINES,
        spec: EmbedderSpec | None = None,
    ) -> None:
        """`spec`, when given, is the embedder the settings choose: an index built with another
        is refused (EmbedderMismatch ends `run`), as `codesearch index` refuses it. `store` and
        `repo` write to a store instead of the local index (see `indexer.sync`); the watch lock
        stays in the local index directory, so that two watchers of one checkout never race."""
        self.root = Path(root).absolute()
        if not self.root.is_dir():
            raise CodesearchError(f"path not found or not a directory: {self.root}")
        self.index_dir = index_dir_for_root(self.root, index_dir)
        self.poll = poll
        self.max_bytes = max_bytes
        self.settings = {
            "ignore": tuple(ignore), "languages": languages, "chunk_size": chunk_size, "spec": spec,
            "store": store, "repo": repo,
        }
        """The configured embedder, file and chunk settings and the store, passed through to every sync."""
        self.ready = threading.Event()
        """Set once the first full sync is done and events are being followed."""
        self._building: Progress | None = Progress() if _never_built(self.root, store or self.index_dir, repo) else None
        """The first sync's progress while it builds an index no sync ever completed; see `building`."""
        self._notify = on_notice or (lambda _notice: None)
        self._pending = _Pending(quiet_s, max_delay_s)
        self._events = _EventFilter(self.root, self.index_dir, self._pending, tuple(ignore))
        self._failures = 0
        self._kept = KeptVectors()

    def run(self) -> None:
        """Sync everything, then each batch of changes, until `stop`; the index stays whole."""
        try:
            prepare_index_dir(self.index_dir)
            with watch_lock(self.index_dir), self._observing():
                self._pending.add((), full=True)
                while (batch := self._pending.take()) is not None:
                    self._sync(batch)
        finally:
            self._building = None  # stopped, or never started (another watcher holds the index)
        self._notify(Notice("stopped"))

    def stop(self) -> None:
        """Let the batch in flight finish, then make `run` return; safe from any thread or a signal handler."""
        self._pending.close()

    def building(self, wait: float = 0.0) -> Progress | None:
        """While the first sync builds an index that no sync ever completed, where it stands, after
        waiting up to `wait` seconds for it to finish; None once the index is whole or nothing
        builds it. Readers use it not to take a half-built index's missing files for no match.
        Safe from any thread.
        """
        if self._building is not None:
            self.ready.wait(wait)
        return self._building

    @contextmanager
    def _observing(self) -> Iterator[None]:
        """Events flow into the pending paths while the block runs, news of lost ones included."""
        log = _WatchdogLog(self._events_lost)
        logger = logging.getLogger("watchdog")
        logger.addHandler(log)
        try:
            observer = self._started_observer()
            try:
                yield
            finally:
                observer.stop()
                observer.join()
        finally:
            logger.removeHandler(log)

    def _events_lost(self) -> None:
        self._notify(Notice("the kernel dropped file events (inotify queue overflow); syncing everything", warning=True))
        self._pending.add((), full=True)

    def _started_observer(self) -> BaseObserver:
        """`_start_observer`, or one line where the tree is too deep for it: watchdog and
        `os.walk` (Python 3.11) walk directories recursively, about a thousand levels at most."""
        try:
            return self._start_observer()
        except RecursionError:
            raise CodesearchError(
                f"{self.root} is too deeply nested to watch (file events are set up one directory level "
                "at a time, recursively); index it with `codesearch index` instead"
            ) from None

    def _start_observer(self) -> BaseObserver:
        """Native events when the platform has them and the watch limit allows, else polling.

        Observers start before the first sync, so a change made while it runs is not missed.
        """
        if not self.poll:
            try:
                _check_watch_limit(self.root)
                return _started(Observer(), self._events, self.root)
            except OSError as exc:
                self._notify(Notice(f"native file events unavailable ({exc.strerror or exc}); polling every {POLL_S:g} s instead", warning=True))
        return _started(PollingObserverVFS(os.stat, self._events.listdir, polling_interval=POLL_S), self._events, self.root)

    def _sync(self, batch: _Batch) -> None:
        """One batch through sync; on any failure its paths go back for a later retry."""
        paths = None if batch.full else sorted(batch.paths)
        try:
            report = sync(
                self.root, index_dir=self.index_dir, max_bytes=self.max_bytes, paths=paths,
                on_skip=self._skipped, writer="watch", wait=LOCK_WAIT_S, kept=self._kept, progress=self._progressed,
                **self.settings,
            )
        except EmbedderMismatch:
            raise  # no retry changes which embedder built the index
        except Exception as exc:  # whatever else the cause, the watcher outlives the batch and retries it
            self._retry_later(batch, exc)
            return
        self._failures = 0
        self._notify(Notice(_describe(report, paths), report=report, paths=tuple(paths or ())))
        if not self.ready.is_set():
            self._building = None
            self.ready.set()
            self._notify(Notice(f"watching {self.root} (Ctrl-C stops)"))

    def _retry_later(self, batch: _Batch, exc: Exception) -> None:
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2**self._failures)
        self._failures += 1
        self._pending.put_back(batch, delay)
        kept = "a full sync" if batch.full else f"{len(batch.paths):,} changed paths"
        reason = str(exc) if isinstance(exc, CodesearchError) else f"{type(exc).__name__}: {exc}"
        self._notify(Notice(f"sync failed, {kept} kept for a retry in {delay:g} s: {reason}", warning=True))

    def _progressed(self, progress: Progress) -> None:
        """A copy for `building` while the index is being built: sync goes on changing its own."""
        if self._building is not None:
            self._building = replace(progress)

    def _skipped(self, path: str, reason: str) -> None:
        """Only unreadable files are news; size, binary and symlink skips are policy."""
        if reason == "unreadable":
            self._notify(Notice(f"skipped {path}: unreadable", warning=True))


class _Pending:
    """Paths waiting for a sync, filed by the observer thread and taken by the sync loop."""

    def __init__(self, quiet_s: float, max_delay_s: float) -> None:
        self._quiet_s, self._max_delay_s = quiet_s, max_delay_s
        self._changed = threading.Condition()
        self._paths: set[str] = set()
        self._full = False
        self._first = self._last = self._not_before = 0.0
        self._closed = False

    def add(self, paths: Iterable[str], *, full: bool = False) -> None:
        with self._changed:
            now = time.monotonic()
            if not self._paths and not self._full:
                self._first = now
            self._paths.update(paths)
            self._full = self._full or full
            self._last = now
            self._changed.notify_all()

    def put_back(self, batch: _Batch, delay: float) -> None:
        """A failed batch: pending again, and nothing is taken before `delay` seconds pass."""
        self.add(batch.paths, full=batch.full)
        with self._changed:
            self._not_before = time.monotonic() + delay

    def take(self) -> _Batch | None:
        """Block until a batch is due and return it; None once closed.

        Waits in slices of at most WAKE_S: Python runs signal handlers in the main thread
        between bytecodes, and a signal the kernel hands to another thread does not interrupt
        a lock wait, so an unbounded wait could leave Ctrl-C unanswered.
        """
        with self._changed:
            while not self._closed:
                due = self._due()
                now = time.monotonic()
                if due is not None and now >= due:
                    batch = _Batch(frozenset(self._paths), self._full)
                    self._paths, self._full = set(), False
                    return batch
                self._changed.wait(WAKE_S if due is None else min(WAKE_S, due - now))
            return None

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _due(self) -> float | None:
        """When the pending batch may start: after a pause, or at the latest MAX_DELAY_S after its first event."""
        if not self._paths and not self._full:
            return None
        return max(self._not_before, min(self._last + self._quiet_s, self._first + self._max_delay_s))


class _EventFilter(FileSystemEventHandler):
    """Runs on watchdog's thread: events in, relative paths worth a sync out."""

    def __init__(self, root: Path, index_dir: Path, pending: _Pending, ignore: tuple[str, ...] = ()) -> None:
        self.root, self.index_dir, self.pending, self.ignore = root, index_dir, pending, ignore
        self.rules = IgnoreRules(root, index_dir, ignore)

    def on_any_event(self, event: FileSystemEvent) -> None:
        for path in (event.src_path, event.dest_path):
            if path:
                self._note(os.fsdecode(path), event.is_directory)

    def listdir(self, path: str) -> Iterator[os.DirEntry[str]]:
        """The polling observer's directory listing, without ignored directories: polling never
        walks node_modules or .git, and never reports changes in them.
        """
        with os.scandir(path) as scan:
            entries = list(scan)
        for entry in entries:
            if not (entry.is_dir(follow_symlinks=False) and self.rules.is_ignored(self._relative(entry.path), is_dir=True)):
                yield entry

    def _note(self, path: str, is_dir: bool) -> None:
        relpath = self._relative(path)
        if relpath == "." or relpath.split("/")[0] == "..":
            return
        if self._is_ignore_file(relpath):
            self.rules = IgnoreRules(self.root, self.index_dir, self.ignore)
            self.pending.add((), full=True)
        elif not self.rules.is_ignored(relpath, is_dir) and (is_dir or _may_be_source(relpath)):
            self.pending.add((relpath,))

    def _is_ignore_file(self, relpath: str) -> bool:
        """An ignore file that counts: not one inside an ignored directory (say node_modules)."""
        parent, _, name = relpath.rpartition("/")
        return relpath == GIT_EXCLUDE or (name in IGNORE_FILES and not (parent and self.rules.is_ignored(parent, is_dir=True)))

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")


class _WatchdogLog(logging.Handler):
    """Takes watchdog's log while watching, so none of it reaches the terminal raw (such as its
    stop-time race chatter, "queue_events() called when the thread is inactive").

    The one record acted on: an inotify queue overflow, which watchdog reports only here.
    Events were lost, so everything is synced again rather than trusting those that arrived.
    """

    def __init__(self, on_lost: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_lost = on_lost

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == _OVERFLOW_LOGGER and "overflowed" in record.getMessage():
            self.on_lost()


@contextmanager
def stop_on_signals(watcher: Watcher) -> Iterator[None]:
    """Main thread only: the first Ctrl-C or SIGTERM lets the batch in flight finish and stops
    the watcher; a second one interrupts at once (KeyboardInterrupt; finished batches stay).
    """
    stop_signals = (signal.SIGINT, signal.SIGTERM)

    def first(_signum: int, _frame: object) -> None:
        for number in stop_signals:
            signal.signal(number, signal.default_int_handler)
        watcher.stop()

    previous = {number: signal.signal(number, first) for number in stop_signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _started(observer: BaseObserver, handler: FileSystemEventHandler, root: Path) -> BaseObserver:
    observer.schedule(handler, str(root), recursive=True, event_filter=_WATCHED_EVENTS)
    observer.start()
    return observer


def _check_watch_limit(root: Path) -> None:
    """Raise ENOSPC when the tree has more directories than inotify may watch.

    Watchdog watches every directory, ignored ones included, and silently skips those past
    the limit, whose changes would then be lost; better to poll from the start.
    """
    limit = _inotify_watch_limit()
    if limit is None:
        return
    directories = 1
    for _dirpath, dirnames, _files in os.walk(root):
        directories += len(dirnames)
        if directories > limit:
            raise OSError(errno.ENOSPC, f"the inotify watch limit ({limit:,}) is below the number of directories; raise fs.inotify.max_user_watches")


def _inotify_watch_limit() -> int | None:
    """fs.inotify.max_user_watches, or None where there is no inotify."""
    try:
        with open(_WATCH_LIMIT_FILE) as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def _may_be_source(relpath: str) -> bool:
    """Whether a file with this name could be indexed: not editor scratch, and a language by
    name (or an extensionless name, which may be a script with a shebang).
    """
    name = relpath.rpartition("/")[2]
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in EDITOR_SCRATCH):
        return False
    return detect_language(name) is not None or needs_head(name)


def _never_built(root: Path, location: str | Path, repo: str | None) -> bool:
    """Whether no full sync ever completed on the index (each records the chunk size it used).
    An index that cannot be read counts as built: what is wrong with it is for readers to report.
    """
    try:
        reader = open_reader(location, repos=[repo or root.name])
    except CodesearchError:
        return not target_for(root, location, repo=repo).has_index()
    try:
        return reader.get_meta(CHUNK_SIZE_KEY) is None
    finally:
        reader.close()


def _describe(report: SyncReport, paths: list[str] | None) -> str:
    """One line per batch for --verbose: which paths (the first few by name), and what changed."""
    scope = "full sync" if paths is None else _named(paths)
    return (
        f"{scope}: {plural(report.files_changed, 'file')} changed, {report.files_deleted:,} deleted, "
        f"{plural(report.chunks_written, 'chunk')} written ({report.embedded:,} embedded) in {report.seconds * 1000:.0f} ms"
    )


def _named(paths: list[str]) -> str:
    """`a.py, b.py, c.py and 4 more`: enough to recognise an edit without a checkout filling the screen."""
    more = len(paths) - SHOWN_PATHS
    return ", ".join(paths[:SHOWN_PATHS]) + (f" and {more:,} more" if more > 0 else "")

