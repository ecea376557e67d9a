"""Reading and chunking changed files: the CPU-bound half of a sync, run in worker processes.

Nothing here touches the index. Each file comes back as a `Prepared` that the single writer
commits, so workers can be many while the database keeps one writer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from codesearch.chunker import MAX_LINES, chunk_source
from codesearch.embedders import Embedder, EmbedderSpec, create_embedder
from codesearch.files import DEFAULT_MAX_BYTES, SkipFile, SourceFile, read_source
from codesearch.languages import content_language
from codesearch.models import Chunk
from codesearch.store import lexical_fields
from codesearch.tasks import PASSAGE_TASK
from codesearch.text import WORD, worded

MINIFIED_MIN_BYTES = 4096
MINIFIED_LINE_BYTES = 1000


@dataclass(frozen=True)
class PrepareOptions:
    """Settings every worker needs; picklable."""

    max_bytes: int = DEFAULT_MAX_BYTES
    chunk_size: int = MAX_LINES
    embedder: EmbedderSpec | None = None
    """Set for an embedder that runs where the chunks are made (see `Embedder.in_workers`)."""


@dataclass
class Prepared:
    """A changed file after reading: new chunks, only a new stat (`chunks` None), or a skip."""

    file: SourceFile
    digest: str = ""
    chunks: list[Chunk] | None = None
    keys: list[str] = field(default_factory=list)
    lexical: list[tuple[str, str]] = field(default_factory=list)
    skipped: str | None = None
    vectors: np.ndarray | None = None
    """float16, a row per chunk, when the options named an embedder."""
    texts: list[str] = field(default_factory=list)
    """What the embedder reads of each chunk; emptied before the batch leaves the worker."""


Work = tuple[list[tuple[SourceFile, "str | None"]], PrepareOptions]
"""A batch of (file, the content hash the index holds for it) and the options."""


def embed_text(chunk: Chunk) -> str:
    """What the embedder sees: a one-line scope header, then the code.

    The path is left out on purpose so that moving a file re-embeds nothing.
    """
    header = " ".join(part for part in (chunk.language, chunk.kind, chunk.symbol) if part)
    return f"{header}\n{chunk.text}"


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def prepare_batch(work: Work) -> list[Prepared]:
    """Every file of the batch prepared; the embedder, if any, runs once over all their chunks,
    since its fixed cost per call is worth more than a small file's chunks."""
    files, options = work
    prepared = [prepare_file(source, known, options) for source, known in files]
    if options.embedder is not None:
        _embed_chunks(prepared, _embedder(options.embedder))
    for item in prepared:
        item.texts = []
    return prepared


def prepare_file(source: SourceFile, known_hash: str | None, options: PrepareOptions) -> Prepared:
    """Read, hash and chunk one file; unchanged content (a touched file) is not chunked again."""
    try:
        data = read_source(source, options.max_bytes)
    except SkipFile as skip:
        return Prepared(source, skipped=str(skip))
    if minified(data):
        return Prepared(source, skipped="minified")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash:
        return Prepared(source, digest)
    source = replace(source, language=content_language(source.path, source.language, data))
    chunks = chunk_source(source.path, source.language, data, max_lines=options.chunk_size)
    words = [WORD.findall(c.text) for c in chunks]
    texts = [_embed_input(c, w) for c, w in zip(chunks, words)]
    lexical = [lexical_fields(c.path, c.symbol, c.text, w) for c, w in zip(chunks, words)]
    return Prepared(source, digest, chunks, list(map(text_key, texts)), lexical, texts=texts)


def minified(data: bytes) -> bool:
    """Whether `data` is a minifier's output: over MINIFIED_MIN_BYTES, with lines that average
    over MINIFIED_LINE_BYTES. Such a file makes chunks that all start at line 1, of code no
    person wrote (an 800 KB one-line app.js made 134 of them).

    Written code averages 30-60 bytes a line, and prose with a line per paragraph half a
    paragraph (blank lines count); minifiers write one line, or lines of tens of kilobytes.
    Of 11,500 files of 4 KiB to 1 MiB (Python packages, /usr/share) the 10 over 1,000 were
    all generated: jquery.min.js, a Sphinx search index, a table of Cocoa names. An average
    costs one count of newlines; a longest-line rule would split every file, and would drop
    a written file holding one long literal. In a small file a long line is such a literal.
    """
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    return len(data) > MINIFIED_MIN_BYTES and len(data) > MINIFIED_LINE_BYTES * lines


def _embed_input(chunk: Chunk, words: list[str]) -> str:
    """`embed_text(chunk)`, carrying its words when they follow from the chunk text's `words`:
    after a header that ends in a non-word character, no word spans the two."""
    text = embed_text(chunk)
    if not text.endswith(chunk.text):
        return text
    head = text[: len(text) - len(chunk.text)]
    if head and WORD.match(head, len(head) - 1):
        return text
    return worded(text, WORD.findall(head) + words)


def _embed_chunks(prepared: list[Prepared], embedder: Embedder) -> None:
    """Set each chunked file's `vectors`, embedding the whole batch's texts in one call."""
    chunked = [item for item in prepared if item.chunks]
    texts = [text for item in chunked for text in item.texts]
    if not texts:
        return
    vectors = embedder.embed(texts, PASSAGE_TASK).astype(np.float16)
    start = 0
    for item in chunked:
        item.vectors = vectors[start : start + len(item.keys)]
        start += len(item.keys)


@cache
def _embedder(spec: EmbedderSpec) -> Embedder:
    """One per worker process, made on its first file."""
    return create_embedder(spec)
