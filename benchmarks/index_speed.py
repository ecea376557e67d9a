"""Indexing speed and query latency on a real code base, through the real CLI.

    python benchmarks/index_speed.py PATH [--embedder static] [--queries 20]

Indexes PATH into a temporary index directory (PATH itself is never written), re-indexes it
unchanged, then times `ask` as a fresh process and inside one warm process. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERIES = [
    "parse json", "read a file line by line", "compute the determinant of a matrix", "http request with retries",
    "convert string to integer", "sort a list by key", "open a database connection", "random number generator seed",
    "print a progress bar", "cache results of a function", "check if a number is prime", "serialize to yaml",
    "decode base64", "walk a directory tree", "format a date as iso string", "raise an error for invalid input",
    "compute the gradient", "merge two dictionaries", "split text into tokens", "thread pool executor",
]


def codesearch(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "codesearch", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"codesearch {' '.join(args)} failed: {done.stderr.strip()}")
    return time.perf_counter() - started, done.stdout


def indexed_bytes(index_dir: Path) -> int:
    with sqlite3.connect(index_dir / "index.db") as conn:
        return int(conn.execute("SELECT COALESCE(SUM(size), 0) FROM files").fetchone()[0])


def warm_latencies(index_dir: Path, queries: list[str]) -> list[float]:
    from codesearch.searcher import Searcher

    with Searcher(index_dir) as searcher:
        searcher.search(queries[0])
        latencies = []
        for query in queries:
            started = time.perf_counter()
            searcher.search(query)
            latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--queries", type=int, default=10, help="cold `ask` processes to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        first_s, out = codesearch("index", str(args.path), "--index", str(index_dir), "--embedder", args.embedder, "--json", "--quiet")
        report = json.loads(out)
        again_s, _ = codesearch("index", str(args.path), "--index", str(index_dir), "--json", "--quiet")
        cold = [codesearch("ask", q, "--index", str(index_dir), "--json")[0] for q in QUERIES[: args.queries]]
        warm = warm_latencies(index_dir, QUERIES)
        megabytes = indexed_bytes(index_dir) / 1e6
    rows = [
        ("files", f"{report['files']:,}"),
        ("source MB", f"{megabytes:.1f}"),
        ("chunks", f"{report['chunks']:,}"),
        ("index time (s)", f"{first_s:.1f}"),
        ("files/s", f"{report['files'] / first_s:,.0f}"),
        ("MB/s", f"{megabytes / first_s:.2f}"),
        ("chunks/s", f"{report['chunks'] / first_s:,.0f}"),
        ("no-change re-index (s)", f"{again_s:.2f}"),
        ("ask cold process p50 (ms)", f"{statistics.median(cold) * 1000:.0f}"),
        ("ask warm p50 (ms)", f"{statistics.median(warm) * 1000:.1f}"),
    ]
    print(f"| metric ({args.path.name}, {args.embedder}) | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
