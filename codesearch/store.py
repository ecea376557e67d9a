"""SQLite store: the source of truth for files, chunks, cached vectors and lexical search.

Every sync step is one transaction, so a crash leaves either the old or the new state of a
batch, never half of it. WAL mode lets readers (`ask`) run while a writer (`index`) commits.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from codesearch.errors import CodesearchError
from codesearch.locate import (
    DB_NAME, REBUILD, DamagedIndex, UntrustedIndex, check_index_dir, check_state_files, index_identity, open_state_file,
)
from codesearch.lock import writer_lock
from codesearch.models import Chunk
from codesearch.text import spaced_subtokens

SCHEMA_VERSION = 3
LEXICAL_BUDGET = 20_000
"""Most chunks one lexical query scores; see `Store._affordable`."""
NAMED_SCAN = 500
"""The most chunks `symbols_with_word` looks at: a name's definitions are a few among its uses'
chunks, and a word as common as `init` must not cost a scan of a million. On the peer benchmark
500 finds what 2,000 does (symbol queries 0.942; 200: 0.928); on the Linux kernel with the page
cache dropped, the slowest of eight lookups took 30 ms at 500 and 320 ms at 2,000."""
PAGE_BYTES = 16384
FTS_AUTOMERGE = 8
"""FTS5 merges a level's segments once this many have piled up (its default is 4): every commit
adds one, and merging half as often made the writer alone 13% faster on 259 MB of the Linux
kernel (23.5-24.8 s -> 20.5-21.6 s), with lexical queries as fast (11 ms p50 both)."""
_STATE_COLUMNS = "path, id, size, mtime_ns, hash"
IDENTITY_KEY = "index_identity"
"""Meta key: `locate.index_identity` of the directory and file the database was created as."""
ORPHANS_BOUNDED = "orphans_bounded"
"""Meta key present while the stored vectors that belong to no chunk are at most
`orphan_budget` of them: set on an empty store and by `drop_orphan_vectors`, removed when
chunks are deleted or vectors are stored ahead of their chunks. Looking for orphans reads
every chunk row (3.7 s for 353k chunks of the Linux kernel), which a first index, whose vectors
all arrive with their chunks, never needs. (Schema 3 indexes had `no_orphan_vectors`, for none
at all; without the new key they are scanned once.)"""
ORPHAN_SHARE = 0.2
ORPHAN_MIN = 10_000
"""Unused vectors kept, newest first: at least ORPHAN_MIN, else ORPHAN_SHARE of the chunks (with
256 dimensions, 5 MB; 60 MB for the Linux kernel's 1.15M chunks). An edit reverted, a file
deleted and restored, or a branch switched back then embeds nothing: the old texts' vectors are
still stored under their content hashes."""


def within_budget(sizes: dict[str, int]) -> list[str]:
    """The rarest terms, by the chunks holding each (`sizes`), whose chunks together stay within
    LEXICAL_BUDGET: what one lexical query scores, in every store."""
    kept: list[str] = []
    spent = 0
    for term in sorted(sizes, key=sizes.__getitem__):
        spent += sizes[term]
        if spent > LEXICAL_BUDGET:
            break
        kept.append(term)
    return kept


def orphan_budget(chunks: int) -> int:
    """How many unused vectors a store of `chunks` chunks keeps (see ORPHAN_SHARE)."""
    return max(ORPHAN_MIN, int(chunks * ORPHAN_SHARE))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
-- Vector rows are appended in write order, and only the small index takes the random content-hash
-- keys. Kept in a key-ordered B-tree, every insert dirtied a page of 7 vectors, and the writer
-- spent half its time there (linux/{arch,fs,include,net,sound}: the writer alone 39-44 s -> 27 s).
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    signature TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS vectors_by_key ON vectors(signature, key);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(name, body, content = '', tokenize = 'unicode61');
"""


@dataclass(frozen=True)
class FileState:
    """What the store remembers of a file, enough to skip it when unchanged."""

    id: int
    size: int
    mtime_ns: int
    hash: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row joined with its file's path and language."""

    id: int
    chunk: Chunk


def lexical_fields(path: str, symbol: str, text: str, words: list[str] | None = None) -> tuple[str, str]:
    """FTS columns: the symbol and path words, and the body's code subtokens (`words`, when
    given, are the text's words, found already).

    The FTS table is contentless (its columns are never read back, and storing them was a third
    of the database), so removing a chunk repeats exactly what was inserted, recomputed from the
    chunk row: whatever changes these values needs a SCHEMA_VERSION bump.
    """
    return spaced_subtokens(f"{symbol} {path}"), spaced_subtokens(text, words)


class Store:
    """One SQLite database holding an index; open it with `Store.open`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, index_dir: Path, *, create: bool = False) -> "Store":
        """The index in `index_dir`; `create` (a writer, under the writer lock) makes it when there is none.

        A repository is untrusted input: an index that came with it (committed, copied) could
        name any root, embedder or code. So the index directory and its files are checked first
        (`locate`), and a database is used only when it was created in this very place
        (`IDENTITY_KEY`); otherwise UntrustedIndex, before anything is written to it.
        """
        path = index_dir / DB_NAME
        check_index_dir(index_dir)
        check_state_files(index_dir)
        if not create and not path.exists():
            raise CodesearchError(f"no index at {index_dir}; run `codesearch index PATH` first")
        try:
            if create:
                # Owner-only before SQLite creates it with the umask's mode; its -wal and -shm copy this mode.
                os.close(open_state_file(path, os.O_CREAT | os.O_WRONLY))
            writable = create or os.access(index_dir, os.W_OK)
            conn = _connect(path) if writable else _connect_read_only(path)
            try:
                conn.execute("PRAGMA foreign_keys=ON")
                # A writer inserts keys in hash order all over the vector and FTS B-trees: a 256 MiB page
                # cache and 64 MiB between WAL checkpoints cut indexing time by a fifth (linux/fs, 46 MB).
                conn.execute("PRAGMA cache_size=-262144")
                store = cls(conn, path)
                store._check_schema(create)
                if writable:
                    conn.execute("PRAGMA journal_mode=WAL")
            except BaseException:
                conn.close()  # a connection left open would delete the -wal of whatever database replaces this one
                raise
        except sqlite3.DatabaseError as exc:
            raise database_error(exc, path) from exc
        except OSError as exc:
            raise CodesearchError(f"cannot create the index database {path}: {exc.strerror}") from exc
        return store

    def _check_schema(self, create: bool) -> None:
        """Create the schema in an empty database (`create`); else check that it is one of this
        codesearch's, built where it lies."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if create and not tables:
            with self.transaction():
                self._create_schema()
            return
        if "meta" not in tables:
            raise DamagedIndex(f"{self.path} is not a codesearch index; run `codesearch index --full`")
        if self.get_meta(IDENTITY_KEY) != index_identity(self.path.parent):
            raise UntrustedIndex(
                f"the index at {self.path.parent} was not built here (a copied or committed index, "
                f"or one from an older codesearch); {REBUILD}"
            )
        version = self.get_meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise DamagedIndex(
                f"the index uses schema {version}, this codesearch needs {SCHEMA_VERSION}; "
                "rebuild it with `codesearch index --full`"
            )

    def _create_schema(self) -> None:
        """The generation starts at the clock, not 0: a vector file left by a deleted or
        discarded database must never match the generation of the one that replaces it."""
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self.conn.execute(statement)
        self.conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('automerge', ?)", (FTS_AUTOMERGE,))
        self.set_meta("schema_version", str(SCHEMA_VERSION))
        self.set_meta(IDENTITY_KEY, index_identity(self.path.parent))
        self.set_meta("generation", str(time.time_ns()))
        self.set_meta(ORPHANS_BOUNDED, "1")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE so two writers queue instead of failing half-way.

        A failed write (disk full, I/O error) may already have rolled the transaction back;
        rolling back again would raise and hide the error that matters.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump_generation(self) -> int:
        """Called inside every transaction that changes chunks; FAISS files carry this number."""
        generation = self.generation + 1
        self.set_meta("generation", str(generation))
        return generation

    def clear(self) -> None:
        """Drop every file, chunk and vector (for `--full`), inside the caller's transaction;
        meta keeps the schema, the identity, the generation and the root."""
        self.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")
        for table in ("chunks", "files", "vectors"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute(
            "DELETE FROM meta WHERE key NOT IN ('schema_version', ?, 'generation', 'root')", (IDENTITY_KEY,)
        )
        self.set_meta(ORPHANS_BOUNDED, "1")
        self.bump_generation()

    def file_states(self, under: Iterable[str] | None = None) -> dict[str, FileState]:
        """Every file's state, or those of the files `under` names and of the files below them:
        a sync of one changed file in the Linux kernel spent 0.5 s reading and filtering all
        77,000. `path || '0'` bounds the files below `path`, since '0' follows '/'."""
        if under is None:
            rows = self.conn.execute(f"SELECT {_STATE_COLUMNS} FROM files")
        else:
            sql = f"SELECT {_STATE_COLUMNS} FROM files WHERE path = ?1 UNION ALL SELECT {_STATE_COLUMNS} FROM files WHERE path >= ?1 || '/' AND path < ?1 || '0'"
            rows = itertools.chain.from_iterable(self.conn.execute(sql, (path,)) for path in under)
        return {path: FileState(fid, size, mtime, digest) for path, fid, size, mtime, digest in rows}

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Content unchanged but stat changed: remember the new stat so the next run skips reading."""
        self.conn.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def delete_files(self, paths: Iterable[str]) -> list[int]:
        """Remove files with their chunks; returns the removed chunk ids."""
        removed: list[int] = []
        for path in paths:
            row = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
            if row:
                removed.extend(self._delete_chunks_of(row[0]))
                self.conn.execute("DELETE FROM files WHERE id = ?", (row[0],))
        return removed

    def _delete_chunks_of(self, file_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT c.id, f.path, c.symbol, c.text FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.file_id = ?", (file_id,)
        ).fetchall()
        self.conn.executemany(
            "INSERT INTO chunks_fts(chunks_fts, rowid, name, body) VALUES ('delete', ?, ?, ?)",
            ((cid, *lexical_fields(path, symbol, text)) for cid, path, symbol, text in rows),
        )
        self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        if rows:
            self._vectors_may_be_orphaned()
        return [r[0] for r in rows]

    def replace_file(
        self, path: str, language: str, size: int, mtime_ns: int, digest: str,
        chunks: Sequence[Chunk], vector_keys: Sequence[str], lexical: Sequence[tuple[str, str]],
    ) -> tuple[list[int], list[int]]:
        """Swap a file's chunks for new ones; returns (removed chunk ids, added chunk ids).

        `lexical` holds each chunk's `lexical_fields`, computed by the worker that chunked it.
        """
        row = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        removed = self._delete_chunks_of(row[0]) if row else []
        self.conn.execute(
            "INSERT INTO files(path, language, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET language=excluded.language, size=excluded.size, "
            "mtime_ns=excluded.mtime_ns, hash=excluded.hash",
            (path, language, size, mtime_ns, digest),
        )
        file_id = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()[0]
        first = int(self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0])
        added = list(range(first, first + len(chunks)))
        self.conn.executemany(
            "INSERT INTO chunks(id, file_id, kind, symbol, start_line, end_line, text, vector_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (cid, file_id, c.kind, c.symbol, c.start_line, c.end_line, c.text, key)
                for cid, c, key in zip(added, chunks, vector_keys)
            ),
        )
        self.conn.executemany(
            "INSERT INTO chunks_fts(rowid, name, body) VALUES (?, ?, ?)",
            ((cid, name, body) for cid, (name, body) in zip(added, lexical)),
        )
        return removed, added

    def missing_vector_keys(self, keys: Iterable[str], signature: str) -> set[str]:
        wanted = set(keys)
        present: set[str] = set()
        for part in _slices(list(wanted), 500):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT key FROM vectors WHERE signature = ? AND key IN ({marks})", (signature, *part)
            )
            present.update(r[0] for r in rows)
        return wanted - present

    def put_vectors(self, keys: Sequence[str], matrix: np.ndarray, signature: str, *, with_chunks: bool = False) -> None:
        """Vectors are stored as float16: half the disk, and normalised vectors lose nothing that ranks.

        `with_chunks`: the same transaction writes a chunk for every key, so none is left unused.
        """
        blobs = np.asarray(matrix, dtype=np.float16)
        self.conn.executemany(
            "INSERT OR REPLACE INTO vectors(key, signature, vector) VALUES (?, ?, ?)",
            ((key, signature, blobs[i].tobytes()) for i, key in enumerate(keys)),
        )
        if not with_chunks:
            self._vectors_may_be_orphaned()

    def _vectors_may_be_orphaned(self) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (ORPHANS_BOUNDED,))

    def may_hold_orphan_vectors(self) -> bool:
        """Whether unused vectors may exceed their budget, so that `drop_orphan_vectors` has work."""
        return self.get_meta(ORPHANS_BOUNDED) is None

    def drop_orphan_vectors(self) -> int:
        """Delete the unused vectors beyond `orphan_budget`, oldest first; how many went."""
        cursor = self.conn.execute(
            "DELETE FROM vectors WHERE id IN (SELECT id FROM vectors WHERE key NOT IN (SELECT vector_key FROM chunks) "
            "ORDER BY id DESC LIMIT -1 OFFSET ?)",
            (orphan_budget(self.counts()[1]),),
        )
        self.set_meta(ORPHANS_BOUNDED, "1")
        return cursor.rowcount

    def vector_sample(self, signature: str, limit: int) -> np.ndarray:
        """Up to `limit` stored vectors; keys are content hashes, so key order is a random order."""
        dims = int(self.get_meta("dims") or 0)
        rows = self.conn.execute("SELECT vector FROM vectors WHERE signature = ? ORDER BY key LIMIT ?", (signature, limit))
        flat = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float16)
        return flat.reshape(-1, dims).astype(np.float32)

    def chunk_vectors(
        self, signature: str, chunk_ids: Sequence[int] | None = None, batch: int = 20_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 matrix) batches for every chunk, or for the given ones, to (re)build FAISS."""
        dims = int(self.get_meta("dims") or 0)
        sql = "SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.key = c.vector_key AND v.signature = ?"
        if chunk_ids is None:
            cursor = self.conn.execute(sql, (signature,))
            parts: Iterable[list] = iter(lambda: cursor.fetchmany(batch), [])
        else:
            parts = (
                self.conn.execute(f"{sql} WHERE c.id IN ({','.join('?' * len(p))})", (signature, *p)).fetchall()
                for p in _slices(list(chunk_ids), 500)
            )
        for part in parts:
            if part:
                ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
                flat = np.frombuffer(b"".join(r[1] for r in part), dtype=np.float16)
                yield ids, flat.reshape(len(part), dims).astype(np.float32)

    def chunks_by_ids(self, ids: Sequence[int]) -> dict[int, Chunk]:
        found: dict[int, Chunk] = {}
        for part in _slices(list(ids), 500):
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.id, f.path, f.language, c.kind, c.symbol, c.start_line, c.end_line, c.text "
                f"FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})",
                part,
            )
            for cid, *fields in rows:
                found[cid] = Chunk(*fields)
        return found

    def chunk_ids_where(self, language: str | None, path_matches: Callable[[str], bool] | None) -> list[int]:
        """Ids of chunks whose file passes the filters (for filtered search)."""
        files = self.conn.execute("SELECT id, path, language FROM files")
        file_ids = [
            fid for fid, path, lang in files
            if (language is None or lang == language) and (path_matches is None or path_matches(path))
        ]
        ids: list[int] = []
        for part in _slices(file_ids, 500):
            marks = ",".join("?" * len(part))
            ids.extend(r[0] for r in self.conn.execute(f"SELECT id FROM chunks WHERE file_id IN ({marks})", part))
        return ids

    def lexical_search(self, words: Sequence[str], limit: int, allowed: Sequence[int] | None) -> list[tuple[int, float]]:
        """BM25 over the FTS table, names weighted above bodies; (chunk id, score) best first."""
        terms = self._affordable(list(dict.fromkeys(words)))
        if not terms:
            return []
        match = " OR ".join(f'"{w}"' for w in terms)
        sql = "SELECT rowid, -bm25(chunks_fts, 2.0, 1.0) AS score FROM chunks_fts WHERE chunks_fts MATCH ?"
        params: list[object] = [match]
        if allowed is not None:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS allowed_ids(id INTEGER PRIMARY KEY)")
            self.conn.execute("DELETE FROM allowed_ids")
            self.conn.executemany("INSERT OR IGNORE INTO allowed_ids(id) VALUES (?)", ((i,) for i in allowed))
            sql += " AND rowid IN (SELECT id FROM allowed_ids)"
        sql += " ORDER BY score DESC LIMIT ?"
        params.append(limit)
        return [(int(r[0]), float(r[1])) for r in self.conn.execute(sql, params)]

    def symbols_with_word(self, word: str, allowed: Sequence[int] | None) -> list[tuple[int, str]]:
        """(chunk id, symbol) of chunks whose symbol or path holds `word` (a subtoken, such as
        the joined `httpexception`), at most NAMED_SCAN of them, in id order.

        One lookup in the FTS name column: the searcher finds a name's definitions among them
        even where lexical search ranked the name's uses above them all.
        """
        rows = self.conn.execute(
            "SELECT c.id, c.symbol FROM chunks c WHERE c.id IN "
            "(SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (f'name : "{word}"', NAMED_SCAN),
        )
        permitted = None if allowed is None else set(allowed)
        return [(cid, symbol) for cid, symbol in rows if permitted is None or cid in permitted]

    def _affordable(self, terms: list[str]) -> list[str]:
        """The rarest terms whose chunks together stay within LEXICAL_BUDGET.

        BM25 costs about a microsecond per matching chunk (a document-length lookup each), so a
        word found in a fifth of the Linux kernel's million chunks would cost 200 ms; its low IDF
        adds little to the ranking. Small indexes, where no term can exceed the budget, keep all.
        """
        if self.largest_chunk_id() <= LEXICAL_BUDGET:
            return terms
        probe = "SELECT COUNT(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        return within_budget({t: self.conn.execute(probe, (f'"{t}"', LEXICAL_BUDGET + 1)).fetchone()[0] for t in terms})

    def largest_chunk_id(self) -> int:
        """The largest chunk id, 0 for none: at least the chunk count, at the cost of one B-tree descent."""
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        files = self.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        chunks = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(files), int(chunks)

    def record_sync(self, tokens: int) -> None:
        self.set_meta("last_sync", str(time.time()))
        self.set_meta("tokens_used", str(int(self.get_meta("tokens_used") or 0) + tokens))


def _connect(path: Path) -> sqlite3.Connection:
    """A connection that may write (`Store.open` turns on WAL once the database is known to be
    its own, so readers go on while a writer commits)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    # Only a new database takes this page size; with 16 KiB pages instead of 4 KiB the writer
    # alone over 259 MB of the kernel took 24.0 s instead of 27.9 (user+sys 22.5 vs 26.7 s).
    conn.execute(f"PRAGMA page_size={PAGE_BYTES}")
    conn.execute("PRAGMA synchronous=NORMAL")
    page_bytes = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute(f"PRAGMA wal_autocheckpoint={(64 << 20) // page_bytes}")
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A reader's connection where the index directory cannot be written (a read-only mount,
    another user's index): WAL needs its -shm file, which a cleanly closed index no longer has
    and this reader cannot create, so then the database is read as immutable, the state its
    last writer left (nobody can be writing it from where this reader stands, or SQLite
    would have found the -shm)."""
    uri = f"file:{quote(os.fspath(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False)


def database_error(exc: sqlite3.DatabaseError, path: Path | None = None) -> CodesearchError:
    """One line for a failed SQLite call. Only a damaged file calls for a rebuild: a full or
    read-only disk and a busy database leave the index as it was saved."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    where = f"the index database {path}" if path else "the index database"
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM")):
        return CodesearchError(
            f"cannot use {where} ({exc}): the disk may be full, read-only or failing; "
            "the index keeps what was saved before this error"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return CodesearchError(f"{where} is busy ({exc}); try again")
    return DamagedIndex(f"{where} is damaged ({exc}); rebuild it with `codesearch index --full`")


def discard_damaged(index_dir: Path) -> bool:
    """Delete the index database if it is damaged or untrusted, so that `index --full` can always start over.

    Damaged: it does not open as this codesearch's index built here, or SQLite's quick check
    finds broken pages that opening never reads. The WAL and shared-memory files go first, since
    a WAL left beside a new database would be replayed into it. A disk error is raised, never
    taken for damage.
    """
    if not (index_dir / DB_NAME).exists():
        return False
    with writer_lock(index_dir, "index"):
        if not _is_damaged(index_dir):
            return False
        for name in (f"{DB_NAME}-wal", f"{DB_NAME}-shm", DB_NAME):
            (index_dir / name).unlink(missing_ok=True)
    return True


def _is_damaged(index_dir: Path) -> bool:
    try:
        store = Store.open(index_dir)
        try:
            verdict = store.conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            store.close()
    except DamagedIndex:
        return True
    except sqlite3.DatabaseError as exc:
        error = database_error(exc, index_dir / DB_NAME)
        if isinstance(error, DamagedIndex):
            return True
        raise error from exc
    return verdict != "ok"


def _slices(items: list, size: int) -> Iterator[list]:
    """SQLite caps bound parameters per statement; long id lists go in slices."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
