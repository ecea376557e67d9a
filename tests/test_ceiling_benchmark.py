"""benchmarks/ceiling.py's hollow index: the workers it starts really skip words and embedding,
so its figure is a ceiling and not the real index measured twice."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codesearch.indexer import POOL_MIN_BYTES

CEILING = Path(__file__).resolve().parents[1] / "benchmarks" / "ceiling.py"


@pytest.mark.slow
def test_hollow_index_made_by_workers_has_every_chunk_but_no_words_or_vectors(tmp_path: Path) -> None:
    tree, index = tmp_path / "tree", tmp_path / "index"
    tree.mkdir()
    index.mkdir()
    body = "".join(f"def parse_json_{i}(text):\n    return decode(text, {i})\n\n" for i in range(400))
    files = POOL_MIN_BYTES // len(body) + 2  # enough source for the worker pool
    for n in range(files):
        (tree / f"m{n}.py").write_text(body)
    env = {**os.environ, "CODESEARCH_BENCH_HOLLOW": "1"}
    subprocess.run([sys.executable, str(CEILING), "--index-into", str(index), str(tree)], env=env, check=True)
    with sqlite3.connect(index / "index.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 400 * files
        assert conn.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'json'").fetchone()[0] == 0
        vectors = [np.frombuffer(blob, dtype=np.float16) for (blob,) in conn.execute("SELECT vector FROM vectors")]
    assert vectors and not any(vector.any() for vector in vectors)
