"""Freshness under `codesearch watch`: time from a file save until `ask` returns the new code.

    python benchmarks/watch_latency.py [--files 500] [--edits 30] [--bursts 5] [--burst-size 2000] [--poll] [--repo PATH]

Builds a synthetic repository in a temporary directory (or takes `--repo`, an existing tree such
as the Linux kernel, whose probe files it removes again), indexes it, and starts `codesearch
watch` on it as a separate process (built-in embedder). Then, timed from the moment the last
byte is written until a fresh Searcher (what each `ask` process opens) returns the new code:
- single-file edit: one file rewritten with a new, uniquely named function, `--edits` times;
- burst: `--burst-size` new files written at once, as a branch switch does, `--bursts` times;
  done when every file of the burst is indexed and a sample of them is returned by search.
Prints a table of p50 and p95.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codesearch.errors import CodesearchError
from codesearch.searcher import Searcher

PROBE_INTERVAL_S = 0.005
TIMEOUT_S = 120.0


def module_text(name: str) -> str:
    """A small real-looking Python module whose functions carry `name`."""
    return (
        f'"""Helpers for {name}."""\n\n\n'
        f"def {name}(items, key=None):\n"
        f'    """Sort items by key and drop duplicates for {name}."""\n'
        "    seen = set()\n"
        "    result = []\n"
        "    for item in sorted(items, key=key):\n"
        "        if item not in seen:\n"
        "            seen.add(item)\n"
        "            result.append(item)\n"
        "    return result\n\n\n"
        f"class {name.title().replace('_', '')}Cache:\n"
        "    def __init__(self):\n"
        "        self.entries = {}\n\n"
        "    def get(self, key):\n"
        "        return self.entries.get(key)\n"
    )


def make_repo(root: Path, files: int) -> None:
    for index in range(files):
        path = root / f"pkg{index % 25:02d}" / f"module_{index:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_text(f"helper_{index:04d}"))


def returns(index_dir: Path, name: str) -> bool:
    """Whether a fresh reader asking for `name` (unique to one file's new content) gets that
    content among its top five hits."""
    try:
        with Searcher(index_dir) as searcher:
            hits = searcher.search(name, 5).hits
    except CodesearchError:
        return False
    return any(name in hit.text for hit in hits)


def searchable(index_dir: Path, prefix: str, size: int, sample: list[str]) -> bool:
    """Whether all `size` files under `prefix` are indexed and the `sample` of names is returned."""
    with sqlite3.connect(index_dir / "index.db") as conn:
        indexed = conn.execute("SELECT COUNT(*) FROM files WHERE path LIKE ?", (prefix + "%",)).fetchone()[0]
    return indexed == size and all(returns(index_dir, name) for name in sample)


def wait_until(check: Callable[[], bool], what: str) -> float:
    """Seconds until `check()` holds, probing every PROBE_INTERVAL_S."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > TIMEOUT_S:
            sys.exit(f"gave up after {TIMEOUT_S:.0f} s waiting for {what}")
        time.sleep(PROBE_INTERVAL_S)
    return time.perf_counter() - started


PROBE_FILE = "codesearch_watch_probe.py"
"""The file each edit rewrites, at the root; the bursts go to `burst<N>/` beside it."""


def single_edits(root: Path, index_dir: Path, edits: int) -> list[float]:
    target = root / PROBE_FILE
    latencies = []
    for edit in range(edits):
        name = f"edited_function_{edit:03d}_{random.randrange(10**6):06d}"
        target.write_text(module_text(name))
        latencies.append(wait_until(lambda: returns(index_dir, name), f"edit {edit}"))
        time.sleep(0.2)
    return latencies


def bursts(root: Path, index_dir: Path, count: int, size: int) -> tuple[list[float], list[float]]:
    """(seconds to write each burst, seconds from its last write until it is all searchable)."""
    writes, latencies = [], []
    for burst in range(count):
        prefix = f"burst{burst}/"
        names = [f"burst{burst}_function_{index:04d}" for index in range(size)]
        started = time.perf_counter()
        for index, name in enumerate(names):
            path = root / prefix / f"d{index // 100:02d}" / f"f{index:04d}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(module_text(name))
        writes.append(time.perf_counter() - started)
        sample = random.sample(names, 3) + [names[-1]]
        latencies.append(wait_until(lambda: searchable(index_dir, prefix, size, sample), f"burst {burst}"))
        time.sleep(0.5)
    return writes, latencies


def row(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"| {label:<34} | {len(seconds):>4} | {statistics.median(seconds) * 1000:>8.0f} | {p95 * 1000:>8.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500, help="files in the repository before the edits")
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--burst-size", type=int, default=2000)
    parser.add_argument("--poll", action="store_true", help="watch with polling instead of native events")
    parser.add_argument("--repo", type=Path, help="an existing tree to watch instead of a synthetic one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.repo.resolve() if args.repo else Path(tmp) / "repo"
        if not args.repo:
            make_repo(root, args.files)
        edits, writes, burst_latencies = measure(root, args)
    described = str(args.repo) if args.repo else f"{args.files} files"
    print(f"repository: {described}; watch {'--poll' if args.poll else '(native events)'}; built-in embedder\n")
    print(f"| {'save -> ask returns the new code':<34} | {'n':>4} | {'p50 ms':>8} | {'p95 ms':>8} |")
    print(f"|{'-' * 36}|{'-' * 6}|{'-' * 10}|{'-' * 10}|")
    print(row("single-file edit", edits))
    if args.bursts:
        print(row(f"{args.burst_size:,}-file burst (from last write)", burst_latencies))
        print(row(f"  writing the {args.burst_size:,} files", writes))


def measure(root: Path, args: argparse.Namespace) -> tuple[list[float], list[float], list[float]]:
    """(edit latencies, burst write times, burst latencies) under a watcher of `root`; the probe
    files are removed afterwards, so an existing tree is left as it was found."""
    index_dir = root / ".codesearch"
    subprocess.run([sys.executable, "-m", "codesearch", "index", str(root), "--quiet"], check=True)
    command = [sys.executable, "-m", "codesearch", "watch", str(root), *(["--poll"] if args.poll else [])]
    watcher = subprocess.Popen(command)
    try:
        (root / PROBE_FILE).write_text(module_text("watch_started"))
        wait_until(lambda: returns(index_dir, "watch_started"), "the watcher to start")
        time.sleep(1.0)
        edits = single_edits(root, index_dir, args.edits)
        writes, burst_latencies = bursts(root, index_dir, args.bursts, args.burst_size)
        return edits, writes, burst_latencies
    finally:
        watcher.terminate()
        watcher.wait()
        (root / PROBE_FILE).unlink(missing_ok=True)
        for burst in range(args.bursts):
            shutil.rmtree(root / f"burst{burst}", ignore_errors=True)


if __name__ == "__main__":
    main()
