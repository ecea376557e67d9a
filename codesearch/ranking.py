"""The ranking stage after retrieval: small named signals that reorder the fused candidates.

Retrieval (dense + BM25, fused in `searcher.fuse`) finds the right code but often not first:
tests outrank the code they test, and a name's uses outrank its definition. `rerank` scores
each candidate as (fused score + bonuses) x factors. Each signal's docstring gives its measured
effect, added on top of the signals before it, on `benchmarks/peer.py` (the public half of the
semble benchmark, NDCG@10 over 32 repositories; 0.675 without this stage) and on
`benchmarks/quality.py`'s sets (without it: MRR@10 doc-python 0.577, doc-js 0.466, doc-go 0.631,
CoSQA nDCG@10 0.496, Java->C# R@1 0.973; only `name_words_bonus` and `spread_over_files` move
them). A signal stays when it helps the first and leaves none of the others more than 0.01 below
where they stood without this stage. 2-core dev machine, 2026-12-02.

Tried and left out: adding a tenth to a quarter of the file's other candidates' scores (file
evidence) lowered both benchmarks; a lexical-heavier fusion for one-identifier queries gained
0.001; a dense weight of 0.6 instead of 0.8 gained 0.015 but cost doc-python 0.021.
"""

from __future__ import annotations

import re

from codesearch.models import Chunk
from codesearch.text import query_words, subtokens

SUPPORT_WEIGHT = 0.6
"""Score factor for tests, examples, fixtures, benchmarks and docs, unless the query asks for them."""

_SUPPORT_DIRS = frozenset(
    "test tests testing testdata __tests__ spec specs example examples sample samples fixture fixtures "
    "benchmark benchmarks bench mock mocks docs doc".split()
)
_SUPPORT_FILE = re.compile(r"(test_.*|.*_test\.\w+|.*_spec\.\w+|.*\.(test|spec)\.\w+|.*Tests?\.\w+|conftest\.py)")
_ASKS_FOR_SUPPORT = re.compile(r"\b(tests?|testing|spec|specs|examples?|fixtures?|benchmarks?|mocks?|docs?)\b", re.I)

DEFINITION_BONUS = 1.0
"""Added to the fused score (0..1) of a chunk that defines the identifier a query consists of."""
FILE_NAME_BONUS = 1.0
"""Added to each chunk of the file named after the identifier a query consists of."""

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*")
_SYMBOL_PARTS = re.compile(r"\.|::|#|->")


def is_support(path: str) -> bool:
    """Code that exercises or documents the real code rather than being it, told by its path."""
    *folders, name = path.split("/")
    return any(folder.lower() in _SUPPORT_DIRS for folder in folders) or bool(_SUPPORT_FILE.fullmatch(name))


def support_factor(query: str, chunk: Chunk) -> float:
    """SUPPORT_WEIGHT for a test, example or doc chunk, unless the query names such code.

    A question about behaviour is answered by the implementation, but its tests repeat the
    behaviour's words (`test_digest_auth_...`) and outrank it. Peer benchmark 0.675 -> 0.689
    (weights 0.3 to 0.6 within 0.001).
    """
    if is_support(chunk.path) and not _ASKS_FOR_SUPPORT.search(query):
        return SUPPORT_WEIGHT
    return 1.0


def definition_bonus(query: str, chunk: Chunk) -> float:
    """DEFINITION_BONUS when the query is one identifier (`HTTPException`, `Foo::bar`,
    `res.render`) and the chunk defines it (its symbol's last part, case and all); half of it
    when only the case differs (`basemodel`).

    Every file that imports `HTTPException` says it more often than the class does, so
    retrieval ranks the uses with the definition. Peer benchmark symbol queries 0.690 -> 0.780,
    overall 0.689 -> 0.705.
    """
    wanted = _identifier(query)
    if wanted is None or not chunk.symbol:
        return 0.0
    defined = _SYMBOL_PARTS.split(chunk.symbol)[-1]
    if defined == wanted:
        return DEFINITION_BONUS
    return DEFINITION_BONUS / 2 if defined.lower() == wanted.lower() else 0.0


