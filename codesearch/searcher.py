"""Queries: pick the task, run dense and lexical retrieval, fuse, filter, rank."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from codesearch.embedders import Embedder
from codesearch.errors import CodesearchError
from codesearch.indexer import build_vectors, open_embedder
from codesearch.languages import ALL_LANGUAGES
from codesearch.locate import find_index
from codesearch.models import Chunk, Hit
from codesearch.store import Store
from codesearch.tasks import query_task
from codesearch.text import query_words
from codesearch.vectors import VECTORS_NAME, VectorIndex

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 50
DENSE_WEIGHT = 0.7
"""Share of the dense score in hybrid fusion; the lexical (BM25) score gets the rest.

Chosen on our own docstring -> function sets (benchmarks/tune_fusion.py): a convex combination
of per-query min-max normalised scores beat reciprocal rank fusion (k = 60) there by 0.02 to
0.04 MRR@10 for the static model and for all-MiniLM-L6-v2; 0.6 to 0.7 were best (0.7 for the shipped static model, 0.6 for MiniLM).
"""


@dataclass(frozen=True)
class SearchResult:
    query: str
    task: str
    mode: str
    hits: list[Hit]

    def to_dict(self) -> dict:
        return {"query": self.query, "task": self.task, "mode": self.mode, "results": [hit.__dict__ for hit in self.hits]}


class Searcher:
    """An open index, loaded once and queried many times (`ask --batch`, the Python API)."""

    def __init__(self, index_dir: Path | str | None = None) -> None:
        self.index_dir = find_index(Path(index_dir) if index_dir else None)
        self.store = Store.open(self.index_dir)
        self._embedder: Embedder | None = None
        self._vectors: VectorIndex | None = None
        self._generation = -1

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Searcher":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def root(self) -> Path:
        return Path(self.store.get_meta("root") or self.index_dir.parent)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = open_embedder(self.store, None)
        return self._embedder

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index for the store's current generation, reloaded when a writer moved on.

        The saved file is used when current; else the index is rebuilt from SQLite and saved.
        """
        generation = self.store.generation
        if self._vectors is None or generation != self._generation:
            dims = int(json.loads(self.store.get_meta("embedder") or "{}").get("dims", 0))
            path = self.index_dir / VECTORS_NAME
            self._vectors = VectorIndex.load(path, generation, dims)
            if self._vectors is None:
                self._vectors = build_vectors(self.store, self.embedder.signature, dims)
                _save_quietly(self._vectors, path, generation)
            self._generation = generation
        return self._vectors

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        task: str | None = None,
        language: str | None = None,
        path_glob: str | None = None,
    ) -> SearchResult:
        query = query.strip()
        if not query:
            raise CodesearchError("empty query; say what you are looking for, e.g. codesearch ask \"parse json\"")
        if mode not in MODES:
            raise CodesearchError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if language is not None and language not in ALL_LANGUAGES:
            raise CodesearchError(f"unknown language {language!r}; known: {', '.join(sorted(ALL_LANGUAGES))}")
        chosen_task = query_task(query, task)
        allowed = self._allowed(language, path_glob)
        pool = max(k, CANDIDATES)
        ranked = self._rank(query, chosen_task, mode, pool, allowed)[:k]
        chunks = self.store.chunks_by_ids([cid for cid, _ in ranked])
        hits = [_hit(chunks[cid], score) for cid, score in ranked if cid in chunks]
        return SearchResult(query, chosen_task, mode, hits)

    def _allowed(self, language: str | None, path_glob: str | None) -> list[int] | None:
        if language is None and path_glob is None:
            return None
        matcher = (lambda p: fnmatch.fnmatchcase(p, path_glob)) if path_glob else None
        return self.store.chunk_ids_where(language, matcher)

    def _rank(self, query: str, task: str, mode: str, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        dense = self._dense(query, task, pool, allowed) if mode != "lexical" else []
        lexical = self.store.lexical_search(query_words(query), pool, allowed) if mode != "dense" else []
        if mode == "dense":
            return dense
        if mode == "lexical":
            return lexical
        return fuse(dense, lexical)

    def _dense(self, query: str, task: str, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        vector = self.embedder.embed([query], task)[0]
        signature = self.embedder.signature
        return self.vectors.search(vector, pool, allowed, lambda ids: self.store.chunk_vectors(signature, ids))


def fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Convex combination of the two lists' scores, each min-max normalised over its own list.

    Normalising per query puts cosine similarity and BM25 on one 0..1 scale: the best hit of
    each list scores 1, the last candidate 0, and a chunk absent from a list gets 0 from it.
    """
    scores: dict[int, float] = {}
    for weight, ranking in ((DENSE_WEIGHT, dense), (1.0 - DENSE_WEIGHT, lexical)):
        if not ranking:
            continue
        high, low = ranking[0][1], ranking[-1][1]
        span = high - low
        for cid, score in ranking:
            scores[cid] = scores.get(cid, 0.0) + weight * ((score - low) / span if span > 0 else 1.0)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _hit(chunk: Chunk, score: float) -> Hit:
    return Hit(chunk.path, chunk.start_line, chunk.end_line, chunk.symbol, chunk.kind, chunk.language, round(score, 6), chunk.text)


def _save_quietly(vectors: VectorIndex, path: Path, generation: int) -> None:
    """A reader may lack write access; the rebuilt index still serves this process."""
    try:
        vectors.save(path, generation)
    except OSError:
        pass
