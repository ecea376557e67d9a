"""codesearch: semantic code search over source repositories.

    import codesearch
    codesearch.index("path/to/repo")                    # build or refresh ROOT/.codesearch
    with codesearch.Searcher("path/to/repo") as s:      # or no argument: found from the cwd
        for hit in s.search("parse json", k=5).hits:
            print(hit.path, hit.start_line, hit.symbol)

Everything the CLI does is here; attributes load lazily so `import codesearch` stays cheap.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
"""Before numpy loads its BLAS: indexing already runs a process per core, and the matrix
products of embedding a batch or a query are too small to gain from more threads (measured
1.3x faster single-threaded on 2 cores)."""

__version__ = "0.1.0"

_EXPORTS = {
    "index": ("codesearch.indexer", "sync"),
    "Searcher": ("codesearch.searcher", "Searcher"),
    "SearchResult": ("codesearch.searcher", "SearchResult"),
    "index_status": ("codesearch.status", "index_status"),
    "Chunk": ("codesearch.models", "Chunk"),
    "Hit": ("codesearch.models", "Hit"),
    "EmbedderSpec": ("codesearch.embedders.base", "EmbedderSpec"),
    "CodesearchError": ("codesearch.errors", "CodesearchError"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'codesearch' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