def file_name_bonus(query: str, chunk: Chunk) -> float:
    """FILE_NAME_BONUS when the query is one identifier and the chunk's file is named after it
    (`Table` -> `Table.kt`, `Semaphore` -> `semaphore.rs`, `field_info` -> `FieldInfo.java`).

    Where no grammar names the definition (Kotlin, Swift, Elixir are chunked as text) or the
    class is split into parts, the file that holds it still comes first. Peer benchmark symbol
    queries 0.780 -> 0.896, overall 0.705 -> 0.722 (a bonus of 0.5: 0.885 and 0.721).
    """
    wanted = _identifier(query)
    if wanted is None:
        return 0.0
    stem = chunk.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return FILE_NAME_BONUS if _plain(stem) == _plain(wanted) else 0.0


NAME_WORDS_BONUS = 0.6
"""Added, in proportion to the query words a chunk's symbol spells, for a query of several words."""


def name_words_bonus(query: str, chunk: Chunk) -> float:
    """NAME_WORDS_BONUS times the share of the query's words that the chunk's symbol is made of
    (`parse config` -> `parseConfig`, `ConfigParser.parse`), for a query of two words or more.

    A name says what code is for; a body full of the same words may only use it. Peer
    benchmark 0.722 -> 0.727; MRR@10 doc-python 0.577 -> 0.594, doc-js 0.466 -> 0.501,
    doc-go 0.631 -> 0.643; CoSQA nDCG@10 0.496 -> 0.490. A bonus of 1.0 gave 0.733 but cost
    CoSQA 0.017, past the 0.01 the other sets may lose.
    """
    words = set(query_words(query))
    if len(words) < 2 or not chunk.symbol or _IDENTIFIER.fullmatch(query):
        return 0.0
    named = set(subtokens(chunk.symbol))
    return NAME_WORDS_BONUS * len(words & named) / len(words)


FILE_CHUNKS_FREE = 2
REPEAT_WEIGHT = 0.7
"""Score factor for each chunk of a file beyond its best FILE_CHUNKS_FREE in the ranking,
compounding (the third x0.7, the fourth x0.49, ...)."""


def spread_over_files(scored: list[tuple[int, float]], chunks: dict[int, Chunk]) -> list[tuple[int, float]]:
    """`scored`, best first, with each file's chunks past its best FILE_CHUNKS_FREE weighed down
    by REPEAT_WEIGHT each, then sorted again.

    Ten results that name more files find more of what answers a question, while the two best
    chunks of a file keep their place: the function asked for is often next to a near namesake.
    Peer benchmark 0.728 -> 0.742 (architecture 0.648 -> 0.666); MRR@10 doc-python 0.594 -> 0.581,
    doc-go 0.643 -> 0.634, doc-js and CoSQA unchanged. Every chunk past the first x0.3 gave
    0.757 but cost doc-python 0.067; x0.5 past two, 0.745 with doc-python 0.576.
    """
    seen: dict[str, int] = {}
    spread = []
    for cid, score in scored:
        path = chunks[cid].path
        spread.append((cid, score * REPEAT_WEIGHT ** max(0, seen.get(path, 0) - FILE_CHUNKS_FREE + 1)))
        seen[path] = seen.get(path, 0) + 1
    return _best_first(spread)


def rerank(query: str, ranked: list[tuple[int, float]], chunks: dict[int, Chunk]) -> list[tuple[int, float]]:
    """`ranked` (chunk id, fused score; each id's chunk in `chunks`) reordered by the signals."""
    scored = [(cid, _score(query, score, chunks[cid])) for cid, score in ranked]
    return spread_over_files(_best_first(scored), chunks)


def _best_first(scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return sorted(scored, key=lambda item: (-item[1], item[0]))


def _score(query: str, fused: float, chunk: Chunk) -> float:
    bonus = definition_bonus(query, chunk) + file_name_bonus(query, chunk) + name_words_bonus(query, chunk)
    return (fused + bonus) * support_factor(query, chunk)


def _identifier(query: str) -> str | None:
    """The name a query consisting of one identifier asks for (`Foo::bar` -> `bar`), else None."""
    return _SYMBOL_PARTS.split(query)[-1] if _IDENTIFIER.fullmatch(query) else None


def _plain(name: str) -> str:
    """`snake_case`, `kebab-case` and `CamelCase` spelled alike."""
    return re.sub(r"[^0-9a-z]", "", name.lower())
