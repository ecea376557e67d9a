"""FAISS index over chunk ids: derived from the store, saved atomically, never trusted blindly.

Two kinds, chosen by corpus size (benchmarks/scale.py measures both):
- exact: inner product over float32 vectors (cosine), while the index is small enough that
  loading it costs little;
- binary: two bits per dimension, the signs of the vector minus the corpus mean under a fixed
  random Gaussian projection, searched by Hamming distance for a candidate pool that the caller
  re-ranks with the exact float16 vectors from SQLite. 64 bytes a vector instead of 1 KiB: a
  fresh `ask` loads it at once. On the Linux kernel's 1.15M chunks with the v2 model, recall@10
  of 700 re-ranked candidates was 0.966 (0.990 with v3); one bit per dimension needed 1,500 for
  that (0.944 at 1,000).

The file holds a magic line, the store generation it was built at, the kind, the dimensions
and the number of vectors, then their chunk ids, their rows (float32 vectors or binary codes),
the projection of the binary codes, and a SHA-256 digest of it all (SHA-256 rather than BLAKE2:
with the SHA extensions of current x86 and ARM cores it hashes 2.3 times as fast, 47 ms for the
kernel's 83 MB file against 109 ms). A file whose generation differs from
the store's, whose sizes are not exactly what its header implies, or whose digest fails, is
stale or corrupt and is rebuilt from SQLite. The file may come from anywhere (a repository can
carry one, with a valid digest: the digest guards against accidents, not intent), so FAISS never
parses it: its own format let a 1 KB file make FAISS allocate gigabytes. Its sizes are checked
against the store before it is read.

A first search is numpy over the rows where they lie: a loaded file memory-mapped. A fresh
`ask` then never imports FAISS (which took longer than the whole search) nor copies the vectors
into it. FAISS holds the vectors that a writer adds and removes, and a loaded index is copied
into it on its first change, or, for the binary kind, on its second search: FAISS's Hamming
search is seven times as fast as numpy's, which a process that asks again earns back at once.
"""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
import struct
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from codesearch.errors import CodesearchError
from codesearch.locate import VECTORS_NAME as VECTORS_NAME  # its name, defined with the index directory's other files
from codesearch.locate import open_state_file

if TYPE_CHECKING:
    import faiss

EXACT_MAX = 100_000
"""Above this many vectors the binary kind is used (an exact index of 100k 256-d vectors is 100 MB)."""
RERANK_CANDIDATES = 700
"""Hamming candidates re-ranked exactly per query by the binary kind."""

_CODE_ROWS = 20_000
"""Vectors coded at a time when an index turns binary: the float32 product of all 100k at once
held 200 MB more at the peak of a first index (mixed: 1,034 -> 1,428 MiB)."""
_MAGIC = b"CODESEARCH-VEC4\n"  # 16 bytes, so that the arrays after the 48-byte head are 8-byte aligned
_HEADER = struct.Struct("<qqqq")  # generation, kind, dims, vectors
_DIGEST_BYTES = 32
_STALE_SLACK = 1024
"""Vectors beyond twice the store's largest chunk id that a file may hold (see `_most_vectors`)."""
_TEMPORARY_PREFIX = ".vectors-"
_EXACT, _BINARY = 0, 2  # kind 1, one bit per dimension, is read as stale and rebuilt
_PROJECTION_SEED = 0

ExactVectors = Callable[[Sequence[int]], Iterable[tuple[np.ndarray, np.ndarray]]]
"""(ids, float32 matrix) batches for the given chunk ids: how the binary kind re-ranks."""


