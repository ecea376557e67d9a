"""The PostgreSQL store: many repositories in one database, vectors in pgvector.

Chosen by a `postgresql://` URL (`--store`, CODESEARCH_STORE). Every table but the vector cache
carries `repo_id` and has it first in its keys, so Citus can distribute them by repository: in a
database with the citus extension, `_create_schema` does (`_CITUS_LAYOUT`).
What the local store splits between SQLite and a FAISS file lives here in rows:
- `vectors`: the content-hash vector cache (embedder signature, key, halfvec), shared by all
  repositories, so a vendored copy or a fork embeds nothing new;
- `chunks`: each chunk with a copy of its vector (an HNSW index over it, filtered by repository
  with pgvector's iterative scans, so a filter never returns fewer than k hits) and its lexical
  fields as a tsvector (names weighted A, bodies B), which `lexical_search` scores with the
  same BM25 as SQLite's FTS5 (k1 1.2, b 0.75, names counted twice);
- `repos`: name, generation, the counts BM25 needs, and who is writing; `repo_meta` per-repository
  settings (root, last sync), `codesearch_meta` the database's (schema, embedder).
A writer holds a per-repository advisory lock for its sync (another repository's writer goes
on; a second writer of the same one waits, then is told who holds it), and each batch is one
transaction, as in the local store: readers see committed batches only, and a killed writer
leaves every finished batch and nothing half-written.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from codesearch.embedders import EmbedderSpec, recorded_spec
from codesearch.errors import CodesearchError, StoreUnavailable
from codesearch.lock import DEFAULT_WAIT_S, IndexBusy
from codesearch.models import Chunk
from codesearch.store import LEXICAL_BUDGET, NAMED_SCAN, FileState, orphan_budget, within_budget
from codesearch.stores import Allowed, redacted

SCHEMA_VERSION = "1"
GLOBAL_KEYS = frozenset({"schema_version", "embedder", "dims", "orphans_bounded"})
"""Settings of the whole database; every other meta key belongs to one repository."""
_LOCK_SPACE = 0x636F6465
"""The first key of codesearch's advisory locks (ASCII "code"); the second is the repository
id, or 0 for schema changes."""
_RETRY_S = 0.1
_BM25_K1, _BM25_B = 1.2, 0.75
_NAME_WEIGHT = 2.0
"""A name's hit counts twice a body's, as the local store's `bm25(chunks_fts, 2.0, 1.0)`."""
HNSW_EF_SEARCH = 100
POOL_MAX = 8
"""Connections one reader holds at most: what `codesearch serve` answers at once from a store."""
POOL_WAIT_S = 10.0
"""How long a query waits for a connection of the pool before the store counts as unavailable."""
_WORD = re.compile(r"^[a-z0-9_]+$")

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS codesearch_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    generation bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0,
    lexical_tokens bigint NOT NULL DEFAULT 0,
    writer text
);
CREATE TABLE IF NOT EXISTS repo_meta (
    repo_id integer NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (repo_id, key)
);
CREATE TABLE IF NOT EXISTS files (
    repo_id integer NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    id bigserial,
    path text NOT NULL,
    language text NOT NULL,
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (repo_id, id),
    UNIQUE (repo_id, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    repo_id integer NOT NULL,
    id bigserial,
    file_id bigint NOT NULL,
    kind text NOT NULL,
    symbol text NOT NULL,
    start_line integer NOT NULL,
    end_line integer NOT NULL,
    text text NOT NULL,
    vector_key text NOT NULL,
    embedding halfvec,
    lexemes tsvector NOT NULL,
    lexical_len integer NOT NULL,
    PRIMARY KEY (repo_id, id),
    FOREIGN KEY (repo_id, file_id) REFERENCES files(repo_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(repo_id, file_id);
CREATE INDEX IF NOT EXISTS chunks_by_id ON chunks(id);
CREATE INDEX IF NOT EXISTS chunks_by_vector_key ON chunks(vector_key);
CREATE INDEX IF NOT EXISTS chunks_lexemes ON chunks USING gin(lexemes);
CREATE TABLE IF NOT EXISTS vectors (
    signature text NOT NULL,
    key text NOT NULL,
    embedding halfvec NOT NULL,
    added timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (signature, key)
);
CREATE TABLE IF NOT EXISTS codesearch_grants (
    role name NOT NULL,
    repo_id integer NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    PRIMARY KEY (role, repo_id)
);
ALTER TABLE codesearch_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY codesearch_own_grants ON codesearch_grants FOR SELECT USING (pg_has_role(current_user, role, 'MEMBER'));
"""
_GRANTED_TABLES = ("repo_meta", "files", "chunks")
"""Tables whose rows a reader role sees only for the repositories granted to it (row-level
security: the owner, which indexes, is not bound by it; a reader role is)."""
_REPOSITORY_COLUMNS = {"repos": "id", **{table: "repo_id" for table in _GRANTED_TABLES}}
"""The tables row-level security guards, each with the column that names its repository."""
_CITUS_LAYOUT: dict[str, str | None] = {
    "codesearch_meta": None, "repos": None, "codesearch_grants": None,
    "repo_meta": "repo_id", "files": "repo_id", "chunks": "repo_id",
}
"""On Citus: each table's distribution column, None for a reference table (a copy on every node).
The small tables every query joins are reference tables; a repository's settings, files and
chunks are co-located by `repo_id`, so a one-repository query runs on one shard and an
all-repository query fans out. The vector cache stays a plain table on the coordinator: only
writers read it, through the coordinator, and as a reference table every vector would be copied
to every node for no query that runs there (searches read the copies in `chunks`)."""
_CREATE_TABLE = re.compile(r"\s*CREATE TABLE IF NOT EXISTS (\w+)")
_READ_TABLES = ("codesearch_meta", "codesearch_grants", "repos", *_GRANTED_TABLES)
"""What `grant` lets a role read; never the vector cache, which holds every repository's vectors."""


class _Connection(psycopg.Connection):
    """A connection whose failed statements are one-line CodesearchErrors (a role without
    rights, a server gone, a full disk), never a driver's traceback."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute(*args, **kwargs)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CodesearchError(
                f"the store refused: {_first_line(exc)}; an administrator lets a role read repositories "
                "with `codesearch grant ROLE REPO...`"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the store is unavailable: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise CodesearchError(f"the store failed: {_first_line(exc)}") from None


def _connect(url: str) -> Any:
    """An autocommit connection with pgvector's types; one line for a server that cannot be reached."""
    try:
        conn = _Connection.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to the store {redacted(url)}: {_first_line(exc)}") from None
    try:
        _ensure_schema(conn)
        _configure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _pool(url: str) -> Any:
    """Connections for a reader: up to POOL_MAX at once, each with pgvector's types."""
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        url, min_size=1, max_size=POOL_MAX, connection_class=_Connection, configure=_configure,
        kwargs={"autocommit": True, "connect_timeout": 10}, open=True,
    )


def _configure(conn: Any) -> None:
    """pgvector's types; on Citus, SET LOCAL passed on to the shards too (a search's hnsw settings),
    which Citus does only when told to."""
    register_vector(conn)
    if _has_citus(conn):
        conn.execute("SET citus.propagate_set_commands = 'local'")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _ensure_schema(conn: Any) -> None:
    """Create the tables once, under an advisory lock so that two first writers never race;
    a database of another schema version is refused."""
    if _schema_version(conn) is None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_SPACE,))
            if _schema_version(conn) is None:  # not made meanwhile by another first writer
                _create_schema(conn)
    version = _schema_version(conn)
    if version != SCHEMA_VERSION:
        raise CodesearchError(f"the store uses codesearch schema {version}; this codesearch needs {SCHEMA_VERSION}")


