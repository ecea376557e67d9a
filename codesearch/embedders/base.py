"""The one interface every embedder implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class EmbedderSpec:
    """What an index records to recreate its embedder: backend, model and dimensions."""

    backend: str
    model: str
    dims: int | None = None


Part = tuple[Sequence[int], np.ndarray]
"""Positions in the texts given to `Embedder.embed_parts`, and their L2-normalised float32 rows."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows for one task.

    `signature` names model, dimensions and implementation version; vectors made under
    different signatures never mix in one index.
    """

    name: str
    model: str
    dimensions: int
    signature: str
    in_workers: bool
    """Cheap to make in every worker process and bound by this machine's CPU (the built-in
    static model): indexing then embeds each file where it is chunked, on every core."""

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray: ...

    def embed_parts(self, texts: Sequence[str], task: str) -> Iterator[Part]:
        """The rows of `embed`, part by part as each request or batch completes, in any order:
        a caller that stores each part as it comes loses only the work in progress when the
        embedder fails half way (an API outage, a kill)."""
        ...


def gathered(parts: Iterable[Part], count: int, dims: int) -> np.ndarray:
    """`[count, dims]` rows in input order from parts in any order: `embed` from `embed_parts`."""
    out = np.empty((count, dims), dtype=np.float32)
    for positions, rows in parts:
        out[positions] = rows
    return out


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row in place-safe fashion; zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return matrix / norms
