"""The one interface every embedder implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class EmbedderSpec:
    """What an index records to recreate its embedder: backend, model and dimensions."""

    backend: str
    model: str
    dims: int | None = None


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


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row in place-safe fashion; zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return matrix / norms