def _create_schema(conn: Any) -> None:
    """The tables, distributed where the database is a Citus cluster, and row-level security.

    On Citus, security stays on but without the grant policies: Citus refuses a policy with a
    subquery on a distributed or reference table ("Subqueries are not supported in policies on
    distributed tables"), so there a reader role sees no row, and `grant` says why."""
    citus = _has_citus(conn)
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)
        if citus:
            _distribute(conn, statement)
    for table, column in _REPOSITORY_COLUMNS.items():
        conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        if not citus:
            conn.execute(
                f"CREATE POLICY codesearch_granted ON {table} FOR SELECT USING ({column} IN (SELECT repo_id FROM codesearch_grants))"
            )
    conn.execute("INSERT INTO codesearch_meta(key, value) VALUES ('schema_version', %s)", (SCHEMA_VERSION,))


def _has_citus(conn: Any) -> bool:
    """Whether an administrator made this database a Citus cluster (codesearch never creates the extension)."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").fetchone()[0]


def _distribute(conn: Any, statement: str) -> None:
    """Distribute the table STATEMENT has just made, as `_CITUS_LAYOUT` says: one at a time, in
    the schema's order, since Citus refuses to distribute a table that a local one references.
    Tables distributed by the same column type are co-located, Citus's default."""
    created = _CREATE_TABLE.match(statement)
    if created is None or created[1] not in _CITUS_LAYOUT:
        return
    table, column = created[1], _CITUS_LAYOUT[created[1]]
    if column is None:
        conn.execute("SELECT create_reference_table(%s)", (table,))
    else:
        conn.execute("SELECT create_distributed_table(%s, %s)", (table, column))


