"""`codesearch status`: what an index holds, and how far the files have moved since."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from codesearch.config import load_config
from codesearch.files import discover
from codesearch.indexer import CHUNK_SIZE_KEY, rechunks_every_file, stat_changed
from codesearch.locate import find_index
from codesearch.store import FileState, Store


@dataclass(frozen=True)
class IndexStatus:
    root: str
    index_dir: str
    embedder: str
    files: int
    chunks: int
    bytes_on_disk: int
    last_sync: float | None
    changed_since: int
    tokens_used: int


def index_status(index_dir: Path | None = None, start: Path | None = None) -> IndexStatus:
    """Compares stat data only (no reads), so it stays quick on large trees. The index is
    `index_dir`, else found walking up from `start` (default: the current directory). The root
    walked is the one the index records, which `Store.open` trusts only in an index built where
    it lies."""
    found = find_index(index_dir, start=start)
    store = Store.open(found)
    try:
        root = Path(store.get_meta("root") or found.parent)
        files, chunks = store.counts()
        states = store.file_states()
        embedder = json.loads(store.get_meta("embedder") or "{}").get("signature", "")
        last_sync = store.get_meta("last_sync")
        tokens = int(store.get_meta("tokens_used") or 0)
        chunk_size = store.get_meta(CHUNK_SIZE_KEY)
    finally:
        store.close()
    return IndexStatus(
        root=str(root),
        index_dir=str(found),
        embedder=embedder,
        files=files,
        chunks=chunks,
        bytes_on_disk=_bytes_on_disk(found),
        last_sync=float(last_sync) if last_sync else None,
        changed_since=_changed_since(root, found, states, chunk_size),
        tokens_used=tokens,
    )


def store_status(url: str, repos: list[str]) -> dict:
    """A store's repositories (those `repos` names, else all the reader may see), each with
    its root, files, chunks and last sync, and the store's embedder."""
    from codesearch.stores import open_reader

    reader = open_reader(url, repos=repos)
    try:
        embedder = json.loads(reader.get_meta("embedder") or "{}").get("signature", "")
        return {"store": reader.location, "embedder": embedder, "repositories": reader.repositories()}
    finally:
        reader.close()


def _bytes_on_disk(index_dir: Path) -> int:
    """What the plain files in the index directory take; links are not followed out of it."""
    with os.scandir(index_dir) as entries:
        return sum(entry.stat(follow_symlinks=False).st_size for entry in entries if entry.is_file(follow_symlinks=False))


def _changed_since(root: Path, index_dir: Path, states: dict[str, FileState], chunk_size: str | None) -> int:
    """Files added, modified (by size or mtime) or deleted since the last sync; every file when
    the configured chunk size differs from the one the index was chunked with."""
    if not root.is_dir():
        return len(states)
    settings = load_config(root, index_dir)
    rechunk = rechunks_every_file(chunk_size, settings.chunk_size)
    seen: set[str] = set()
    changed = 0
    found = discover(
        root, index_dir=index_dir, max_bytes=settings.max_file_size, ignore=settings.ignore, languages=settings.languages
    )
    for source in found:
        seen.add(source.path)
        changed += rechunk or stat_changed(states.get(source.path), source)
    return changed + sum(1 for path in states if path not in seen)