class VectorIndex:
    """Nearest chunks by cosine over normalised vectors, keyed by chunk id."""

    def __init__(
        self, dims: int, index: faiss.Index | faiss.IndexBinary | None = None, projection: np.ndarray | None = None,
        loaded: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.dims = dims
        self.projection = projection
        """Binary kind: (dims + 1, bits) float32, the code bits are the signs of [vector, 1] @ projection."""
        self._loaded = loaded
        """A loaded file's (ids, rows), memory-mapped, until a change needs a FAISS index."""
        if index is None and loaded is None:
            index = _faiss().IndexIDMap2(_faiss().IndexFlatIP(dims))
        self._index = index
        self._searches = 0

    @property
    def index(self) -> faiss.Index | faiss.IndexBinary:
        """The FAISS index; a loaded file's arrays are copied into one on first use."""
        if self._index is None:
            assert self._loaded is not None
            ids, rows = self._loaded
            empty = VectorIndex(self.dims) if self.projection is None else VectorIndex._binary(self.dims, self.projection)
            empty.index.add_with_ids(rows, ids)
            self._index, self._loaded = empty.index, None
        return self._index

    @classmethod
    def for_size(cls, dims: int, size: int, sample: Callable[[], np.ndarray]) -> "VectorIndex":
        """An empty index of the kind that suits `size` vectors; the binary kind centres its
        codes on the mean of `sample()`, a sample of the corpus's vectors."""
        return cls(dims) if size <= EXACT_MAX else cls._binary(dims, _projection(sample().mean(axis=0)))

    @classmethod
    def _binary(cls, dims: int, projection: np.ndarray) -> "VectorIndex":
        """An empty index of the binary kind, coding with `projection`."""
        faiss = _faiss()
        # IDMap, not IDMap2: IDMap2 keeps a reverse map that loading rebuilds, 0.6 s at 1M codes
        return cls(dims, faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(_code_bits(dims))), projection)

    def as_binary(self) -> "VectorIndex":
        """This exact index's vectors in the binary kind, centred on their own mean: what an
        index built as chunks are written becomes when it outgrows EXACT_MAX. The mean of the
        first vectors written serves as well as a random sample's (the Linux kernel, v3 model:
        recall@10 0.990 centred on its first 100k chunks, 0.990 on a random 20k). The vectors are
        read in place and coded a slice at a time, so the turn costs little memory."""
        ids, matrix = self._stored()
        binary = VectorIndex._binary(self.dims, _projection(matrix.mean(axis=0)))
        for start in range(0, len(self), _CODE_ROWS):
            binary.add(ids[start : start + _CODE_ROWS], matrix[start : start + _CODE_ROWS])
        return binary

    def _stored(self) -> tuple[np.ndarray, np.ndarray]:
        """The chunk ids and the rows held for them, in order: float32 vectors, or the binary
        kind's codes. The rows are the mapped file or FAISS's own memory, never a copy."""
        if self._loaded is not None:
            return self._loaded
        faiss = _faiss()
        ids = faiss.vector_to_array(self.index.id_map)
        if self.binary:
            codes = faiss.downcast_IndexBinary(self.index.index)
            width, start = codes.code_size, codes.xb.data()
        else:
            width, start = self.dims, faiss.downcast_index(self.index.index).get_xb()
        return ids, faiss.rev_swig_ptr(start, len(self) * width).reshape(len(self), width)

    @property
    def binary(self) -> bool:
        return self.projection is not None

    def suits(self, size: int) -> bool:
        """Whether this kind is the one `for_size` picks for an index of `size` vectors."""
        return self.binary == (size > EXACT_MAX)

    def __len__(self) -> int:
        return len(self._loaded[0]) if self._loaded is not None else int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.binary:
            vectors = self._codes(vectors)
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self, query: np.ndarray, k: int, allowed: list[int] | None = None, exact: ExactVectors | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first; `allowed` restricts the candidates (filters).

        The binary kind needs `exact` to score its candidates; without it the scores are
        negated Hamming distances.
        """
        if len(self) == 0 or k <= 0 or allowed == []:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        pool = k if not self.binary else max(k, RERANK_CANDIDATES)
        self._searches += 1
        if self.binary and (self._index is not None or self._searches > 1):
            found = self._faiss_nearest(self._codes(query), pool, allowed)
        else:
            found = self._numpy_nearest(query, pool, allowed)
        if not self.binary or exact is None:
            return found[:k]
        return _rerank(query[0], [cid for cid, _ in found], exact)[:k]

    def _numpy_nearest(self, query: np.ndarray, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        """The `pool` nearest rows by a scan where they lie, with no FAISS import or copy: what a
        process that asks once needs."""
        ids, rows = self._stored()
        # lowest first: negated cosines, or Hamming distances (at most 2 bits a dimension)
        costs = -(rows @ query[0]) if not self.binary else _hamming(rows, self._codes(query)[0])
        if allowed is not None:
            keep = np.isin(ids, np.asarray(allowed, dtype=np.int64))
            costs[~keep] = np.inf if not self.binary else np.iinfo(costs.dtype).max
            pool = min(pool, int(keep.sum()))
        best = _lowest(costs, pool)
        return list(zip(ids[best].tolist(), (-costs[best].astype(np.float64)).tolist()))

    def _faiss_nearest(self, codes: np.ndarray, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        """The `pool` nearest codes by FAISS's Hamming search: 5 ms against numpy's 35 ms over
        the Linux kernel's 1.15M codes, so a process that asks again (`ask --batch`, `watch`,
        `mcp`) copies a loaded file into FAISS once (50 ms there) and searches it from then on."""
        faiss = _faiss()
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        distances, ids = self.index.search(codes, min(pool, len(self)), params=params)
        return [(int(i), -float(d)) for i, d in zip(ids[0], distances[0]) if i >= 0]

    def _codes(self, vectors: np.ndarray) -> np.ndarray:
        assert self.projection is not None
        return np.packbits(vectors @ self.projection[:-1] + self.projection[-1] > 0, axis=1)

    def save(self, path: Path, generation: int) -> None:
        """Write to a temporary file and rename, so readers see the old or the new file whole.

        The rows are hashed and written from where they are held, never copied: at a million
        codes each copy costs about 0.05 s of every watch batch.
        """
        ids, rows = self._stored()
        head = _MAGIC + _HEADER.pack(generation, _BINARY if self.binary else _EXACT, self.dims, len(ids))
        projection = np.asarray(() if self.projection is None else self.projection, dtype=np.float32)
        parts = [head, _raw(ids), _raw(rows), _raw(projection)]
        digest = _digest(*parts)
        fd, tmp = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in (*parts, digest):
                    out.write(part)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, generation: int | None, dims: int, largest_id: int) -> "VectorIndex | None":
        """The saved index if it is whole and of `generation` (of any, for None), else None.

        `largest_id`, the store's largest chunk id, bounds how large a file may be before any of
        it is read (see `_most_vectors`); the rest must be exactly what the header implies.
        """
        most = _most_vectors(largest_id)
        data = _map_plain(path, max(_file_size(kind, dims, most) for kind in (_EXACT, _BINARY)))
        head = len(_MAGIC) + _HEADER.size
        if data is None or len(data) < head or data[: len(_MAGIC)] != _MAGIC:
            return None
        saved_generation, kind, saved_dims, count = _HEADER.unpack_from(data, len(_MAGIC))
        if generation not in (None, saved_generation) or saved_dims != dims or kind not in (_EXACT, _BINARY):
            return None
        if len(data) != _file_size(kind, dims, count) or data[-_DIGEST_BYTES:] != _digest(memoryview(data)[:-_DIGEST_BYTES]):
            return None
        dtype, width, floats = _layout(kind, dims)
        ids = np.frombuffer(data, np.int64, count, head)
        rows = np.frombuffer(data, dtype, count * width, head + ids.nbytes).reshape(count, width)
        projection = None
        if kind == _BINARY:
            projection = np.frombuffer(data, np.float32, floats, head + ids.nbytes + rows.nbytes).reshape(dims + 1, -1)
        return cls(dims, projection=projection, loaded=(ids, rows))


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of a vector file, None when there is none: every save renames a new
    file into place, so a saved file is the one seen before while its identity is unchanged."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def remove_stale_temporaries(index_dir: Path, older_than: float = 60.0) -> None:
    """Delete temporary files that a killed save left behind (call with the writer lock held).

    Readers save rebuilt files too, so only files older than any save takes are removed.
    """
    cutoff = time.time() - older_than
    for path in index_dir.glob(f"{_TEMPORARY_PREFIX}*"):
        try:
            if path.lstat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


def _most_vectors(largest_id: int) -> int:
    """The most vectors a file may hold for a store whose largest chunk id is `largest_id`: no
    more than there are chunks, except in the older file a reader serves while a writer replaces
    it, which may hold chunks deleted since; twice as many and some leave room for that."""
    return 2 * largest_id + _STALE_SLACK


def _layout(kind: int, dims: int) -> tuple[np.dtype, int, int]:
    """(row type, values per row, projection floats) of a file of `kind`."""
    if kind == _EXACT:
        return np.dtype(np.float32), dims, 0
    bits = _code_bits(dims)
    return np.dtype(np.uint8), bits // 8, (dims + 1) * bits


def _file_size(kind: int, dims: int, count: int) -> int:
    """The exact size of a file of `kind` holding `count` vectors."""
    dtype, width, floats = _layout(kind, dims)
    return len(_MAGIC) + _HEADER.size + count * (8 + width * dtype.itemsize) + 4 * floats + _DIGEST_BYTES


def _map_plain(path: Path, most_bytes: int) -> mmap.mmap | None:
    """The file memory-mapped, read-only, if it is a plain file of 1 to `most_bytes` bytes,
    opened as codesearch opens all its own files (`locate.open_state_file`: no link followed,
    no FIFO waited on); else None. Every save renames a new file into place, so the mapped
    one never changes under its readers."""
    try:
        fd = open_state_file(path, os.O_RDONLY)
    except (OSError, CodesearchError):
        return None
    try:
        size = os.fstat(fd).st_size
        return mmap.mmap(fd, size, access=mmap.ACCESS_READ) if 0 < size <= most_bytes else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _raw(array: np.ndarray) -> np.ndarray:
    """The array's bytes, as a flat view (a file is written and hashed from it without a copy)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _code_bits(dims: int) -> int:
    """Two bits per dimension, in whole bytes as FAISS binary codes are."""
    return (2 * dims + 7) // 8 * 8