def _schema_version(conn: Any) -> str | None:
    """Read from pg_tables, not with to_regclass: its cache may still hold the table's absence
    as seen before another first writer created it."""
    if not conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'codesearch_meta')"
    ).fetchone()[0]:
        return None
    row = conn.execute("SELECT value FROM codesearch_meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def _vector_index(conn: Any, dims: int) -> None:
    """The HNSW index over the chunks' vectors, made once the dimensions are known; built after
    a first load rather than row by row, which is several times as fast."""
    exists = conn.execute("SELECT to_regclass('chunks_embedding')").fetchone()[0]
    if exists is None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_SPACE,))
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks "
                f"USING hnsw ((embedding::halfvec({int(dims)})) halfvec_cosine_ops)"
            )


def _meta(execute: Callable[..., Any], repo_id: int, key: str) -> str | None:
    """A setting: GLOBAL_KEYS from the database's, any other key from repository `repo_id`'s.
    `execute(sql, params)` gives rows (a list, or a cursor to fetch from)."""
    if key in GLOBAL_KEYS:
        rows = execute("SELECT value FROM codesearch_meta WHERE key = %s", (key,))
    else:
        rows = execute("SELECT value FROM repo_meta WHERE repo_id = %s AND key = %s", (repo_id, key))
    found = list(rows)
    return found[0][0] if found else None


class PostgresTarget:
    """One repository of a PostgreSQL store, as a sync of one root writes it."""

    def __init__(self, url: str, repo: str) -> None:
        self.url, self.repo = url, repo
        self.location = f"{redacted(url)}#{repo}"
        self.skip_dir: Path | None = None

    def prior(self) -> tuple[bool, EmbedderSpec | None]:
        """Nothing in a database the user named is untrusted; its embedder is the database's."""
        return False, self._recorded

    def has_index(self) -> bool:
        return self._recorded is not None

    @cached_property
    def _recorded(self) -> EmbedderSpec | None:
        """The database's embedder, read once for a sync's `prior` and `has_index`."""
        conn = _connect(self.url)
        try:
            saved = json.loads(_meta(conn.execute, 0, "embedder") or "null")
        finally:
            conn.close()
        return recorded_spec(saved) if isinstance(saved, dict) else None

    @contextmanager
    def writing(self, writer: str, wait: float | None, full: bool) -> Iterator[PostgresWriter]:
        conn = _connect(self.url)
        try:
            repo_id = _repo_id(conn, self.repo, create=True)
            with _repo_lock(conn, repo_id, writer, DEFAULT_WAIT_S if wait is None else wait):
                yield PostgresWriter(conn, repo_id)
        finally:
            conn.close()


def target_for(root: Path, location: str | Path | None, *, repo: str | None, kept: object) -> PostgresTarget:
    """`repo` defaults to the root's directory name; `kept` is the local store's concern."""
    return PostgresTarget(str(location), _checked_repo(repo or root.name))


def _checked_repo(name: str) -> str:
    if not name or len(name) > 200 or any(c in name for c in "\x00\n\r"):
        raise CodesearchError(f"bad repository name {name!r}: 1 to 200 characters, no line breaks")
    return name


def _repo_id(conn: Any, name: str, *, create: bool = False) -> int:
    row = conn.execute("SELECT id FROM repos WHERE name = %s", (name,)).fetchone()
    if row is None and create:
        row = conn.execute(
            "INSERT INTO repos(name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
            (name,),
        ).fetchone()
    if row is None:
        raise CodesearchError(f"the store holds no repository {name!r}; see `codesearch status --store ...`")
    return int(row[0])


@contextmanager
def _repo_lock(conn: Any, repo_id: int, role: str, wait: float) -> Iterator[None]:
    """The repository's advisory lock, held by this session for the sync (the server frees it
    when the session ends, kill -9 included): tried until `wait` seconds have passed, then
    IndexBusy naming the holder, which records itself in `repos.writer`."""
    deadline = time.monotonic() + wait
    while not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_SPACE, repo_id)).fetchone()[0]:
        if time.monotonic() >= deadline:
            holder = conn.execute("SELECT writer FROM repos WHERE id = %s", (repo_id,)).fetchone()[0]
            raise IndexBusy(
                f"another codesearch process ({holder or 'unknown'}) is writing this repository "
                f"(waited {wait:g} s); try again when it finishes, or stop it"
            )
        time.sleep(_RETRY_S)
    conn.execute(
        "UPDATE repos SET writer = %s WHERE id = %s", (f"pid {os.getpid()} on {socket.gethostname()}, {role}", repo_id)
    )
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("UPDATE repos SET writer = NULL WHERE id = %s", (repo_id,))
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_SPACE, repo_id))


