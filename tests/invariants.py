"""What must hold of an index whatever happened to it: checked directly in SQLite and the FAISS file.

Shared by tests/test_crash.py, tests/test_concurrency.py and benchmarks/faults.py. The checks
read the files themselves, not through the library's search path, so a bug that the search
path papers over (a hit resolved in SQLite hides a stale FAISS id) still shows here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import faiss
import numpy as np

from codesearch.files import discover
from codesearch.store import DB_NAME, ORPHANS_BOUNDED, lexical_fields, orphan_budget
from codesearch.vectors import VECTORS_NAME, VectorIndex


def check_invariants(index_dir: Path, *, root: Path | None = None) -> None:
    """Assert that the index in `index_dir` is whole; with `root`, also that it matches the files there.

    Whole: SQLite passes its integrity check; every chunk belongs to a file, has its vector
    and its lexical row, and appears once; the lexical index holds exactly the chunks' terms
    (`lexical_terms`); no more vectors are unused than their budget while the store records so (`ORPHANS_BOUNDED`);
    the FAISS file is current for the store's
    generation and holds exactly one vector per chunk, equal to the chunk's vector in SQLite.
    Matching `root` (after a completed sync): the indexed files are exactly those discovery
    finds, with the same size and mtime, so no chunk of a deleted file remains.
    """
    with closing(sqlite3.connect(index_dir / DB_NAME)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        _check_rows(db)
        assert lexical_terms(db) == expected_lexical_terms(db), "the lexical index holds terms that its chunks do not"
        _check_faiss(db, index_dir)
        if root is not None:
            _check_synced(db, root, index_dir)


def chunk_rows(index_dir: Path) -> set[tuple[str, int, int, str, str]]:
    """(path, start, end, symbol, text) of every chunk: what two indexes of the same files share."""
    with closing(sqlite3.connect(index_dir / DB_NAME)) as db:
        return set(db.execute(
            "SELECT f.path, c.start_line, c.end_line, c.symbol, c.text FROM chunks c JOIN files f ON f.id = c.file_id"
        ))


def db_counts(index_dir: Path) -> tuple[int, int]:
    """(files, chunks) as the database holds them, for checking what `status` says."""
    with closing(sqlite3.connect(index_dir / DB_NAME)) as db:
        return db.execute("SELECT (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM chunks)").fetchone()


def lexical_terms(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """term -> (chunks holding it, occurrences), read from the full-text index itself.

    The index is contentless, so a chunk's removal must repeat its inserted terms exactly; a
    mismatch leaves stale terms that SQLite's own checks do not notice, but this count does.
    """
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_vocab USING fts5vocab(main, chunks_fts, 'row')")
    return {term: (docs, count) for term, docs, count in db.execute("SELECT term, doc, cnt FROM temp.lexical_vocab") if docs}


def expected_lexical_terms(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """What `lexical_terms` must be: recomputed from every chunk row."""
    docs: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for path, symbol, text in db.execute("SELECT f.path, c.symbol, c.text FROM chunks c JOIN files f ON f.id = c.file_id"):
        terms = " ".join(lexical_fields(path, symbol, text)).split()
        counts.update(terms)
        docs.update(set(terms))
    return {term: (docs[term], counts[term]) for term in counts}


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _check_rows(db: sqlite3.Connection) -> None:
    orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
    assert orphans == 0, f"{orphans} chunks belong to no file"
    rows = Counter(db.execute("SELECT file_id, start_line, end_line, kind, symbol, text FROM chunks"))
    duplicates = [row[:5] for row, count in rows.items() if count > 1]
    assert not duplicates, f"duplicate chunks: {duplicates[:5]}"
    chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
    fts_ids = {r[0] for r in db.execute("SELECT rowid FROM chunks_fts")}
    assert fts_ids == chunk_ids, f"lexical rows differ from chunks: {len(fts_ids - chunk_ids)} extra, {len(chunk_ids - fts_ids)} missing"
    if chunk_ids:
        signature = json.loads(_meta(db, "embedder") or "{}").get("signature")
        without = db.execute(
            "SELECT COUNT(*) FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.key = c.vector_key AND v.signature = ?)",
            (signature,),
        ).fetchone()[0]
        assert without == 0, f"{without} chunks have no vector for {signature}"
    if _meta(db, ORPHANS_BOUNDED) is not None:
        unused = db.execute("SELECT COUNT(*) FROM vectors WHERE key NOT IN (SELECT vector_key FROM chunks)").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        assert unused <= orphan_budget(chunks), f"{unused} vectors belong to no chunk, over the budget the store records"


def _check_faiss(db: sqlite3.Connection, index_dir: Path) -> None:
    chunk_ids = sorted(r[0] for r in db.execute("SELECT id FROM chunks"))
    if not chunk_ids and _meta(db, "embedder") is None:
        return  # killed before the first sync recorded its embedder: nothing to search yet
    embedder = json.loads(_meta(db, "embedder") or "{}")
    generation = int(_meta(db, "generation") or 0)
    loaded = VectorIndex.load(index_dir / VECTORS_NAME, generation, embedder["dims"], max(chunk_ids, default=0))
    assert loaded is not None, f"{VECTORS_NAME} is missing, stale or damaged for generation {generation}"
    ids = faiss.vector_to_array(loaded.index.id_map)
    assert len(ids) == len(set(ids.tolist())), "duplicate ids in the FAISS index"
    assert sorted(ids.tolist()) == chunk_ids, (
        f"FAISS ids differ from chunk ids: {len(set(ids.tolist()) - set(chunk_ids))} without a chunk, "
        f"{len(set(chunk_ids) - set(ids.tolist()))} chunks without a vector"
    )
    if chunk_ids:
        stored = _stored_vectors(db, embedder["signature"], embedder["dims"])
        expected = np.stack([stored[i] for i in ids.tolist()])
        assert np.allclose(loaded.index.reconstruct_batch(ids), expected, atol=1e-3), "a FAISS vector differs from its chunk's vector"


def _stored_vectors(db: sqlite3.Connection, signature: str, dims: int) -> dict[int, np.ndarray]:
    rows = db.execute(
        "SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.key = c.vector_key AND v.signature = ?", (signature,)
    )
    return {cid: np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(dims) for cid, blob in rows}


def files_out_of_step(index_dir: Path, root: Path) -> list[str]:
    """Files added, deleted or changed (size or mtime) on disk since they were indexed: what `status` must count."""
    with closing(sqlite3.connect(index_dir / DB_NAME)) as db:
        return _out_of_step(db, root, index_dir)


def _out_of_step(db: sqlite3.Connection, root: Path, index_dir: Path) -> list[str]:
    on_disk = {source.path: (source.size, source.mtime_ns) for source in discover(root, index_dir=index_dir)}
    indexed = {path: (size, mtime) for path, size, mtime in db.execute("SELECT path, size, mtime_ns FROM files")}
    return sorted(path for path in on_disk.keys() | indexed.keys() if on_disk.get(path) != indexed.get(path))


def _check_synced(db: sqlite3.Connection, root: Path, index_dir: Path) -> None:
    differing = _out_of_step(db, root, index_dir)
    assert not differing, f"{len(differing)} files differ between the index and the disk, such as {differing[:5]}"
