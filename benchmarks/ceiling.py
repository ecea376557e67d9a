"""The fastest an index could be if words, lexical fields and embedding cost nothing.

    python benchmarks/ceiling.py CORPUS... [--workers N] [--rounds 1]

#7 asks for whole-index throughput of at least 40% of a bare tree-sitter parse. For each CORPUS
this measures, on the same files and cores:
- bare parse: scale.py's (read every file, parse those with a grammar, in a process pool);
- index: `codesearch.indexer.sync` into a fresh temporary index, as `codesearch index` does;
- hollow index: the same, but the workers find no words, make empty lexical fields and give
  every chunk a zero vector. Discovery, reading, parsing, chunking, hashing, the pool, and the
  writer's rows for files, chunks, vectors and (empty) full-text entries all still happen.
The hollow index is a ceiling: no tokeniser, embedder or full-text index, however fast, makes
the real index faster than it. Each index runs as a fresh process; `--rounds` alternates them.
Use an idle machine: every number is wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale import bare_parse, child_env, markdown, warm_page_cache  # noqa: E402
from codesearch import prepare  # noqa: E402
from codesearch.embedders import Embedder  # noqa: E402
from codesearch.files import discover  # noqa: E402
from codesearch.indexer import sync  # noqa: E402

HOLLOW_ENV = "CODESEARCH_BENCH_HOLLOW"
"""Set in a hollow index's process. Its workers see it too: they fork from a forkserver that
imports the main module, this script, before it forks any (`__main__` is its default preload)."""


def hollow_workers() -> None:
    """Replace the per-chunk word, lexical and embedding work of `codesearch.prepare`."""
    _replace("WORD", SimpleNamespace(findall=lambda text: []))
    _replace("lexical_fields", lambda path, symbol, text, words=None: ("", ""))
    _replace("_embed_input", lambda chunk, words: prepare.embed_text(chunk))
    _replace("_embed_chunks", _zero_vectors)


def _replace(name: str, value: object) -> None:
    """A renamed function would leave the hollow index doing the real work: fail instead."""
    if not hasattr(prepare, name):
        raise RuntimeError(f"codesearch.prepare has no {name}: benchmarks/ceiling.py needs updating")
    setattr(prepare, name, value)


def _zero_vectors(prepared: list[prepare.Prepared], embedder: Embedder) -> None:
    for item in prepared:
        if item.chunks:
            item.vectors = np.zeros((len(item.keys), embedder.dimensions), dtype=np.float16)


if os.environ.get(HOLLOW_ENV):
    hollow_workers()


def index_once(corpus: Path, hollow: bool) -> float:
    """Wall seconds of one index of `corpus` into a fresh directory, in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="codesearch-ceiling-") as scratch:
        command = [sys.executable, __file__, "--index-into", scratch, str(corpus)]
        env = child_env(**({HOLLOW_ENV: "1"} if hollow else {}))
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def measure(corpus: Path, workers: int, rounds: int) -> dict:
    files = list(discover(corpus))
    warm_page_cache(files)
    done, parse_seconds = bare_parse(files, workers)
    megabytes = done / 1e6
    real, hollow = [], []
    for _ in range(rounds):
        real.append(index_once(corpus, hollow=False))
        hollow.append(index_once(corpus, hollow=True))
    parse_rate = megabytes / parse_seconds
    return {
        "corpus": corpus.name,
        "MB": megabytes,
        "parse MB/s": parse_rate,
        "index s": min(real),
        "index / parse": megabytes / min(real) / parse_rate,
        "hollow s": min(hollow),
        "hollow / parse": megabytes / min(hollow) / parse_rate,
    }


def table(rows: list[dict]) -> str:
    cells = [[f"{v:.0%}" if "/ parse" in k else f"{v:.1f}" if isinstance(v, float) else str(v) for k, v in row.items()] for row in rows]
    return markdown(list(rows[0]), cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", type=Path, metavar="CORPUS")
    parser.add_argument("--workers", type=int, help="cores to use (default: every core this process may run on)")
    parser.add_argument("--rounds", type=int, default=1, help="index and hollow index runs, alternated; the best of each is shown")
    parser.add_argument("--index-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_into:
        sync(args.corpora[0], index_dir=args.index_into)
        return
    if args.workers:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.workers])
    workers = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    rows = [measure(corpus.resolve(), workers, args.rounds) for corpus in args.corpora]
    print(f"{workers} cores, built-in embedder, load average {load:.1f} at the start\n\n{table(rows)}")


if __name__ == "__main__":
    main()
