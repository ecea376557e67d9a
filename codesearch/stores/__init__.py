"""Where an index lives: one small interface, two implementations chosen by the location.

As httpx plugs transports, a `postgresql://` URL opens `stores.postgres` (many repositories in
one PostgreSQL database with pgvector), and anything else is a local index directory
(`stores.local`: SQLite + FAISS under `.codesearch/`). The indexer, searcher, watcher and
servers talk to these protocols only, never to an implementation by name.

A `Target` is where a sync of one root writes; it opens a `Writer` under the target's writer
lock. A `Reader` answers queries. Both hand out chunk ids, unique within their store.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol, Sequence
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import numpy as np

    from codesearch.embedders import EmbedderSpec
    from codesearch.models import Chunk
    from codesearch.store import FileState

SCHEMES = {"postgresql": "codesearch.stores.postgres", "postgres": "codesearch.stores.postgres"}
"""URL schemes and the module that serves each; a location without one is a local directory."""
LOCAL = "codesearch.stores.local"

Allowed = Sequence[int] | None
"""The chunk ids a filter leaves, None for all."""


class Storage(Protocol):
    """What readers and writers share: the store's records of files, chunks and settings."""

    def get_meta(self, key: str) -> str | None: ...

    @property
    def generation(self) -> int: ...

    def file_states(self, under: Iterable[str] | None = None) -> dict[str, FileState]: ...

    def counts(self) -> tuple[int, int]: ...

    def chunk_vectors(
        self, signature: str, chunk_ids: Sequence[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def close(self) -> None: ...


class Reader(Storage, Protocol):
    """An open index as queries see it (`Searcher`)."""

    location: str
    """Where the index is, for messages: a directory, or a URL without its password."""

    @property
    def root(self) -> Path: ...

    def dense_search(self, vector: np.ndarray, k: int, allowed: Allowed, signature: str) -> list[tuple[int, float]]: ...

    def lexical_search(self, words: Sequence[str], limit: int, allowed: Allowed) -> list[tuple[int, float]]: ...

    def symbols_with_word(self, word: str, allowed: Allowed) -> list[tuple[int, str]]: ...

    def chunks_by_ids(self, ids: Sequence[int]) -> dict[int, Chunk]: ...

    def chunk_ids_where(self, language: str | None, path_matches: Callable[[str], bool] | None) -> list[int]: ...

    def repositories(self) -> list[dict[str, object]]:
        """Each repository searched: repo, root, files, chunks, last_sync (epoch seconds or None)."""


class Writer(Storage, Protocol):
    """One sync's view of its target, under the target's writer lock (`indexer.sync`)."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def bump_generation(self) -> int: ...

    def clear(self) -> None: ...

    def claim(self, root: Path, full: bool) -> None:
        """Make this target serve `root`; another root's index is refused unless `full`."""

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None: ...

    def delete_files(self, paths: Iterable[str]) -> list[int]: ...

    def replace_file(
        self, path: str, language: str, size: int, mtime_ns: int, digest: str,
        chunks: Sequence[Chunk], vector_keys: Sequence[str], lexical: Sequence[tuple[str, str]],
    ) -> tuple[list[int], list[int]]: ...

    def missing_vector_keys(self, keys: Iterable[str], signature: str) -> set[str]: ...

    def put_vectors(self, keys: Sequence[str], matrix: np.ndarray, signature: str, *, with_chunks: bool = False) -> None: ...

    def may_hold_orphan_vectors(self) -> bool: ...

    def drop_orphan_vectors(self) -> int: ...

    def record_sync(self, tokens: int) -> None: ...

    def begin_vectors(self, dims: int) -> None:
        """Before the first commit: load whatever derived vector index this store keeps."""

    def committed(self, removed: list[int], added: list[int], vectors: np.ndarray | None, signature: str) -> None:
        """After a commit: keep the derived vector index in step (`vectors`: the added chunks', when in hand)."""

    def finish_vectors(self, chunks: int, signature: str, dims: int) -> None:
        """At the end of a sync, even a failed one: save the derived vector index."""


class Target(Protocol):
    """Where a sync of one root writes."""

    location: str
    skip_dir: Path | None
    """A directory under the root that the walk must leave out (the index's own), or None."""

    def prior(self) -> tuple[bool, EmbedderSpec | None]:
        """Whether what is there must not be trusted (a writer rebuilds it from scratch), and
        the embedder a trusted index records."""

    def has_index(self) -> bool: ...

    def writing(self, writer: str, wait: float | None, full: bool) -> AbstractContextManager[Writer]:
        """The open writer, under this target's writer lock: IndexBusy after `wait` seconds."""


def is_url(location: object) -> bool:
    """Whether `location` names a store by URL (a registered scheme) rather than a directory."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in SCHEMES and "://" in location


def store_url(value: object) -> str:
    """A store URL of a registered scheme; else ValueError (a setting's check)."""
    if not isinstance(value, str) or not is_url(value.strip()):
        raise ValueError(f"expected a store URL ({', '.join(f'{s}://...' for s in SCHEMES)}), got {value!r}")
    return value.strip()


def redacted(url: str) -> str:
    """A store URL without its password, for messages, reports and `codesearch config`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _module(location: object) -> ModuleType:
    """The implementation's module, imported only when used (a local `ask` never loads psycopg)."""
    return importlib.import_module(SCHEMES[str(location).split("://", 1)[0].lower()] if is_url(location) else LOCAL)


def open_reader(
    location: str | Path | None, *, repos: Sequence[str] = (), start: Path | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Reader:
    """The index a query reads: a store URL, else a local index directory (found from `start`
    walking up when None). `repos` narrows a many-repository store; `on_notice` hears what a
    reader repaired on its own."""
    return _module(location).open_reader(location, repos=repos, start=start, on_notice=on_notice)


def target_for(root: Path, location: str | Path | None = None, *, repo: str | None = None, kept: object = None) -> Target:
    """Where a sync of `root` writes: a store URL (with `repo`, default the root's name), else
    a local index directory (default ROOT/.codesearch). `kept` is state a long-lived writer
    (a watcher) carries from one sync to the next; stores that keep none ignore it."""
    return _module(location).target_for(root, location, repo=repo, kept=kept)
