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

The file holds a magic line, the store generation it was built at, the kind, the serialised
FAISS index, the projection of the binary codes, and a digest of both. A file whose generation
differs from the store's, or whose digest fails, is stale or corrupt and is rebuilt from SQLite.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import faiss
import numpy as np

VECTORS_NAME = "vectors.faiss"
EXACT_MAX = 100_000
"""Above this many vectors the binary kind is used (an exact index of 100k 256-d vectors is 100 MB)."""
RERANK_CANDIDATES = 700
"""Hamming candidates re-ranked exactly per query by the binary kind."""

_CODE_ROWS = 20_000
"""Vectors coded at a time when an index turns binary: the float32 product of all 100k at once
held 200 MB more at the peak of a first index (mixed: 1,034 -> 1,428 MiB)."""
_MAGIC = b"CODESEARCH-FAISS-2\n"
_HEADER = struct.Struct("<qqqq")  # generation, kind, payload bytes, projection bytes
_DIGEST_BYTES = 32
_TEMPORARY_PREFIX = ".vectors-"
_EXACT, _BINARY = 0, 2  # kind 1, one bit per dimension, is read as stale and rebuilt
_PROJECTION_SEED = 0

faiss.omp_set_num_threads(1)
"""One query at a time: OpenMP start-up costs more than it saves (measured 30 ms vs 2.4 ms, 39k vectors)."""

ExactVectors = Callable[[Sequence[int]], Iterable[tuple[np.ndarray, np.ndarray]]]
"""(ids, float32 matrix) batches for the given chunk ids: how the binary kind re-ranks."""


class VectorIndex:
    """Nearest chunks by cosine over normalised vectors, keyed by chunk id."""

    def __init__(
        self, dims: int, index: faiss.Index | faiss.IndexBinary | None = None, projection: np.ndarray | None = None
    ) -> None:
        self.dims = dims
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dims))
        self.projection = projection
        """Binary kind: (dims + 1, bits) float32, the code bits are the signs of [vector, 1] @ projection."""

    @classmethod
    def for_size(cls, dims: int, size: int, sample: Callable[[], np.ndarray]) -> "VectorIndex":
        """An empty index of the kind that suits `size` vectors; the binary kind centres its
        codes on the mean of `sample()`, a sample of the corpus's vectors."""
        return cls(dims) if size <= EXACT_MAX else cls._empty_binary(dims, sample().mean(axis=0))

    @classmethod
    def _empty_binary(cls, dims: int, mean: np.ndarray) -> "VectorIndex":
        # IDMap, not IDMap2: IDMap2 keeps a reverse map that loading rebuilds, 0.6 s at 1M codes
        return cls(dims, faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(_code_bits(dims))), _projection(mean))

    def as_binary(self) -> "VectorIndex":
        """This exact index's vectors in the binary kind, centred on their own mean: what an
        index built as chunks are written becomes when it outgrows EXACT_MAX. The mean of the
        first vectors written serves as well as a random sample's (the Linux kernel, v3 model:
        recall@10 0.990 centred on its first 100k chunks, 0.990 on a random 20k). The vectors are
        read in place and coded a slice at a time, so the turn costs little memory."""
        ids = faiss.vector_to_array(self.index.id_map)
        flat = faiss.downcast_index(self.index.index)
        matrix = faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.dims).reshape(len(self), self.dims)
        binary = VectorIndex._empty_binary(self.dims, matrix.mean(axis=0))
        for start in range(0, len(self), _CODE_ROWS):
            binary.add(ids[start : start + _CODE_ROWS], matrix[start : start + _CODE_ROWS])
        return binary

    @property
    def binary(self) -> bool:
        return isinstance(self.index, faiss.IndexBinary)

    def suits(self, size: int) -> bool:
        """Whether this kind is the one `for_size` picks for an index of `size` vectors."""
        return self.binary == (size > EXACT_MAX)

    def __len__(self) -> int:
        return int(self.index.ntotal)

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
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if not self.binary:
            scores, ids = self.index.search(query, min(k, len(self)), params=params)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        pool = min(max(k, RERANK_CANDIDATES), len(self))
        distances, ids = self.index.search(self._codes(query), pool, params=params)
        found = [int(i) for i in ids[0] if i >= 0]
        if exact is None:
            return [(i, -float(d)) for i, d in zip(found, distances[0])][:k]
        return _rerank(query[0], found, exact)[:k]

    def _codes(self, vectors: np.ndarray) -> np.ndarray:
        return np.packbits(vectors @ self.projection[:-1] + self.projection[-1] > 0, axis=1)

    def save(self, path: Path, generation: int) -> None:
        """Write to a temporary file and rename, so readers see the old or the new file whole.

        The serialised index is hashed and written in place, never copied: at a million codes
        each copy costs about 0.05 s of every watch batch.
        """
        if self.binary:
            payload, kind = faiss.serialize_index_binary(self.index), _BINARY
        else:
            payload, kind = faiss.serialize_index(self.index), _EXACT
        projection = b"" if self.projection is None else np.asarray(self.projection, dtype=np.float32).tobytes()
        digest = _digest(payload, projection)
        fd, tmp = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in (_MAGIC + _HEADER.pack(generation, kind, payload.nbytes, len(projection)), payload, projection, digest):
                    out.write(part)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, generation: int | None, dims: int) -> "VectorIndex | None":
        """The saved index if it is whole and of `generation` (of any, for None), else None."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + _HEADER.size
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        saved_generation, kind, size, projection_size = _HEADER.unpack_from(data, len(_MAGIC))
        view = memoryview(data)
        payload = view[head : head + size]
        projection = view[head + size : head + size + projection_size]
        digest = bytes(view[head + size + projection_size :])
        if generation not in (None, saved_generation) or len(payload) != size or len(projection) != projection_size:
            return None
        if digest != _digest(payload, projection):
            return None
        buffer = np.frombuffer(payload, dtype=np.uint8)
        bits = _code_bits(dims)
        if kind == _BINARY and projection_size == 4 * (dims + 1) * bits:
            index = faiss.deserialize_index_binary(buffer)
            return cls(dims, index, np.frombuffer(projection, dtype=np.float32).reshape(dims + 1, bits)) if index.d == bits else None
        if kind == _EXACT:
            index = faiss.deserialize_index(buffer)
            return cls(dims, index) if index.d == dims else None
        return None


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of a vector file, None when there is none: every save renames a new
    file into place, so a saved file is the one seen before while its identity is unchanged."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def remove_stale_temporaries(index_dir: Path, older_than: float = 60.0) -> None:
    """Delete temporary files that a killed save left behind (call with the writer lock held).

    Readers save rebuilt files too, so only files older than any save takes are removed.
    """
    cutoff = time.time() - older_than
    for path in index_dir.glob(f"{_TEMPORARY_PREFIX}*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass


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
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        digest.update(part)
    return digest.digest()


def _rerank(query: np.ndarray, candidates: list[int], exact: ExactVectors) -> list[tuple[int, float]]:
    scored: list[tuple[int, float]] = []
    for ids, matrix in exact(candidates):
        scored += zip(ids.tolist(), (matrix @ query).tolist())
    return sorted(scored, key=lambda item: (-item[1], item[0]))
