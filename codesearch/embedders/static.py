"""The built-in offline embedder: a trained static token-embedding model, numpy only.

Recipe (training/ makes the weights; static_model/MODEL_CARD.md says how and how well):
1. Tokenise with `codesearch.text`'s code-aware splitter: every identifier's lower-cased parts,
   plus the joined identifier when it has several (`parseJSON` -> parse, json, parsejson).
2. Map each token to a row of the vocabulary; unknown tokens fall into one of a fixed number of
   hashed buckets (CRC32), so rare identifiers still match themselves.
3. A text's vector is the sum over its distinct tokens of `weight[token] * (1 + log count) *
   vector[token]`, L2-normalised. There are two learned weight tables: one for natural-language
   queries, one for code (passages and code queries).
4. `dims` below the model's width keeps the leading components (the model is trained with
   nested, Matryoshka-style losses so that prefixes stay useful) and re-normalises.

The interim feature-hashing model stays available as `--model hash-subtokens`.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from array import array
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from codesearch.embedders.base import normalize_rows
from codesearch.errors import CodesearchError
from codesearch.text import STOPWORDS, WORD, WordedText, plain_prose, spaced_word, subtokens

MODEL_DIR = Path(__file__).resolve().parent / "static_model"
MODEL_NAME = "codesearch-static-v3"
_BUILT_IN_FAMILY = "codesearch-static-"
HASH_MODEL = "hash-subtokens"
HASH_DIMS = 384
_HASH_VERSION = "v1"
_VERSION = "v2"

_GROUP = 32
_WORD_LIMIT = 1 << 19
"""Distinct words a process keeps numbered (about 60 MB with their tokens) before starting over."""
_BULK = 8192
"""Texts embedded before the float16 vectors are converted to float32 once: the indexer embeds
about 20% faster from float32 (some 20 us a text), but the conversion costs a fresh process
0.13-0.28 s and 55 MB, which only several thousand texts repay (pydantic's 2,539 chunks embed
in 0.2 s either way, with a peak of 74 MiB instead of 129). A query embeds from the memory map
and reads only its rows."""
_FOUND_IN_TEXT = 256
"""Tokens looked up in the vocabulary's text before its dict is built (see `StaticModel._rows_of`)."""
_NL_TASKS = ("nl2code.query", "qa.query")
"""Queries in natural language use the query weights, after the markup cleaning their training
summaries had (`codesearch.text.plain_prose`); code queries and passages the code weights."""


def tokenize(text: str) -> list[str]:
    """The model's tokens for a text (training and inference share this function)."""
    return subtokens(text)


def bucket_of(token: str, buckets: int) -> int:
    """Stable across processes and platforms, unlike Python's salted `hash`."""
    return zlib.crc32(token.encode("utf-8")) % buckets


