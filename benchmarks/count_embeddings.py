"""The codesearch CLI with the built-in embedder's work counted, for benchmarks/scale.py.

    CODESEARCH_EMBED_COUNTS=/tmp/counts python benchmarks/count_embeddings.py index PATH ...

Every StaticEmbedder.embed call appends its number of texts as one line to the file named by
CODESEARCH_EMBED_COUNTS before it runs, in whatever process it runs: the patch is applied when
this module is imported, and worker processes started with spawn or forkserver import their
parent's main script again (as `__mp_main__`), so they count too. Lines are single O_APPEND
writes, so processes never interleave inside a line and a kill -9 loses no finished line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from codesearch.embedders.static import StaticEmbedder  # noqa: E402

COUNTS_ENV = "CODESEARCH_EMBED_COUNTS"

Embed = Callable[[StaticEmbedder, Sequence[str], str], np.ndarray]


def counted(original: Embed) -> Embed:
    """`original`, logging the size of each call first: work started counts even if killed."""

    def embed(self: StaticEmbedder, texts: Sequence[str], task: str) -> np.ndarray:
        fd = os.open(os.environ[COUNTS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{len(texts)}\n".encode())
        finally:
            os.close(fd)
        return original(self, texts, task)

    embed.counted = True  # type: ignore[attr-defined]
    return embed


def total(path: Path) -> int:
    """Texts embedded by every call logged in `path` (0 when nothing was embedded)."""
    try:
        return sum(int(line) for line in path.read_text().split())
    except FileNotFoundError:
        return 0


if COUNTS_ENV in os.environ and not getattr(StaticEmbedder.embed, "counted", False):
    StaticEmbedder.embed = counted(StaticEmbedder.embed)  # type: ignore[method-assign]

if __name__ == "__main__":
    from codesearch.cli import main

    main()
