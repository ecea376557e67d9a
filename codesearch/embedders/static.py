"""The built-in offline embedder: feature hashing of code subtokens, numpy only.

Interim model until a trained static token-embedding model ships. Each text becomes the bag
of its code subtokens (`parseJSON` -> parse, json, parsejson); each subtoken is hashed
(CRC32) to one of `dims` buckets with a hash-derived sign, weighted by 1 + log(count),
and the vector is L2-normalised. Two texts sharing vocabulary point the same way, so it
behaves like a dense TF-weighted bag of words. Tasks do not change the vector.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np

from codesearch.embedders.base import normalize_rows
from codesearch.errors import CodesearchError
from codesearch.text import STOPWORDS, subtokens

DEFAULT_DIMS = 384
MODEL_NAME = "hash-subtokens"
_VERSION = "v1"


@lru_cache(maxsize=1 << 18)
def _bucket(token: str, dims: int) -> tuple[int, float]:
    """Stable across processes and platforms, unlike Python's salted `hash`."""
    h = zlib.crc32(token.encode("utf-8"))
    return h % dims, 1.0 if (h >> 31) & 1 else -1.0


class StaticEmbedder:
    """Feature-hashing embedder; see the module docstring for the exact recipe."""

    name = "static"

    def __init__(self, model: str | None = None, dims: int | None = None) -> None:
        if model not in (None, MODEL_NAME):
            raise CodesearchError(f"unknown static model {model!r}; the built-in model is {MODEL_NAME!r}")
        self.model = MODEL_NAME
        self.dimensions = dims or DEFAULT_DIMS
        if not 16 <= self.dimensions <= 4096:
            raise CodesearchError(f"--dims {self.dimensions} is out of range for the static embedder (16..4096)")
        self.signature = f"static:{self.model}:{self.dimensions}:{_VERSION}"

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        rows: list[int] = []
        cols: list[int] = []
        weights: list[float] = []
        for row, text in enumerate(texts):
            counts = Counter(t for t in subtokens(text) if t not in STOPWORDS)
            for token, count in counts.items():
                bucket, sign = _bucket(token, self.dimensions)
                rows.append(row)
                cols.append(bucket)
                weights.append(sign * _tf(count))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        np.add.at(out, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)), np.asarray(weights, dtype=np.float32))
        return normalize_rows(out)


@lru_cache(maxsize=1024)
def _tf(count: int) -> float:
    """Sublinear term frequency: a name used ten times is not ten times the evidence."""
    return 1.0 + math.log(count)
