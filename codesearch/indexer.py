"""sync(root): find what changed, chunk it, embed only chunks never seen, write in batches.

Each batch of files is committed in one transaction together with its vectors, so an
interrupted run keeps every finished batch and the next run resumes from there without
re-embedding; an embedder in this process (an API) stores each answer's vectors as it arrives,
so an outage costs at most the requests in flight. Vectors are cached by the hash of the
embedded text, so a moved or reverted file costs no embedding call.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Collection, Iterable, Iterator, Mapping

import numpy as np

from codesearch.chunker import MAX_LINES
from codesearch.embedders import Embedder, EmbedderSpec, create_embedder, default_spec, open_embedder
from codesearch.embedders import EmbedderMismatch as EmbedderMismatch  # where the watcher and config take it from
from codesearch.errors import CodesearchError, TextTooLongError
from codesearch.files import DEFAULT_MAX_BYTES, IgnoreRule, SourceFile, discover, discover_paths
from codesearch.models import Chunk
from codesearch.prepare import PrepareOptions, Prepared, Work, embed_text, prepare_batch
from codesearch.store import FileState
from codesearch.stores import Target, Writer, target_for
from codesearch.stores.local import KeptVectors as KeptVectors  # where the watcher and tests take it from
from codesearch.tasks import PASSAGE_TASK

BATCH_FILES = 256
BATCH_BYTES = 1 << 20
COMMIT_BYTES = 8 << 20
"""Most source bytes per write transaction. Every commit rewrites each page it touched, and
content-hash keys land all over the vector key index and the FTS segments, so one 8 MB commit
writes far less than eight 1 MB ones (linux/{arch,fs,include,net,sound}, measured with the
vectors still inside the key-ordered B-tree: the writer alone 48 s -> 34 s). See
`_commit_bytes` for how much a sync actually commits at a time."""
EMBED_SLICE = 2048
CHUNK_SIZE_KEY = "chunk_size"
POOL_MIN_BYTES = 8 << 20
"""Below this much changed source, starting worker processes costs more than it saves."""
_DROP_REASONS = frozenset({"vanished", "too large", "minified"})
"""Skips that remove a file from the index; a binary file is instead remembered without chunks,
so that it is not read again until it changes."""
IGNORE_RULES_NOTED = 3
"""Most ignore rules a sync report names (`SyncReport.ignored`)."""


@dataclass
class Progress:
    """Where a sync stands; `files_total` is None while files are still being discovered."""

    files_found: int = 0
    files_done: int = 0
    files_total: int | None = None
    chunks_written: int = 0
    embedded: int = 0


ProgressCallback = Callable[[Progress], None]
SkipCallback = Callable[[str, str], None]


@dataclass
class SyncReport:
    """What a sync did, for the closing summary and `--json`."""

    root: str
    index_dir: str
    embedder: str
    files: int = 0
    chunks: int = 0
    files_changed: int = 0
    files_deleted: int = 0
    chunks_written: int = 0
    embedded: int = 0
    reused: int = 0
    tokens: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    ignored: list[dict[str, object]] = field(default_factory=list)
    """When ignore rules left out all or most of the tree: the rules that left out most, most
    first, each {"file", "line", "pattern", "dirs", "files"} (see `files.IgnoreRule`)."""
    seconds: float = 0.0


def sync(
    root: Path | str,
    *,
    index_dir: Path | None = None,
    store: str | None = None,
    repo: str | None = None,
    spec: EmbedderSpec | None = None,
    full: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: ProgressCallback | None = None,
    paths: Iterable[str] | None = None,
    on_skip: SkipCallback | None = None,
    writer: str = "index",
    wait: float | None = None,
    embedder_options: Mapping[str, object] | None = None,
    ignore: Iterable[str] = (),
    languages: Collection[str] | None = None,
    chunk_size: int = MAX_LINES,
    kept: KeptVectors | None = None,
) -> SyncReport:
    """Bring the index of `root` up to date with the files on disk.

    `paths` (relative POSIX paths of files or directories, a directory standing for everything
    below it) limits the sync to them, without a discovery walk: what a watcher needs, one
    batch of changed paths at a time. Files skipped as unindexable are reported through
    `on_skip(path, reason)`. The index's writer lock is held throughout; while another process
    holds it this waits up to `wait` seconds, then raises IndexBusy naming that process and
    its role (`writer` is this one's, for the same message the other way round).
    `embedder_options` are run-time settings for the embedder (`truncate`, `device`, `threads`).
    `ignore` (extra gitignore-style patterns), `languages` (the only ones indexed) and
    `chunk_size` (lines before a chunk is split) are the configured file and chunk settings.
    The index is `store` (a URL, with `repo` naming the repository, default the root's name)
    or the local directory `index_dir` (default ROOT/.codesearch); see `stores.target_for`.
    `kept`, given to every sync of one index by a long-lived caller, carries the FAISS index
    from one sync to the next (see `KeptVectors`). An index not built where it lies by this
    codesearch (one that came with the repository, see `Store.open`) is rebuilt from scratch as
    with `full`, its root, embedder and chunks never used.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise CodesearchError(f"path not found or not a directory: {root}")
    target = target_for(root, store or index_dir, repo=repo, kept=kept)
    untrusted, recorded = target.prior()
    full = full or untrusted
    new = _new_embedder(target, spec or recorded, embedder_options, full)
    with target.writing(writer, wait, full) as written:
        written.claim(root, full)
        embedder = open_embedder(written, spec, record=True, options=embedder_options, start_over=full, new=new)
        options = PrepareOptions(max_bytes=max_bytes, chunk_size=chunk_size)
        run = _Sync(
            root, target, written, embedder, options, progress or (lambda _p: None), on_skip,
            selection={"ignore": tuple(ignore), "languages": languages},
        )
        return run.run(None if paths is None else sorted({PurePosixPath(path).as_posix() for path in paths}))


def _new_embedder(
    target: Target, spec: EmbedderSpec | None, options: Mapping[str, object] | None, full: bool
) -> Embedder | None:
    """The embedder a new or rebuilt index will record, made before anything is written: one
    that cannot be made (no API key, no torch) then leaves no index behind, rather than one
    without an embedder that `ask` refuses. None for an index that has its embedder already."""
    if full or not target.has_index():
        return create_embedder(spec or default_spec(), options)
    return None


class _Sync:
    """One run of sync; holds the counters so the steps stay short."""

    def __init__(
        self, root: Path, target: Target, store: Writer, embedder: Embedder, options: PrepareOptions,
        progress: ProgressCallback, on_skip: SkipCallback | None, *, selection: Mapping[str, object],
    ) -> None:
        self.root, self.skip_dir, self.store, self.embedder = root, target.skip_dir, store, embedder
        self.options, self.progress_cb, self.on_skip = options, progress, on_skip
        self.selection = selection  # which files: passed through to discovery
        self.report = SyncReport(root=str(root), index_dir=target.location, embedder=embedder.signature)
        self.progress = Progress()
        self.skipped: Counter[str] = Counter()
        self.tokens_before = getattr(embedder, "tokens_used", 0)

    def run(self, paths: list[str] | None) -> SyncReport:
        """Sync every file under the root, or only `paths` (see `sync`)."""
        started = time.perf_counter()
        self.store.begin_vectors(self.embedder.dimensions)
        found = self._discover() if paths is None else self._look_at(paths)
        states = self.store.file_states(paths)
        self._delete_missing(list(states), {f.path for f in found})
        changed, known = self._to_read(found, states, whole=paths is None)
        self.report.files_changed = len(changed)
        self.progress.files_total = len(changed)
        self.progress_cb(self.progress)
        completed = False
        try:
            for prepared in _grouped(self._prepare(changed, known), self._commit_bytes(changed)):
                self._commit(prepared, states)
            completed = True
        finally:
            self._finish(started, complete=completed and paths is None)
        return self.report

    def _commit_bytes(self, changed: list[SourceFile]) -> int:
        """Source bytes per transaction: a 64th of the sync, at most COMMIT_BYTES (and never
        less than one batch), so that a kill loses at most about a 64th of the work, and a
        small sync commits each batch as it did. An embedder that runs in this
        process (an API) commits every batch: its calls take the time, and an outage keeps
        each finished batch."""
        if not self.embedder.in_workers:
            return 0
        return min(COMMIT_BYTES, sum(f.size for f in changed) // 64)

    def _to_read(
        self, found: list[SourceFile], states: dict[str, FileState], *, whole: bool
    ) -> tuple[list[SourceFile], dict[str, FileState]]:
        """The files to read, and the states whose content hashes spare re-chunking a touched file.

        A full sync with another chunk size than the index was built with reads and re-chunks
        every file; chunks whose text is unchanged keep their stored vectors.
        """
        if whole and rechunks_every_file(self.store.get_meta(CHUNK_SIZE_KEY), self.options.chunk_size):
            return found, {}
        return [f for f in found if stat_changed(states.get(f.path), f)], states

    def _discover(self) -> list[SourceFile]:
        found: list[SourceFile] = []
        left_out: Counter[tuple[IgnoreRule, bool]] = Counter()
        for source in discover(
            self.root, max_bytes=self.options.max_bytes, index_dir=self.skip_dir, on_skip=self._skip,
            on_ignore=lambda rule, is_dir: left_out.update([(rule, is_dir)]), **self.selection,
        ):
            found.append(source)
            if len(found) % 1000 == 0:
                self.progress.files_found = len(found)
                self.progress_cb(self.progress)
        self.report.files = len(found)
        self._note_ignored(left_out, len(found))
        return found

    def _note_ignored(self, left_out: Counter[tuple[IgnoreRule, bool]], found: int) -> None:
        """Name the rules that left out the most in the report, when they left out everything,
        or more than the walk found: what turns an index of nothing (a packager's `/*` in a
        .gitignore) into a reason. A directory counts as one file, as its files are never walked."""
        if found and left_out.total() <= found:
            return
        by_rule: Counter[IgnoreRule] = Counter()
        for (rule, _is_dir), count in left_out.items():
            by_rule[rule] += count
        self.report.ignored = [
            {**rule._asdict(), "dirs": left_out[rule, True], "files": left_out[rule, False]}
            for rule, _count in by_rule.most_common(IGNORE_RULES_NOTED)
        ]

    def _look_at(self, paths: list[str]) -> list[SourceFile]:
        return discover_paths(
            self.root, paths, max_bytes=self.options.max_bytes, index_dir=self.skip_dir, on_skip=self._skip, **self.selection
        )

    def _skip(self, path: str, reason: str) -> None:
        self.skipped[reason] += 1
        if self.on_skip is not None:
            self.on_skip(path, reason)

    def _delete_missing(self, candidates: list[str], present: set[str]) -> None:
        gone = [path for path in candidates if path not in present]
        if gone:
            with self.store.transaction():
                removed = self.store.delete_files(gone)
                self.store.bump_generation()
            self._committed(removed, [])
        self.report.files_deleted = len(gone)

    def _prepare(self, changed: list[SourceFile], states: dict[str, FileState]) -> Iterator[list[Prepared]]:
        """Prepared batches in order: across worker processes when there is enough to read.

        The workers also embed, when the embedder is made for that (the built-in one): then
        nothing is left to the single writer but writing. A small sync (a watch batch, renames)
        stays in this process and embeds only the texts whose vectors are not stored yet.
        """
        if sum(f.size for f in changed) >= POOL_MIN_BYTES:
            from codesearch.parallel import ordered_map, worker_count  # a small sync never loads multiprocessing

            workers = worker_count()
            if workers > 1:
                spec = EmbedderSpec(self.embedder.name, self.embedder.model, self.embedder.dimensions)
                options = replace(self.options, embedder=spec if self.embedder.in_workers else None)
                return ordered_map(prepare_batch, _work(changed, states, options), workers, on_crash=_prepare_one_by_one)
        return map(prepare_batch, _work(changed, states, self.options))

    def _commit(self, prepared: list[Prepared], states: dict[str, FileState]) -> None:
        """Embed what the batch needs, then write it in one transaction."""
        for item in prepared:
            if item.skipped is not None:
                self._skip(item.file.path, item.skipped)
        dropped = [i.file.path for i in prepared if i.skipped in _DROP_REASONS and i.file.path in states]
        ready = [item for item in prepared if item.skipped is None]
        binary = [Prepared(item.file, chunks=[]) for item in prepared if item.skipped == "binary"]
        embedded = any(item.vectors is not None for item in ready)
        if not embedded:
            self._embed_missing(ready)
        with self.store.transaction():
            if embedded:
                self._store_embedded(ready)
            removed = self.store.delete_files(dropped)
            added: list[int] = []
            for item in ready + binary:
                removed_now, added_now = self._write(item)
                removed += removed_now
                added += added_now
            self.store.bump_generation()
        in_hand = [item.vectors for item in ready if item.vectors is not None]
        self._committed(removed, added, np.concatenate(in_hand) if in_hand else None)
        self.progress.files_done += len(prepared)
        self.progress_cb(self.progress)

    def _committed(self, removed: list[int], added: list[int], vectors: np.ndarray | None = None) -> None:
        """Count chunks and keep the store's derived vector index in step, only once their
        transaction is committed (see `stores.Writer.committed`). `vectors`, when given, are
        the added chunks' vectors in order (a worker embedded them)."""
        self.report.chunks_written += len(added)
        self.progress.chunks_written += len(added)
        self.store.committed(removed, added, vectors, self.embedder.signature)

    def _embed_missing(self, prepared: list[Prepared]) -> None:
        """Embed each distinct text not already stored under this embedder's signature.

        At most EMBED_SLICE texts go to one call, which bounds the rows held at once: the static
        embedder returns a whole call's rows in one part."""
        by_key = {k: c for item in prepared if item.chunks for k, c in zip(item.keys, item.chunks)}
        missing = self._missing(by_key, sum(len(item.keys) for item in prepared))
        for start in range(0, len(missing), EMBED_SLICE):
            self._embed(missing[start : start + EMBED_SLICE], by_key)

    def _store_embedded(self, prepared: list[Prepared]) -> None:
        """Write the vectors the workers made that are not stored yet, in the caller's transaction."""
        made = {k: v for item in prepared if item.vectors is not None for k, v in zip(item.keys, item.vectors)}
        chunks = sum(len(item.keys) for item in prepared)
        missing = self._missing(made, chunks)
        self._count_embedded(chunks)
        if missing:
            self.store.put_vectors(missing, np.stack([made[k] for k in missing]), self.embedder.signature, with_chunks=True)

    def _missing(self, keys: Iterable[str], chunks: int) -> list[str]:
        """The keys with no stored vector, in key order; the other chunks count as reused."""
        missing = sorted(self.store.missing_vector_keys(keys, self.embedder.signature))
        self.report.reused += chunks - len(missing)
        return missing

    def _embed(self, keys: list[str], by_key: dict[str, Chunk]) -> None:
        """Store the vectors of each of the embedder's parts (an API request) in a transaction
        of its own as it arrives, before the chunks that use them: when the embedder fails half
        way (the API goes down, the run is killed), the next run pays again only for the parts
        in progress, not for all of what the API did deliver."""
        texts = [embed_text(by_key[k]) for k in keys]
        try:
            for positions, vectors in self.embedder.embed_parts(texts, PASSAGE_TASK):
                with self.store.transaction():
                    self.store.put_vectors([keys[i] for i in positions], vectors, self.embedder.signature)
                self._count_embedded(len(positions))
        except TextTooLongError as exc:
            raise CodesearchError(f"{_locate(by_key[keys[exc.index]])}: {exc}") from exc

    def _count_embedded(self, count: int) -> None:
        self.report.embedded += count
        self.progress.embedded += count
        self.progress_cb(self.progress)

    def _write(self, item: Prepared) -> tuple[list[int], list[int]]:
        """(removed chunk ids, added chunk ids) of writing one prepared file."""
        source = item.file
        if item.chunks is None:
            self.store.touch_file(source.path, source.size, source.mtime_ns)
            return [], []
        return self.store.replace_file(
            source.path, source.language, source.size, source.mtime_ns, item.digest, item.chunks, item.keys, item.lexical
        )

    def _finish(self, started: float, *, complete: bool) -> None:
        """Record the sync and save the store's derived vector index (`finish_vectors`).

        Only a complete full sync drops unused vectors (an interrupted run's vectors are what
        lets the next run resume without embedding them again), those beyond what the store
        keeps for reverts (`store.ORPHAN_SHARE`), and only when it may hold more
        (`store.ORPHANS_BOUNDED`), since finding them reads every chunk row; it also records
        the chunk size every file is now chunked with (a different one later re-chunks every file).
        """
        with self.store.transaction():
            if complete and self.store.may_hold_orphan_vectors():
                self.store.drop_orphan_vectors()
            if complete:
                self.store.set_meta(CHUNK_SIZE_KEY, str(self.options.chunk_size))
            self.report.tokens = getattr(self.embedder, "tokens_used", 0) - self.tokens_before
            self.store.record_sync(self.report.tokens)
        self.report.files, self.report.chunks = self.store.counts()
        self.store.finish_vectors(self.report.chunks, self.embedder.signature, self.embedder.dimensions)
        self.report.skipped = dict(self.skipped)
        self.report.seconds = time.perf_counter() - started

def _work(changed: list[SourceFile], states: dict[str, FileState], options: PrepareOptions) -> Iterator[Work]:
    """Batches of (file, the content hash the index holds for it) for `prepare_batch`."""
    for batch in _batches(changed):
        yield [(f, states[f.path].hash if f.path in states else None) for f in batch], options


def _prepare_one_by_one(work: Work) -> list[Prepared]:
    """A batch whose worker died: each file alone, so that only the file that kills its
    process (a grammar's native crash) is lost, and skipped with a reason."""
    from concurrent.futures.process import BrokenProcessPool

    from codesearch.parallel import isolated

    files, options = work
    prepared = []
    for source, known in files:
        try:
            prepared += isolated(prepare_batch, ([(source, known)], options))
        except BrokenProcessPool:
            prepared.append(Prepared(source, skipped="parser crashed"))
    return prepared


def _locate(chunk: Chunk) -> str:
    """`path:start-end (symbol)`, for errors about one chunk."""
    return f"{chunk.path}:{chunk.start_line}-{chunk.end_line} ({chunk.symbol or chunk.kind})"


def rechunks_every_file(recorded: str | None, chunk_size: int) -> bool:
    """Whether the chunk size recorded at the last complete full sync (CHUNK_SIZE_KEY) differs
    from `chunk_size`: then the next full sync re-chunks every file, and `status` counts them."""
    return recorded is not None and recorded != str(chunk_size)


def stat_changed(state: FileState | None, source: SourceFile) -> bool:
    """New, or a different size or mtime: the only files a sync reads, and what `status` counts."""
    return state is None or state.size != source.size or state.mtime_ns != source.mtime_ns


def _grouped(batches: Iterable[list[Prepared]], size: int) -> Iterator[list[Prepared]]:
    """Consecutive batches joined until they hold `size` bytes of source, for one commit each."""
    group: list[Prepared] = []
    held = 0
    for batch in batches:
        group += batch
        held += sum(item.file.size for item in batch)
        if held >= size:
            yield group
            group, held = [], 0
    if group:
        yield group


def _batches(files: list[SourceFile]) -> Iterator[list[SourceFile]]:
    """Bounded batches: few enough files and bytes that a transaction stays short."""
    batch: list[SourceFile] = []
    size = 0
    for source in files:
        batch.append(source)
        size += source.size
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