class StaticModel:
    """Vocabulary, token vectors and the two weight tables, loaded from a model directory."""

    def __init__(self, directory: Path) -> None:
        try:
            config = json.loads((directory / "config.json").read_text())
            tokens = (directory / "vocab.txt").read_text(encoding="utf-8").strip("\n").encode("utf-8")
            vectors = np.load(directory / "vectors.npy", mmap_mode="r", allow_pickle=False)
            weights = np.load(directory / "weights.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CodesearchError(
                f"the static model's weights are missing or unreadable in {directory} ({exc.__class__.__name__}); "
                "reinstall codesearch, or rebuild them with training/README.md"
            ) from None
        if b"\n\n" in tokens:
            tokens = b"\n".join(t for t in tokens.split(b"\n") if t)
        self.name: str = config["name"]
        self.dims: int = int(config["dims"])
        self.buckets: int = int(config["buckets"])
        self._tokens = b"\n" + tokens + b"\n" if tokens else b"\n"
        """The vocabulary as UTF-8, one token a line, each line framed by newlines."""
        self._lines = np.flatnonzero(np.frombuffer(self._tokens, dtype=np.uint8) == ord("\n"))
        """The positions of the newlines in `_tokens`: token row i is the line after `_lines[i]`."""
        self._vocab: dict[str, int] | None = None
        self._looked_up = 0
        self.known = len(self._lines) - 1
        """Tokens in the vocabulary; the hashed buckets' rows follow theirs."""
        self.size = self.known + self.buckets
        if vectors.shape != (self.size, self.dims) or weights.shape != (2, self.size):
            raise CodesearchError(f"the static model in {directory} is inconsistent (shapes {vectors.shape}, {weights.shape})")
        self.vectors = vectors
        """float16 and memory-mapped: a fresh `ask` reads only the rows its query uses."""
        self._float32: np.ndarray | None = None
        self._embedded = 0
        self.weights = weights.astype(np.float32)
        self._words = _WordTokens(self.ids)

    @property
    def vocab(self) -> dict[str, int]:
        """Token -> row, for every token of the vocabulary (the last row of a repeated one)."""
        if self._vocab is None:
            tokens = self._tokens[1:-1].decode("utf-8").split("\n") if self.known else []
            self._vocab = dict(zip(tokens, range(len(tokens))))
        return self._vocab

    def ids(self, word: str) -> list[int]:
        tokens = spaced_word(word).split()
        vocab = self._vocab if self._vocab is not None else self._rows_of(tokens)
        base, buckets = self.known, self.buckets
        return [vocab[t] if t in vocab else base + bucket_of(t, buckets) for t in tokens]

    def _rows_of(self, tokens: list[str]) -> dict[str, int]:
        """The rows of those of `tokens` in the vocabulary: searched for in its text while few
        have been asked for, as by a query, whose handful of tokens take well under a millisecond
        each where the whole dict takes 15 ms to build; the whole dict after _FOUND_IN_TEXT."""
        self._looked_up += len(tokens)
        if self._looked_up > _FOUND_IN_TEXT:
            return self.vocab
        rows = {}
        for token in tokens:
            at = self._tokens.rfind(b"\n" + token.encode("utf-8", "surrogatepass") + b"\n")  # the last, as in the dict
            if at >= 0:
                rows[token] = int(np.searchsorted(self._lines, at))
        return rows

    def token_counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text row, token id, count) of each distinct token of each text, by row then token.

        The Python work is one dict lookup per word occurrence; the rest is array operations.
        """
        words = self._words
        if len(words) > _WORD_LIMIT:
            words.reset()
        found = [t.words if isinstance(t, WordedText) else WORD.findall(t) for t in texts]
        per_text = [len(f) for f in found]
        numbers = np.fromiter(map(words.__getitem__, itertools.chain.from_iterable(found)), dtype=np.int64, count=sum(per_text))
        starts, lengths, flat = words.arrays()
        lengths = lengths[numbers]
        ends = np.cumsum(lengths)
        offsets = np.repeat(starts[numbers] - (ends - lengths), lengths)
        tokens = flat[offsets + np.arange(len(offsets))]
        rows = np.repeat(np.repeat(np.arange(len(texts)), per_text), lengths)
        keys, counts = np.unique(rows * self.size + tokens, return_counts=True)
        rows, tokens = np.divmod(keys, self.size)
        return rows, tokens, counts

    def embed(self, texts: Sequence[str], table: int, dims: int) -> np.ndarray:
        """Weighted sum of token vectors per text; rows normalised; empty texts stay zero.

        Works in groups of texts: each group is one small dense (texts x distinct tokens) matrix
        times those tokens' vectors, which BLAS does faster than gathering a row per token.
        """
        self._embedded += len(texts)
        if self._float32 is None and self._embedded > _BULK:
            self._float32 = np.asarray(self.vectors, dtype=np.float32)
        if len(texts) <= _GROUP:
            return self._embed_group(texts, table, dims)
        return np.concatenate([self._embed_group(texts[i : i + _GROUP], table, dims) for i in range(0, len(texts), _GROUP)])

    def _embed_group(self, texts: Sequence[str], table: int, dims: int) -> np.ndarray:
        rows, tokens, counts = self.token_counts(texts)
        if len(tokens) == 0:
            return np.zeros((len(texts), dims), dtype=np.float32)
        distinct, columns = np.unique(tokens, return_inverse=True)
        mix = np.zeros((len(texts), len(distinct)), dtype=np.float32)
        mix[rows, columns] = self.weights[table, tokens] * (1.0 + np.log(counts.astype(np.float32)))
        table_rows = self.vectors if self._float32 is None else self._float32
        return normalize_rows(mix @ table_rows[distinct, :dims].astype(np.float32, copy=False))


class _WordTokens(dict):
    """Word -> its number, with every numbered word's token ids laid out flat
    (`flat[starts[n] : starts[n] + lengths[n]]`), so that a text's tokens are gathered, not
    looped over. The layout grows in `array`s, whose appends cost no numpy call per new word,
    and is read as numpy views."""

    def __init__(self, ids_of: Callable[[str], list[int]]) -> None:
        super().__init__()
        self._ids_of = ids_of
        self.reset()

    def reset(self) -> None:
        """Forget every word: the table stays bounded in a long-lived worker."""
        self.clear()
        self.starts = array("q")
        self.lengths = array("q")
        self.flat = array("q")

    def __missing__(self, word: str) -> int:
        ids = self._ids_of(word)
        self.starts.append(len(self.flat))
        self.lengths.append(len(ids))
        self.flat.extend(ids)
        number = self[word] = len(self.starts) - 1
        return number

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, lengths, flat) as int64 views, valid until the next new word."""
        return tuple(np.frombuffer(a, dtype=np.int64) for a in (self.starts, self.lengths, self.flat))  # type: ignore[return-value]


