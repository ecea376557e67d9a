"""The local store: SQLite (`store.Store`) as the source of truth, FAISS (`vectors`) derived
from it, in one index directory per root (`.codesearch/`), guarded by file locks (`lock`).

The writer keeps the FAISS index in step as its batches commit and saves it at the end; a
reader loads the saved file, or rebuilds it from SQLite when it is stale (see `LocalReader`).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from codesearch.embedders import EmbedderSpec, recorded_spec
from codesearch.errors import EXPECTED_FAILURES, CodesearchError
from codesearch.locate import (
    DB_NAME, UntrustedIndex, check_index_dir, find_index, index_dir_for_root, prepare_index_dir,
)
from codesearch.lock import IndexBusy, writer_active, writer_lock
from codesearch.store import Store, discard_damaged
from codesearch.stores import Allowed
from codesearch.vectors import VECTORS_NAME, VectorIndex, file_identity, remove_stale_temporaries

MEAN_SAMPLE = 20_000
"""Vectors whose mean centres the binary codes of an index rebuilt from SQLite."""


@dataclass
class KeptVectors:
    """The FAISS index a long-lived writer (a watcher) last saved, for its next sync to patch
    instead of reading the file back: on the Linux kernel the read was 0.25 s of a 0.6 s
    one-file sync. Used only while the store's generation and the file, by inode, size and
    mtime, are what they were at the save; any other writer changes one of them."""

    vectors: VectorIndex | None = None
    generation: int | None = None
    file: tuple[int, int, int] | None = None

    def current(self, generation: int, path: Path) -> VectorIndex | None:
        """The kept index while the store and the file are as they were at its save. A sync
        patches the index only after a commit, which moves the generation on, so one that
        fails half way leaves nothing here that a later sync would take."""
        return self.vectors if (self.generation, self.file) == (generation, file_identity(path)) else None

    def keep(self, vectors: VectorIndex, generation: int, path: Path) -> None:
        self.vectors, self.generation, self.file = vectors, generation, file_identity(path)


def build_vectors(store: Store, signature: str, dims: int) -> VectorIndex:
    """A fresh FAISS index from every vector in SQLite, of the kind that suits its size."""
    vectors = VectorIndex.for_size(dims, store.counts()[1], lambda: store.vector_sample(signature, MEAN_SAMPLE))
    for ids, matrix in store.chunk_vectors(signature):
        vectors.add(ids, matrix)
    return vectors


class LocalTarget:
    """An index directory that a sync of one root writes (`--index`, default ROOT/.codesearch)."""

    def __init__(self, root: Path, index_dir: Path | None, kept: KeptVectors | None) -> None:
        self.index_dir = index_dir_for_root(root, index_dir)
        self.location = str(self.index_dir)
        self.skip_dir: Path | None = self.index_dir
        self.kept = kept

    def prior(self) -> tuple[bool, EmbedderSpec | None]:
        """What an index already here says, from one open before anything is written (see
        `stores.Target.prior`). An index directory that is a link or another user's is refused
        here (CodesearchError)."""
        check_index_dir(self.index_dir)
        try:
            store = Store.open(self.index_dir)
        except UntrustedIndex:
            return True, None
        except EXPECTED_FAILURES:  # no index yet, or a damaged one: the writer's own open reports it
            return False, None
        try:
            saved = json.loads(store.get_meta("embedder") or "null")
        except (*EXPECTED_FAILURES, ValueError):
            saved = None
        finally:
            store.close()
        return False, recorded_spec(saved) if isinstance(saved, dict) else None

    def has_index(self) -> bool:
        return (self.index_dir / DB_NAME).exists()

    @contextmanager
    def writing(self, writer: str, wait: float | None, full: bool) -> Iterator[LocalWriter]:
        prepare_index_dir(self.index_dir)
        if full:
            discard_damaged(self.index_dir)
        with writer_lock(self.index_dir, writer, wait):
            if full:  # its ids name chunks that --full deletes: readers meanwhile must not serve from it
                (self.index_dir / VECTORS_NAME).unlink(missing_ok=True)
            store = LocalWriter.open(self.index_dir, create=True)
            store.kept = self.kept
            try:
                yield store
            finally:
                store.close()


def target_for(root: Path, location: str | Path | None, *, repo: str | None, kept: object) -> LocalTarget:
    """`repo` names nothing here: a local index serves one root."""
    return LocalTarget(root, Path(location) if location else None, kept if isinstance(kept, KeptVectors) else None)


class LocalWriter(Store):
    """The SQLite store of a sync, with the FAISS index it keeps in step."""

    kept: KeptVectors | None = None
    vectors: VectorIndex | None = None
    saved_generation: int | None = None
    """The generation of the vector file on disk when it was loaded current."""

    @property
    def vectors_path(self) -> Path:
        return self.path.parent / VECTORS_NAME

    def claim(self, root: Path, full: bool) -> None:
        """An index serves one root: another root's index is refused unless rebuilt (`--full`)."""
        previous = self.get_meta("root")
        if previous and previous != str(root) and not full:
            index_dir = self.path.parent
            raise CodesearchError(
                f"the index at {index_dir} belongs to {previous}; rebuild it for {root} with "
                f"`codesearch index {root} --full --index {index_dir}`"
            )
        if previous != str(root):
            with self.transaction():
                self.set_meta("root", str(root))

    def begin_vectors(self, dims: int) -> None:
        """The FAISS index to keep in step as batches commit: the saved one when it is current,
        an empty one for an empty store; None when only a rebuild from SQLite at the end will do.

        Kept in step, a first index adds each batch's vectors while they are in hand, instead
        of reading them all back and coding them after the last commit, while the workers
        stood idle (the Linux kernel: 13.4 s from the last commit to the end, now 0.5 s)."""
        remove_stale_temporaries(self.path.parent)
        generation = self.generation
        vectors = self.kept.current(generation, self.vectors_path) if self.kept else None
        if vectors is None:
            vectors = VectorIndex.load(self.vectors_path, generation, dims, self.largest_chunk_id())
        self.saved_generation = None if vectors is None else generation
        if vectors is None and self.counts()[1] == 0:
            vectors = VectorIndex(dims)
        self.vectors = vectors

    def committed(self, removed: list[int], added: list[int], vectors: np.ndarray | None, signature: str) -> None:
        """Patch FAISS only once a transaction is committed: `finish_vectors` saves the file
        even after a failed run, and a rolled-back removal removed nothing. Removals go first:
        a new chunk may reuse a removed chunk's id. Without `vectors` in hand, the added
        chunks' are read back from SQLite."""
        if self.vectors is None:
            return
        try:
            self.vectors.remove(removed)
            if vectors is not None and len(vectors) == len(added):
                self.vectors.add(np.asarray(added, dtype=np.int64), vectors)
            else:
                for ids, matrix in self.chunk_vectors(signature, added):
                    self.vectors.add(ids, matrix)
            if not self.vectors.binary and not self.vectors.suits(len(self.vectors)):
                self.vectors = self.vectors.as_binary()
        except BaseException:
            self.vectors = None  # half patched: rebuilt from SQLite at the end
            raise

    def finish_vectors(self, chunks: int, signature: str, dims: int) -> None:
        """Save the index kept in step when it suits the size, else a rebuild; nothing when no
        commit has moved the generation since the file was loaded current, as in a sync that
        found nothing to do (rewriting the kernel's 74 MB file cost 0.3-0.6 s of its 3.3 s)."""
        vectors, generation = self.vectors, self.generation
        rebuild = vectors is None or not vectors.suits(chunks)
        if rebuild:
            vectors = build_vectors(self, signature, dims)
        if rebuild or generation != self.saved_generation:
            vectors.save(self.vectors_path, generation)
        if self.kept is not None:
            self.kept.keep(vectors, generation, self.vectors_path)