class PostgresWriter:
    """One repository's rows, written by one sync under its advisory lock."""

    def __init__(self, conn: Any, repo_id: int) -> None:
        self.conn, self.repo_id = conn, repo_id
        self._signature: str | None = None

    def get_meta(self, key: str) -> str | None:
        return _meta(self.conn.execute, self.repo_id, key)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def set_meta(self, key: str, value: str) -> None:
        if key == "embedder":
            self._check_embedder(value)
            self._signature = None
        if key in GLOBAL_KEYS:
            self.conn.execute(
                "INSERT INTO codesearch_meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        else:
            self.conn.execute(
                "INSERT INTO repo_meta(repo_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (repo_id, key) DO UPDATE SET value = excluded.value",
                (self.repo_id, key, value),
            )

    def _check_embedder(self, value: str) -> None:
        """One database, one embedder: a query embeds once and searches every repository."""
        current = self.get_meta("embedder")
        others = self.conn.execute("SELECT count(*) FROM repos WHERE id <> %s AND chunks > 0", (self.repo_id,)).fetchone()[0]
        if current is not None and current != value and others:
            raise CodesearchError(
                f"the store's other {others} repositories were embedded with another embedder ({current}); "
                "one store holds one embedder: use another database for this one"
            )

    @property
    def generation(self) -> int:
        return int(self.conn.execute("SELECT generation FROM repos WHERE id = %s", (self.repo_id,)).fetchone()[0])

    def bump_generation(self) -> int:
        return int(
            self.conn.execute(
                "UPDATE repos SET generation = generation + 1 WHERE id = %s RETURNING generation", (self.repo_id,)
            ).fetchone()[0]
        )

    def clear(self) -> None:
        """This repository's files and chunks and settings (but its root); the shared vectors stay."""
        self.conn.execute("DELETE FROM files WHERE repo_id = %s", (self.repo_id,))
        self.conn.execute("DELETE FROM repo_meta WHERE repo_id = %s AND key <> 'root'", (self.repo_id,))
        self.conn.execute("UPDATE repos SET chunks = 0, lexical_tokens = 0 WHERE id = %s", (self.repo_id,))
        self.bump_generation()

    def claim(self, root: Path, full: bool) -> None:
        """A repository is its name: indexed from another checkout (a CI runner, a laptop), its
        root is simply the latest one."""
        if self.get_meta("root") != str(root):
            self.set_meta("root", str(root))

    def file_states(self, under: Iterable[str] | None = None) -> dict[str, FileState]:
        return _file_states(self.conn, [self.repo_id], under)

    def counts(self) -> tuple[int, int]:
        return _counts(self.conn, [self.repo_id])

    def chunk_vectors(self, signature: str, chunk_ids: Sequence[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return _chunk_vectors(self.conn, chunk_ids)

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self.conn.execute(
            "UPDATE files SET size = %s, mtime_ns = %s WHERE repo_id = %s AND path = %s", (size, mtime_ns, self.repo_id, path)
        )

    def delete_files(self, paths: Iterable[str]) -> list[int]:
        removed: list[int] = []
        for path in paths:
            row = self.conn.execute("SELECT id FROM files WHERE repo_id = %s AND path = %s", (self.repo_id, path)).fetchone()
            if row:
                removed += self._delete_chunks_of(row[0])
                self.conn.execute("DELETE FROM files WHERE repo_id = %s AND id = %s", (self.repo_id, row[0]))
        return removed

    def _delete_chunks_of(self, file_id: int) -> list[int]:
        rows = self.conn.execute(
            "DELETE FROM chunks WHERE repo_id = %s AND file_id = %s RETURNING id, lexical_len", (self.repo_id, file_id)
        ).fetchall()
        if rows:
            self._count(-len(rows), -sum(r[1] for r in rows))
            self.conn.execute("DELETE FROM codesearch_meta WHERE key = 'orphans_bounded'")
        return [int(r[0]) for r in rows]

    def _count(self, chunks: int, tokens: int) -> None:
        self.conn.execute(
            "UPDATE repos SET chunks = chunks + %s, lexical_tokens = lexical_tokens + %s WHERE id = %s",
            (chunks, tokens, self.repo_id),
        )

    def replace_file(
        self, path: str, language: str, size: int, mtime_ns: int, digest: str,
        chunks: Sequence[Chunk], vector_keys: Sequence[str], lexical: Sequence[tuple[str, str]],
    ) -> tuple[list[int], list[int]]:
        """Swap a file's chunks for new ones, each with its cached vector copied in; returns
        (removed chunk ids, added chunk ids)."""
        row = self.conn.execute("SELECT id FROM files WHERE repo_id = %s AND path = %s", (self.repo_id, path)).fetchone()
        removed = self._delete_chunks_of(row[0]) if row else []
        file_id = self.conn.execute(
            "INSERT INTO files(repo_id, path, language, size, mtime_ns, hash) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (repo_id, path) DO UPDATE SET language = excluded.language, size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, hash = excluded.hash RETURNING id",
            (self.repo_id, path, language, size, mtime_ns, digest),
        ).fetchone()[0]
        if not chunks:
            return removed, []
        lengths = [len(name.split()) + len(body.split()) for name, body in lexical]
        columns = (
            [c.kind for c in chunks], [_text(c.symbol) for c in chunks], [c.start_line for c in chunks],
            [c.end_line for c in chunks], [_text(c.text) for c in chunks], list(vector_keys),
            [name for name, _ in lexical], [body for _, body in lexical], lengths,
        )
        added = self.conn.execute(
            "INSERT INTO chunks(repo_id, file_id, kind, symbol, start_line, end_line, text, vector_key, embedding, lexemes, lexical_len) "
            "SELECT %s, %s, c.kind, c.symbol, c.start_line, c.end_line, c.text, c.key, v.embedding, "
            "setweight(to_tsvector('simple', c.name), 'A') || setweight(to_tsvector('simple', c.body), 'B'), c.len "
            "FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[]) "
            "WITH ORDINALITY AS c(kind, symbol, start_line, end_line, text, key, name, body, len, n) "
            "LEFT JOIN vectors v ON v.signature = %s AND v.key = c.key ORDER BY c.n RETURNING id",
            (self.repo_id, file_id, *columns, self.signature),
        ).fetchall()
        self._count(len(chunks), sum(lengths))
        return removed, [int(r[0]) for r in added]

    @property
    def signature(self) -> str:
        if self._signature is None:
            self._signature = json.loads(self.get_meta("embedder") or "{}").get("signature", "")
        return self._signature

    def missing_vector_keys(self, keys: Iterable[str], signature: str) -> set[str]:
        wanted = list(set(keys))
        rows = self.conn.execute("SELECT key FROM vectors WHERE signature = %s AND key = ANY(%s)", (signature, wanted))
        return set(wanted) - {r[0] for r in rows}

    def put_vectors(self, keys: Sequence[str], matrix: np.ndarray, signature: str, *, with_chunks: bool = False) -> None:
        from pgvector import HalfVector

        rows = np.asarray(matrix, dtype=np.float16)
        with self.conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO vectors(signature, key, embedding) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(signature, key, HalfVector(rows[i])) for i, key in enumerate(keys)],
            )
        if not with_chunks:
            self.conn.execute("DELETE FROM codesearch_meta WHERE key = 'orphans_bounded'")

    def may_hold_orphan_vectors(self) -> bool:
        return self.get_meta("orphans_bounded") is None

    def drop_orphan_vectors(self) -> int:
        """Unused vectors of the whole database beyond `store.orphan_budget`, oldest first.

        The keys in use are gathered first (a materialized CTE): on Citus the cache, a table of the
        coordinator's, cannot be joined to the distributed chunks ("direct joins between distributed
        and local tables are not supported"), while the shards can each send their distinct keys."""
        chunks = int(self.conn.execute("SELECT COALESCE(sum(chunks), 0) FROM repos").fetchone()[0])
        deleted = self.conn.execute(
            "WITH used AS MATERIALIZED (SELECT DISTINCT vector_key FROM chunks) "
            "DELETE FROM vectors WHERE (signature, key) IN (SELECT signature, key FROM vectors v WHERE NOT EXISTS "
            "(SELECT 1 FROM used u WHERE u.vector_key = v.key) ORDER BY added DESC OFFSET %s)",
            (orphan_budget(chunks),),
        ).rowcount
        self.set_meta("orphans_bounded", "1")
        return int(deleted)

    def record_sync(self, tokens: int) -> None:
        self.set_meta("last_sync", str(time.time()))
        self.set_meta("tokens_used", str(int(self.get_meta("tokens_used") or 0) + tokens))

    def begin_vectors(self, dims: int) -> None:
        """The vectors are rows here: nothing derived to load."""

    def committed(self, removed: list[int], added: list[int], vectors: np.ndarray | None, signature: str) -> None:
        """The HNSW index moves with its rows, in the same transaction."""

    def finish_vectors(self, chunks: int, signature: str, dims: int) -> None:
        _vector_index(self.conn, dims)

    def close(self) -> None:
        self.conn.close()


def _text(value: str) -> str:
    """PostgreSQL text holds no NUL character; a source file may."""
    return value.replace("\x00", "\ufffd")


def _file_states(conn: Any, repo_ids: list[int], under: Iterable[str] | None) -> dict[str, FileState]:
    sql = "SELECT path, id, size, mtime_ns, hash FROM files WHERE repo_id = ANY(%s)"
    if under is None:
        rows = conn.execute(sql, (repo_ids,)).fetchall()
    else:
        rows = []
        for path in under:
            rows += conn.execute(
                f"{sql} AND (path = %s OR (path >= %s AND path < %s))", (repo_ids, path, path + "/", path + "0")
            ).fetchall()
    return {path: FileState(fid, size, mtime, digest) for path, fid, size, mtime, digest in rows}


def _counts(conn: Any, repo_ids: list[int]) -> tuple[int, int]:
    files = conn.execute("SELECT count(*) FROM files WHERE repo_id = ANY(%s)", (repo_ids,)).fetchone()[0]
    chunks = conn.execute("SELECT COALESCE(sum(chunks), 0) FROM repos WHERE id = ANY(%s)", (repo_ids,)).fetchone()[0]
    return int(files), int(chunks)


def _chunk_vectors(conn: Any, chunk_ids: Sequence[int] | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, float32 matrix) of the given chunks (what `similar` averages); every chunk's
    vector is never read at once here, since no derived index is built from them."""
    if chunk_ids is None:
        raise CodesearchError("the PostgreSQL store reads vectors of given chunks only")
    rows = conn.execute(
        "SELECT id, embedding FROM chunks WHERE id = ANY(%s) AND embedding IS NOT NULL", (list(chunk_ids),)
    ).fetchall()
    if rows:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, np.stack([r[1].to_numpy() for r in rows]).astype(np.float32)


@dataclass
class _Scope:
    """The repositories a reader searches: all (None), or these ids with their names."""

    ids: list[int] | None
    names: list[str]


class PostgresReader:
    """Queries over one or more repositories of a PostgreSQL store (all, unless narrowed)."""

    def __init__(self, url: str, repos: Sequence[str]) -> None:
        self.url = url
        self.location = redacted(url)
        first = _connect(url)  # one line for a server that cannot be reached, and the schema checked
        try:
            names = [_checked_repo(name) for name in dict.fromkeys(repos)]
            self.scope = _Scope([_repo_id(first, name) for name in names] if names else None, names)
        finally:
            first.close()
        self._pool = _pool(url)
        self._common: dict[str, float] | None = None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection of the pool; StoreUnavailable when none comes within POOL_WAIT_S (the
        server is down or every connection is taken)."""
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection(timeout=POOL_WAIT_S) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable(f"the store is unavailable: {_first_line(exc)}") from None

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """One statement's rows, on a connection of the pool: a reader serves several threads at once."""
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _repo_ids(self) -> list[int]:
        if self.scope.ids is not None:
            return self.scope.ids
        return [r[0] for r in self._rows("SELECT id FROM repos")]

    def get_meta(self, key: str) -> str | None:
        """A repository's setting only where one repository is searched."""
        if key in GLOBAL_KEYS:
            return _meta(self._rows, 0, key)
        ids = self._repo_ids()
        return _meta(self._rows, ids[0], key) if len(ids) == 1 else None

    @property
    def root(self) -> Path:
        """The one searched repository's root; with several, the current directory, so that
        paths show as the repository-relative paths they are."""
        root = self.get_meta("root")
        return Path(root) if root else Path.cwd()

    @property
    def generation(self) -> int:
        return int(self._rows("SELECT COALESCE(sum(generation), 0) FROM repos")[0][0])

    def file_states(self, under: Iterable[str] | None = None) -> dict[str, FileState]:
        with self._connection() as conn:
            return _file_states(conn, self._repo_ids(), under)

    def counts(self) -> tuple[int, int]:
        with self._connection() as conn:
            return _counts(conn, self._repo_ids())

    def chunk_vectors(self, signature: str, chunk_ids: Sequence[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        with self._connection() as conn:
            return iter(list(_chunk_vectors(conn, chunk_ids)))

    def _filters(self, allowed: Allowed, alias: str = "c") -> tuple[str, list[object]]:
        """SQL conditions (with their parameters) for the scope and a filter's chunk ids."""
        sql, params = "", []
        if self.scope.ids is not None:
            sql += f" AND {alias}.repo_id = ANY(%s)"
            params.append(self.scope.ids)
        if allowed is not None:
            sql += f" AND {alias}.id = ANY(%s)"
            params.append(list(allowed))
        return sql, params

    def dense_search(self, vector: np.ndarray, k: int, allowed: Allowed, signature: str) -> list[tuple[int, float]]:
        """Cosine over the HNSW index; iterative scans go on past filtered-out rows until k are found."""
        from pgvector import HalfVector

        dims = len(vector)  # the recorded embedder's: the query was embedded, or averaged, with it
        where, params = self._filters(allowed)
        distance = f"c.embedding::halfvec({dims}) <=> %s::halfvec({dims})"
        query = HalfVector(np.asarray(vector, dtype=np.float16))
        with self._connection() as conn, conn.transaction():
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, int(k))}")
            rows = conn.execute(
                f"SELECT c.id, {distance} AS d FROM chunks c WHERE c.embedding IS NOT NULL{where} ORDER BY d LIMIT %s",
                (query, *params, k),
            ).fetchall()
        return sorted(((int(cid), 1.0 - float(d)) for cid, d in rows), key=lambda item: (-item[1], item[0]))

    def lexical_search(self, words: Sequence[str], limit: int, allowed: Allowed) -> list[tuple[int, float]]:
        """BM25 as SQLite's FTS5 computes it (see the module docstring), over the chunks that
        hold the rarest query words within `store.LEXICAL_BUDGET`, as the local store does."""
        terms = [w for w in dict.fromkeys(words) if _WORD.match(w)]
        where, params = self._filters(allowed)
        common = {} if where else self._common_words()  # estimates hold for the whole table only
        frequencies = {t: round(common[t]) if t in common else self._document_frequency(t, where, params) for t in terms}
        kept = within_budget({t: n for t, n in frequencies.items() if n})
        if not kept:
            return []
        documents, tokens = self._corpus()
        rows = self._rows(
            "SELECT c.id, c.lexical_len, u.lexeme, u.weights FROM chunks c, unnest(c.lexemes) u "
            f"WHERE c.lexemes @@ to_tsquery('simple', %s){where} AND u.lexeme = ANY(%s)",
            (" | ".join(kept), *params, kept),
        )
        return _bm25(rows, {t: frequencies[t] for t in kept}, documents, tokens / max(documents, 1))[:limit]

    def _common_words(self) -> dict[str, float]:
        """The lexemes ANALYZE found in most chunks, with the number of chunks estimated to hold
        each, read once per reader (empty before the first ANALYZE, and on Citus, whose
        coordinator keeps no statistics of the shards). A search of the whole table takes these
        estimates as the common words' document frequencies instead of counting them: counting
        a word held by 17,000 of the kernel's and the peer benchmark's 1.2 million chunks took
        90 ms, and a question often has several (all-repository lexical search for "parse command line
        options" 551 -> 333 ms there)."""
        if self._common is None:
            rows = self._rows(
                "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples FROM pg_stats s "
                "JOIN pg_class c ON c.oid = 'chunks'::regclass "
                "WHERE s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'lexemes'"
            )
            words, shares, chunks = rows[0] if rows and rows[0][0] else ([], [], 0)
            self._common = {word: share * chunks for word, share in zip(words, shares)}
        return self._common

    def _document_frequency(self, term: str, where: str, params: list[object]) -> int:
        """Chunks holding `term`, counted up to LEXICAL_BUDGET + 1 (a common word stops there)."""
        return int(
            self._rows(
                f"SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE c.lexemes @@ to_tsquery('simple', %s){where} LIMIT %s) t",
                (term, *params, LEXICAL_BUDGET + 1),
            )[0][0]
        )

    def _corpus(self) -> tuple[int, int]:
        """Chunks and lexical tokens in the searched repositories (BM25's N and average length)."""
        row = self._rows(
            "SELECT COALESCE(sum(chunks), 0), COALESCE(sum(lexical_tokens), 0) FROM repos WHERE id = ANY(%s)",
            (self._repo_ids(),),
        )[0]
        return int(row[0]), int(row[1])

    def symbols_with_word(self, word: str, allowed: Allowed) -> list[tuple[int, str]]:
        """(chunk id, symbol) of chunks whose name holds `word`, at most store.NAMED_SCAN, in id order."""
        if not _WORD.match(word):
            return []
        where, params = self._filters(allowed)
        rows = self._rows(
            f"SELECT c.id, c.symbol FROM chunks c WHERE c.lexemes @@ to_tsquery('simple', %s){where} ORDER BY c.id LIMIT %s",
            (f"{word}:A", *params, NAMED_SCAN),
        )
        return [(int(cid), symbol) for cid, symbol in rows]

    def chunks_by_ids(self, ids: Sequence[int]) -> dict[int, Chunk]:
        """Narrowed to the searched repositories too, which the ids are of: so that on Citus a
        one-repository search reads one shard here as well."""
        where, params = self._filters(None)
        rows = self._rows(
            "SELECT c.id, f.path, f.language, c.kind, c.symbol, c.start_line, c.end_line, c.text, r.name "
            "FROM chunks c JOIN files f ON f.repo_id = c.repo_id AND f.id = c.file_id JOIN repos r ON r.id = c.repo_id "
            f"WHERE c.id = ANY(%s){where}",
            (list(ids), *params),
        )
        return {int(cid): Chunk(*fields) for cid, *fields in rows}

    def repositories(self) -> list[dict[str, object]]:
        """Files are counted in a joined aggregate, not a subquery per repository: Citus refuses a
        correlated subquery beside a reference table (`repos`)."""
        ids = self._repo_ids()
        rows = self._rows(
            "SELECT r.name, root.value, COALESCE(f.files, 0), r.chunks, synced.value "
            "FROM repos r LEFT JOIN repo_meta root ON root.repo_id = r.id AND root.key = 'root' "
            "LEFT JOIN repo_meta synced ON synced.repo_id = r.id AND synced.key = 'last_sync' "
            "LEFT JOIN (SELECT repo_id, count(*) AS files FROM files WHERE repo_id = ANY(%s) GROUP BY repo_id) f "
            "ON f.repo_id = r.id WHERE r.id = ANY(%s) ORDER BY r.name",
            (ids, ids),
        )
        return [
            {"repo": name, "root": root or "", "files": int(files), "chunks": int(chunks), "last_sync": float(synced) if synced else None}
            for name, root, files, chunks, synced in rows
        ]

    def chunk_ids_where(self, language: str | None, path_matches: Callable[[str], bool] | None) -> list[int]:
        where, params = self._filters(None, "f")
        files = self._rows(f"SELECT f.id, f.path, f.language FROM files f WHERE true{where}", params)
        file_ids = [
            fid for fid, path, lang in files
            if (language is None or lang == language) and (path_matches is None or path_matches(path))
        ]
        where, params = self._filters(None)
        return [int(r[0]) for r in self._rows(f"SELECT c.id FROM chunks c WHERE c.file_id = ANY(%s){where}", (file_ids, *params))]


def grant_sql(role: str, repos: Sequence[str]) -> list[tuple[str, tuple]]:
    """The statements `codesearch grant` runs, with their parameters (README shows them)."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        (f"GRANT SELECT ON {', '.join(_READ_TABLES)} TO {quoted}", ()),
        (
            "INSERT INTO codesearch_grants(role, repo_id) SELECT %s, id FROM repos WHERE name = ANY(%s) ON CONFLICT DO NOTHING",
            (role, list(repos)),
        ),
    ]


def revoke_sql(role: str, repos: Sequence[str]) -> list[tuple[str, tuple]]:
    """The statement `codesearch revoke` runs: the role keeps its table rights, which show it
    no row of a repository it holds no grant for."""
    return [("DELETE FROM codesearch_grants WHERE role = %s AND repo_id IN (SELECT id FROM repos WHERE name = ANY(%s))", (role, list(repos)))]


def change_access(url: str, statements: list[tuple[str, tuple]], role: str, repos: Sequence[str]) -> None:
    """Run `grant_sql` or `revoke_sql` in one transaction; an unknown role or repository is an
    error, and so is a store without the grant policies (one distributed by Citus)."""
    conn = _connect(url)
    try:
        if not _guards_repositories(conn):
            raise CodesearchError(
                "this store cannot keep repositories from each other's readers: Citus, which distributes its "
                "tables, refuses the row-level security policies that grants need; give those readers a database of their own"
            )
        known = {r[0] for r in conn.execute("SELECT name FROM repos WHERE name = ANY(%s)", (list(repos),))}
        missing = [name for name in repos if name not in known]
        if missing:
            raise CodesearchError(f"the store holds no repository {missing[0]!r}; see `codesearch status --store ...`")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            raise CodesearchError(f"there is no role {role!r} in the database; create it first: CREATE ROLE {role} LOGIN")
        with conn.transaction():
            for statement, params in statements:
                conn.execute(statement, params)
    finally:
        conn.close()


def _guards_repositories(conn: Any) -> bool:
    """Whether the grant policies are there (`_create_schema` makes none on Citus)."""
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = current_schema() AND policyname = 'codesearch_granted')"
    ).fetchone()[0]


def _bm25(rows: list[tuple], frequencies: dict[str, int], documents: int, average: float) -> list[tuple[int, float]]:
    """(chunk id, score) best first, from (id, length, lexeme, weights) rows: FTS5's formula,
    idf log((N - n + 0.5) / (n + 0.5)) floored at 1e-6, a name position counting _NAME_WEIGHT."""
    idf = {t: max(math.log((documents - n + 0.5) / (n + 0.5)), 1e-6) for t, n in frequencies.items()}
    scores: dict[int, float] = {}
    for cid, length, lexeme, weights in rows:
        tf = sum(_NAME_WEIGHT if w == "A" else 1.0 for w in weights)
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * length / max(average, 1e-9))
        scores[cid] = scores.get(cid, 0.0) + idf[lexeme] * tf * (_BM25_K1 + 1) / (tf + norm)
    return sorted(((int(cid), s) for cid, s in scores.items()), key=lambda item: (-item[1], item[0]))


def open_reader(
    location: str | Path | None, *, repos: Sequence[str], start: Path | None, on_notice: Callable[[str], None] | None,
) -> PostgresReader:
    """`repos` narrows the search (default every repository); the rest is the local store's concern."""
    return PostgresReader(str(location), repos)