@lru_cache(maxsize=4)
def load_model(directory: str) -> StaticModel:
    """One copy per process, shared by every embedder instance."""
    return StaticModel(Path(directory))


class StaticEmbedder:
    """The built-in embedder; see the module docstring for the exact recipe."""

    name = "static"
    in_workers = True

    def __init__(self, model: str | None = None, dims: int | None = None) -> None:
        if model == HASH_MODEL:
            self._init_hash(dims)
            return
        if model and model.startswith(_BUILT_IN_FAMILY) and model != MODEL_NAME:
            raise CodesearchError(
                f"{model!r} is the built-in model of an earlier codesearch, replaced by {MODEL_NAME!r}; "
                "an index built with it needs `codesearch index --full`"
            )
        directory = MODEL_DIR if model in (None, "", MODEL_NAME) else Path(model)
        if model not in (None, "", MODEL_NAME) and not (directory / "config.json").is_file():
            raise CodesearchError(
                f"unknown static model {model!r}; the built-in models are {MODEL_NAME!r} and {HASH_MODEL!r} "
                "(or give a directory holding a trained static model)"
            )
        self._model = load_model(str(directory))
        self.model = self._model.name if directory == MODEL_DIR else str(directory)
        self.dimensions = dims or self._model.dims
        if not 16 <= self.dimensions <= self._model.dims:
            raise CodesearchError(f"--dims {self.dimensions} is out of range for the static embedder (16..{self._model.dims})")
        self.signature = f"static:{self._model.name}:{self.dimensions}:{_VERSION}"

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        if self._model is None:
            return _hash_embed(texts, self.dimensions)
        if task in _NL_TASKS:
            return self._model.embed([plain_prose(t) for t in texts], 0, self.dimensions)
        return self._model.embed(texts, 1, self.dimensions)

    def embed_parts(self, texts: Sequence[str], task: str) -> Iterator[tuple[range, np.ndarray]]:
        """Every row in one part: the built-in model is quick enough that no part is worth storing early."""
        yield range(len(texts)), self.embed(texts, task)

    def _init_hash(self, dims: int | None) -> None:
        self._model = None
        self.model = HASH_MODEL
        self.dimensions = dims or HASH_DIMS
        if not 16 <= self.dimensions <= 4096:
            raise CodesearchError(f"--dims {self.dimensions} is out of range for the static embedder (16..4096)")
        self.signature = f"static:{HASH_MODEL}:{self.dimensions}:{_HASH_VERSION}"


# --- the interim feature-hashing model (`--model hash-subtokens`), unchanged -------------------


@lru_cache(maxsize=1 << 18)
def _bucket(token: str, dims: int) -> tuple[int, float]:
    h = zlib.crc32(token.encode("utf-8"))
    return h % dims, 1.0 if (h >> 31) & 1 else -1.0


def _hash_embed(texts: Sequence[str], dims: int) -> np.ndarray:
    """Each subtoken hashed to a signed bucket, weighted by 1 + log(count), L2-normalised."""
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    for row, text in enumerate(texts):
        counts = Counter(t for t in subtokens(text) if t not in STOPWORDS)
        for token, count in counts.items():
            bucket, sign = _bucket(token, dims)
            rows.append(row)
            cols.append(bucket)
            weights.append(sign * _tf(count))
    out = np.zeros((len(texts), dims), dtype=np.float32)
    np.add.at(out, (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)), np.asarray(weights, dtype=np.float32))
    return normalize_rows(out)


@lru_cache(maxsize=1024)
def _tf(count: int) -> float:
    return 1.0 + math.log(count)
