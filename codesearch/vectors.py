"""FAISS index over chunk ids: derived from the store, saved atomically, never trusted blindly.

The file holds a magic line, the store generation it was built at, the serialised FAISS
index and a digest of it. A file whose generation differs from the store's, or whose
digest fails, is stale or corrupt and is rebuilt from SQLite.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from pathlib import Path

import faiss
import numpy as np

VECTORS_NAME = "vectors.faiss"
_MAGIC = b"CODESEARCH-FAISS-1\n"
_HEADER = struct.Struct("<qq")
_DIGEST_BYTES = 32

faiss.omp_set_num_threads(1)
"""One query at a time: OpenMP start-up costs more than it saves (measured 30 ms vs 2.4 ms, 39k vectors)."""


class VectorIndex:
    """Exact inner product over normalised vectors (cosine), keyed by chunk id."""

    def __init__(self, dims: int, index: faiss.Index | None = None) -> None:
        self.dims = dims
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dims))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, allowed: list[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first; `allowed` restricts the candidates (filters)."""
        if len(self) == 0 or k <= 0 or allowed == []:
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def save(self, path: Path, generation: int) -> None:
        """Write to a temporary file and rename, so readers see the old or the new file whole."""
        payload = faiss.serialize_index(self.index).tobytes()
        digest = hashlib.blake2b(payload, digest_size=_DIGEST_BYTES).digest()
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + _HEADER.pack(generation, len(payload)) + payload + digest)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, generation: int, dims: int) -> "VectorIndex | None":
        """The saved index if it is whole and current, else None (the caller rebuilds)."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + _HEADER.size
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        saved_generation, size = _HEADER.unpack_from(data, len(_MAGIC))
        payload = data[head : head + size]
        digest = data[head + size :]
        if saved_generation != generation or len(payload) != size:
            return None
        if digest != hashlib.blake2b(payload, digest_size=_DIGEST_BYTES).digest():
            return None
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        return cls(dims, index) if index.d == dims else None
