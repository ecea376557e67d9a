"""Queries: pick the task, run dense and lexical retrieval, fuse, filter, rank."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from codesearch.embedders import Embedder, normalize_rows, open_embedder
from codesearch.errors import CodesearchError
from codesearch.languages import canonical_language
from codesearch.models import Chunk, Hit
from codesearch.pathfilter import path_matcher
from codesearch.ranking import asked_identifier, defines, rerank, subject_bonus, subject_names
from codesearch.stores import Reader, open_reader
from codesearch.tasks import query_task
from codesearch.text import query_words, subtokens

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 50
MAX_QUERY_CHARS = 10_000
"""The longest query searched, in characters: an MCP client or an `ask --batch` line can send
megabytes, and `codesearch mcp` holds its search lock while it searches.

The longest chunk an index holds is 6,000 characters (the chunker's `max_chars`), so a longer
snippet matches no chunk better; 10,000 leaves room for a whole pasted function and the lines
around it. The cost grows with a query's distinct words, which lexical search ORs together:
on Python's standard library (19,301 chunks, static embedder) `ask` with 10,000 characters of
code takes 0.9 s end to end against 0.5 s for two words, while the search alone took 10 s
for 1 MB and 20 s for 2.8 MB.
"""
DENSE_WEIGHT = 0.8
"""Share of the dense score in hybrid fusion; the lexical (BM25) score gets the rest.

Chosen on our own docstring -> function sets (benchmarks/tune_fusion.py): a convex combination
of per-query min-max normalised scores beat reciprocal rank fusion (k = 60) there by 0.02 to
0.05 MRR@10 for the static model and for all-MiniLM-L6-v2. For the shipped static model 0.8 has
the best mean over the three sets (0.75 to 0.9 are within 0.004 of it); MiniLM preferred 0.6.
"""


@dataclass(frozen=True)
class SearchResult:
    query: str
    task: str
    mode: str
    hits: list[Hit]

    def to_dict(self) -> dict:
        return {"query": self.query, "task": self.task, "mode": self.mode, "results": [hit.to_dict() for hit in self.hits]}


class Searcher:
    """An open index, loaded once and queried many times (`ask --batch`, the Python API)."""

    def __init__(
        self, index_dir: Path | str | None = None, *, repos: Sequence[str] = (),
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        """`index_dir`: a local index directory or its root (default: found from the current
        directory), or a store URL (`postgresql://...`), whose `repos` narrow the search to
        those repositories (default all). `on_notice` hears what the reader repaired on its
        own (a vector file rebuilt), since the library never prints."""
        self.store: Reader = open_reader(index_dir, repos=repos, on_notice=on_notice)
        self.location = self.store.location
        self._embedder: Embedder | None = None
        self._generation = -1
        """The store's generation at which `_embedder` was last checked against the recorded one."""

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Searcher":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def embedder(self) -> Embedder:
        """The recorded embedder; an index rebuilt with another one since the last query
        (`index --full --embedder ...`) switches this reader's query embedder too."""
        generation = self.store.generation
        if self._embedder is not None and generation != self._generation:
            recorded = json.loads(self.store.get_meta("embedder") or "{}")
            if self._embedder.signature != recorded.get("signature"):
                self._embedder = None
        self._generation = generation
        if self._embedder is None:
            self._embedder = open_embedder(self.store, None)
        return self._embedder

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        task: str | None = None,
        language: str | None = None,
        path_glob: str | Iterable[str] | None = None,
        here: str = "",
    ) -> SearchResult:
        """`path_glob`: one or more `--path` patterns (see `pathfilter`), anchored ones starting
        from `here`, a directory relative to the root."""
        query = query.strip()
        if not query:
            raise CodesearchError("empty query; say what you are looking for, e.g. codesearch ask \"parse json\"")
        _check_utf8(query, "the query")
        if len(query) > MAX_QUERY_CHARS:
            raise CodesearchError(
                f"query is {len(query):,} characters long; at most {MAX_QUERY_CHARS:,} are searched: "
                "paste the function or lines that matter, not a whole file"
            )
        if mode not in MODES:
            raise CodesearchError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        chosen_task = query_task(query, task)
        allowed = self._allowed(language, path_glob, here)
        found = self._rank(query, chosen_task, mode, max(k, CANDIDATES), allowed)
        if mode == "hybrid":
            found += self._definitions(query, found, allowed)
        else:
            found = found[:k]  # only the ranking stage looks past the top k
        chunks = self.store.chunks_by_ids([cid for cid, _ in found])
        candidates = [(cid, score) for cid, score in found if cid in chunks]  # a writer may have removed some meanwhile
        ranked = (rerank(query, candidates, chunks) if mode == "hybrid" else candidates)[:k]
        return SearchResult(query, chosen_task, mode, [_hit(chunks[cid], score) for cid, score in ranked])

    def similar(
        self,
        path: str,
        line: int | None = None,
        k: int = 10,
        *,
        language: str | None = None,
        path_glob: str | Iterable[str] | None = None,
        here: str = "",
    ) -> SearchResult:
        """Code like the chunk enclosing `line` of `path`, or like the whole file without a line.

        The query is the stored vector (the file's: the normalised mean of its chunks'), so
        nothing is embedded; the query's own chunks are never among the results.
        """
        allowed = self._allowed(language, path_glob, here)
        relpath = self._indexed_path(path)
        own = self.store.chunks_by_ids(self.store.chunk_ids_where(None, lambda p: p == relpath))
        if not own:
            if relpath in self.store.file_states([relpath]):
                raise CodesearchError(f"{relpath} has no chunks in the index (the file holds no code)")
            raise CodesearchError(f"{relpath} is not in the index (paths are relative to the indexed root {self.root})")
        if line is None:
            query, chosen = relpath, list(own)
        else:
            cid = _enclosing(own, relpath, line)
            query, chosen = f"{relpath}:{own[cid].start_line}-{own[cid].end_line}", [cid]
        excluded = set(chosen)
        found = self.store.dense_search(self._mean_vector(chosen), k + len(excluded), allowed, self._signature())
        ranked = [(cid, score) for cid, score in found if cid not in excluded][:k]
        return SearchResult(query, "code2code", "dense", self._hits(ranked))

    def _hits(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        """Ranked ids as hits, resolved in SQLite: an id a writer removed meanwhile is dropped."""
        chunks = self.store.chunks_by_ids([cid for cid, _ in ranked])
        return [_hit(chunks[cid], score) for cid, score in ranked if cid in chunks]

    def _indexed_path(self, path: str) -> str:
        """`path` relative to the root, POSIX; an absolute path must lie inside the root."""
        _check_utf8(path, f"the path {path!r}")
        given = Path(path)
        if not given.is_absolute():
            return given.as_posix().removeprefix("./")
        for candidate, root in ((given.absolute(), self.root), (given.resolve(), self.root.resolve())):
            if candidate.is_relative_to(root):
                return candidate.relative_to(root).as_posix()
        raise CodesearchError(f"{path} is outside the indexed root {self.root}")

    def _mean_vector(self, chunk_ids: list[int]) -> np.ndarray:
        """The stored vectors of `chunk_ids` averaged and normalised (one id: its own vector)."""
        parts = [matrix for _ids, matrix in self.store.chunk_vectors(self._signature(), chunk_ids)]
        if not parts:
            raise CodesearchError("the index has no stored vectors for that code; run `codesearch index` again")
        return normalize_rows(np.concatenate(parts).mean(axis=0, keepdims=True))[0]

    def _signature(self) -> str:
        return json.loads(self.store.get_meta("embedder") or "{}").get("signature", "")

    def _allowed(self, language: str | None, path_glob: str | Iterable[str] | None, here: str) -> list[int] | None:
        """The chunk ids the filters leave, None for all; an unknown language is an error first."""
        matcher = path_matcher(path_glob, here)
        if language is None and matcher is None:
            return None
        return self.store.chunk_ids_where(_language(language), matcher)

    def _rank(self, query: str, task: str, mode: str, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        dense = self._dense(query, task, pool, allowed) if mode != "lexical" else []
        lexical = self.store.lexical_search(query_words(query), pool, allowed) if mode != "dense" else []
        if mode == "dense":
            return dense
        if mode == "lexical":
            return lexical
        return fuse(dense, lexical)

    def _definitions(self, query: str, found: list[tuple[int, float]], allowed: list[int] | None) -> list[tuple[int, float]]:
        """The definitions retrieval missed, as candidates scoring 0, for the ranking stage's
        bonuses to lift: of the identifier a one-identifier query consists of, and of each name
        a query of words capitalizes (`subject_names`) in the file named after it."""
        have = {cid for cid, _ in found}
        name = asked_identifier(query)
        if name is not None:
            return [(cid, 0.0) for cid in self._defining(name, allowed) if cid not in have]
        subjects = subject_names(query)
        missed = [cid for subject in sorted(subjects) for cid in self._defining(subject, allowed) if cid not in have]
        if not missed:
            return []  # no round trip to a store for nothing
        chunks = self.store.chunks_by_ids(missed)
        return [(cid, 0.0) for cid in dict.fromkeys(missed) if cid in chunks and subject_bonus(subjects, chunks[cid])]

    def _defining(self, name: str, allowed: list[int] | None) -> list[int]:
        """Chunks whose symbol defines `name`, in any case, found by its last subtoken."""
        words = subtokens(name)
        named = self.store.symbols_with_word(words[-1], allowed) if words else []
        return [cid for cid, symbol in named if defines(symbol, name)]

    def _dense(self, query: str, task: str, pool: int, allowed: list[int] | None) -> list[tuple[int, float]]:
        embedder = self.embedder
        return self.store.dense_search(embedder.embed([query], task)[0], pool, allowed, embedder.signature)


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


def _check_utf8(text: str, what: str) -> None:
    """Text from a command line or a batch file may carry bytes that are not UTF-8 (as
    surrogates); the index holds UTF-8 only, so such text matches nothing and is said so."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CodesearchError(f"{what} is not valid UTF-8; nothing in the index can match it") from None


def _language(name: str | None) -> str | None:
    """The language a `--lang` value means (any case, aliases such as `py`)."""
    try:
        return None if name is None else canonical_language(name)
    except ValueError as exc:
        raise CodesearchError(str(exc)) from None


def _enclosing(chunks: dict[int, Chunk], relpath: str, line: int) -> int:
    """Id of the smallest chunk holding `line`: a method rather than its class."""
    if line < 1:
        raise CodesearchError(f"{relpath}:{line}: line numbers start at 1")
    holding = [cid for cid, c in chunks.items() if c.start_line <= line <= c.end_line]
    if not holding:
        first = min(c.start_line for c in chunks.values())
        last = max(c.end_line for c in chunks.values())
        raise CodesearchError(f"{relpath}:{line} is not inside any indexed chunk (its chunks span lines {first}-{last})")
    return min(holding, key=lambda cid: (chunks[cid].end_line - chunks[cid].start_line, cid))


def _hit(chunk: Chunk, score: float) -> Hit:
    return Hit(
        chunk.path, chunk.start_line, chunk.end_line, chunk.symbol, chunk.kind, chunk.language, round(score, 6), chunk.text, chunk.repo
    )