class LocalReader(Store):
    """The SQLite store of a query, with the FAISS index it loads (see `dense_search`)."""

    notify: Callable[[str], None] = staticmethod(lambda _message: None)
    _vectors: VectorIndex | None = None
    _vectors_generation = -1
    """The store's generation `_vectors` is current for; -1 while it is a writer's older file."""
    _file: tuple[int, int, int] | None = None

    @property
    def location(self) -> str:
        return str(self.path.parent)

    @property
    def root(self) -> Path:
        return Path(self.get_meta("root") or self.path.parent.parent)

    def repositories(self) -> list[dict[str, object]]:
        """The one root this index serves."""
        files, chunks = self.counts()
        last_sync = self.get_meta("last_sync")
        return [{
            "repo": self.root.name, "root": str(self.root), "files": files, "chunks": chunks,
            "last_sync": float(last_sync) if last_sync else None,
        }]

    def dense_search(self, vector: np.ndarray, k: int, allowed: Allowed, signature: str) -> list[tuple[int, float]]:
        return self.vectors(signature).search(vector, k, allowed, lambda ids: self.chunk_vectors(signature, ids))

    def vectors(self, signature: str) -> VectorIndex:
        """The FAISS index for the store's current generation, reloaded when a writer moved on.

        The saved file is used when current. While a writer holds the lock, a whole file of an
        earlier generation serves as it is, until the writer saves its own (a watcher's batch,
        within a second): rebuilding meanwhile took a fresh `ask` 10 s on the Linux kernel,
        and its save could replace the writer's newer file. Otherwise the index is rebuilt
        from SQLite and saved.
        """
        generation = self.generation
        if self._vectors is not None and generation == self._vectors_generation:
            return self._vectors
        index_dir = self.path.parent
        path = index_dir / VECTORS_NAME
        writing = writer_active(index_dir)
        if self._vectors is not None and writing and self._file == file_identity(path):
            return self._vectors
        dims, largest = int(self.get_meta("dims") or 0), self.largest_chunk_id()
        vectors = VectorIndex.load(path, generation, dims, largest)
        current = vectors is not None
        if vectors is None and writing:
            vectors = VectorIndex.load(path, None, dims, largest)
        if vectors is None:
            vectors, current = build_vectors(self, signature, dims), True
            if path.exists():
                self.notify(f"the vector file {path} was stale or damaged; rebuilt it from the index database")
            self._save_quietly(vectors, path, generation)
        self._vectors, self._file = vectors, file_identity(path)
        self._vectors_generation = generation if current else -1
        return vectors

    def _save_quietly(self, vectors: VectorIndex, path: Path, generation: int) -> None:
        """Saved under the writer lock, and only while `generation` is still the store's, so a
        writer's newer file is never replaced; a reader that lacks write access, or finds a
        writer at work, keeps the rebuilt index in memory only."""
        try:
            with writer_lock(path.parent, "ask", wait=0.0):
                if self.generation == generation:
                    vectors.save(path, generation)
        except (OSError, IndexBusy):
            pass


def open_reader(
    location: str | Path | None, *, repos: Sequence[str], start: Path | None, on_notice: Callable[[str], None] | None,
) -> LocalReader:
    """The index directory `location` (or its root), else the one found walking up from `start`;
    `repos` names nothing here: a local index serves one root."""
    reader = LocalReader.open(find_index(Path(location) if location else None, start=start))
    if on_notice is not None:
        reader.notify = on_notice
    return reader