def _projection(mean: np.ndarray) -> np.ndarray:
    """A fixed Gaussian projection to code bits, with the mean folded in as the last row:
    [v, 1] @ projection == (v - mean) @ gaussian. Saved in the file, so later numpy versions
    cannot change the codes of a saved index."""
    dims = len(mean)
    gaussian = np.random.default_rng(_PROJECTION_SEED).standard_normal((dims, _code_bits(dims))).astype(np.float32)
    return np.vstack([gaussian, -(np.asarray(mean, dtype=np.float32) @ gaussian)])


def _digest(*parts: bytes | memoryview | np.ndarray) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


@functools.cache
def _faiss() -> ModuleType:
    """FAISS, imported when a writer first needs it: searching never does."""
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP start-up costs more than it saves (30 ms vs 2.4 ms, 39k vectors)
    return faiss


def _lowest(costs: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` lowest costs, lowest first; of equal costs the first stored."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < len(costs):
        threshold = np.partition(costs, k - 1)[k - 1]
        below = np.flatnonzero(costs < threshold)
        top = np.concatenate([below, np.flatnonzero(costs == threshold)[: k - len(below)]])
    else:
        top = np.arange(len(costs))
    return top[np.lexsort((top, costs[top]))]


_HAMMING_ROWS = 16_384
"""Codes compared at a time, so that the scratch rows stay in cache (1 MiB at 512 bits)."""
_BYTE_BITS = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)
"""Set bits per byte value, where numpy (before 2.0) has no `bitwise_count`."""


def _hamming(codes: np.ndarray, code: np.ndarray) -> np.ndarray:
    """The Hamming distance of each row of `codes` to `code`, as uint16.

    numpy rather than FAISS: importing FAISS costs a fresh `ask` more than this whole scan of
    the Linux kernel's 1.15M codes (35 ms). The bits are counted a word at a time, in the widest
    words that divide a row, and summed column by column."""
    width = codes.shape[1]
    word = next(w for w in (np.uint64, np.uint32, np.uint16, np.uint8) if width % np.dtype(w).itemsize == 0)
    words, target = codes.view(word), code.view(word)
    out = np.empty(len(words), dtype=np.uint16)
    scratch = np.empty((min(len(words), _HAMMING_ROWS), words.shape[1]), dtype=word)
    for start in range(0, len(words), _HAMMING_ROWS):
        part = scratch[: len(words[start : start + _HAMMING_ROWS])]
        np.bitwise_xor(words[start : start + _HAMMING_ROWS], target, out=part)
        counts = np.bitwise_count(part) if hasattr(np, "bitwise_count") else _BYTE_BITS[part.view(np.uint8)]
        total = out[start : start + len(part)]
        np.copyto(total, counts[:, 0])
        for column in range(1, counts.shape[1]):
            total += counts[:, column]
    return out


def _rerank(query: np.ndarray, candidates: list[int], exact: ExactVectors) -> list[tuple[int, float]]:
    scored: list[tuple[int, float]] = []
    for ids, matrix in exact(candidates):
        scored += zip(ids.tolist(), (matrix @ query).tolist())
    return sorted(scored, key=lambda item: (-item[1], item[0]))
