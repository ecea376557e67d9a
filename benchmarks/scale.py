"""Indexing and search at scale on real code bases, through the real CLI, one table row per corpus.

    python benchmarks/scale.py CORPUS... [--workers N] [--queries 50] [--cold 10] [--kill] [--json]

For each CORPUS (never written: every index goes to a temporary directory via `--index`):
- bare parse: every file codesearch would index (codesearch.files.discover) is read, and those
  in a grammar language parsed with the chunker's tree-sitter parsers, in a process pool of
  `--workers` processes; MB/s over the bytes read, so it covers the same files as the index;
- index: `codesearch index CORPUS --index TMP --json -q` as a fresh process, run through
  benchmarks/count_embeddings.py (the same CLI, with every StaticEmbedder.embed call counted
  in any process); wall seconds, MB/s, its ratio to the bare parse (target >= 40%), and the
  peak memory of the indexer's whole process tree (PSS summed over it, sampled every 0.2 s);
- no-change re-index seconds (`python -m codesearch index` again); `ask` p50 in one warm process (codesearch.searcher.Searcher,
  `--queries` queries) and as fresh `python -m codesearch ask` processes (`--cold` of them);
- recall@10 of the index's vector search against exact inner product over every stored vector;
- with --kill: a second index of the corpus is killed with SIGKILL (its whole process group)
  at half the uninterrupted run's wall time, then `index` runs again to completion; the texts
  embedded by both, relative to the uninterrupted run (target <= 105%).
`--workers N` pins this process, so the indexer and the parse pool too, to N of its cores.
Use an idle machine: every number is wall time.

Corpora used for the README (prepared once, then only read):

- Linux kernel source, Debian's linux-source-6.1 package. Its top-level .gitignore has two
  packaging lines, `/*` and `!/debian/`, that ignore everything; delete them:

      apt-get download linux-source-6.1 && dpkg-deb -x linux-source-6.1_*_all.deb deb
      tar xf deb/usr/src/linux-source-6.1.tar.xz -C deb/usr/src
      sed -i -e '\\#^/\\*$#d' -e '\\#^!/debian/$#d' deb/usr/src/linux-source-6.1/.gitignore

- 26 MB of Python: sympy 1.14.0, the wheel unpacked (`pip download --no-deps sympy==1.14.0`,
  then `unzip -q sympy-1.14.0-py3-none-any.whl -d sympy`).
- 364 MB of mixed-language source (Go, Rust, PHP, Ruby, JavaScript, TypeScript, Python, C):
  every Debian -dev package, every npm package and five PyPI wheels of the project's package
  collection (data/pkgs: one directory per package holding its .deb, .tgz or .whl), unpacked
  in the directory holding pkgs/:

      for f in pkgs/deb/*/*.deb; do n=$(basename $(dirname $f)); mkdir -p mixed/deb/$n; dpkg-deb -x $f mixed/deb/$n; done
      for f in pkgs/npm/*/*.tgz; do n=$(basename $(dirname $f)); mkdir -p mixed/npm/$n; tar xzf $f -C mixed/npm/$n; done
      for n in astropy django numpy pandas scikit-learn; do unzip -q pkgs/pypi/$n/*.whl -d mixed/pypi/$n; done

  Where that collection is not at hand, a stand-in of the same kinds (334 MB, 12,895 files; used
  for the grammars' index-speed check of 2026-12-02, see README's Index speed section):

      pip download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
          astropy django numpy pandas scikit-learn                                        # in pkgs/pypi
      for p in typescript lodash rxjs three eslint webpack moment d3 express axios zod vue @angular/core; do
          npm pack $p; done                                                               # in pkgs/npm
      apt-get download golang-golang-x-net-dev golang-github-gin-gonic-gin-dev \
          golang-github-prometheus-client-golang-dev golang-github-spf13-cobra-dev golang-google-grpc-dev \
          librust-tokio-dev librust-regex-dev librust-serde-dev librust-hyper-dev php-symfony-console \
          php-symfony-http-foundation php-guzzlehttp-guzzle ruby-rack ruby-sinatra ruby-activesupport rails  # in pkgs/deb

  then unpacked into mixed/pypi, mixed/npm and mixed/deb as above (one directory per file).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.count_embeddings import COUNTS_ENV, total  # noqa: E402
from benchmarks.index_speed import warm_latencies  # noqa: E402
from codesearch import chunker  # noqa: E402
from codesearch.files import SkipFile, SourceFile, discover, read_source  # noqa: E402
from codesearch.searcher import Searcher  # noqa: E402
from codesearch.store import Store  # noqa: E402
from codesearch.tasks import query_task  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COUNTED_CLI = REPO / "benchmarks" / "count_embeddings.py"
SAMPLE_SECONDS = 0.2
PARSE_BATCH = 64
K = 10

QUERIES = [
    # kernel and systems code
    "allocate a page of memory", "free memory when the reference count drops to zero", "acquire a spinlock with interrupts disabled",
    "schedule work on a workqueue", "handle a page fault", "copy data from user space", "register a character device",
    "read a block from disk", "flush dirty pages to storage", "parse mount options", "look up an inode by number",
    "allocate a socket buffer", "checksum of a network packet", "set up a dma mapping", "handle an interrupt request",
    "wake up processes waiting on a queue", "create a kernel thread", "timer expiry callback", "initialise a mutex",
    "map device registers into memory", "journal commit transaction", "rename a file in a directory", "hash table lookup with rcu",
    "validate an ioctl argument", "power management suspend and resume",
    # general code
    "parse json", "read a file line by line", "http request with retries", "convert string to integer",
    "sort a list by key", "open a database connection", "random number generator seed", "print a progress bar",
    "cache results of a function", "check if a number is prime", "decode base64", "walk a directory tree",
    "format a date as iso string", "raise an error for invalid input", "merge two dictionaries", "split text into tokens",
    "thread pool executor", "compress data with gzip", "validate an email address", "command line argument parsing",
    "render an html template", "matrix multiplication", "retry with exponential backoff", "compute a sha256 digest",
    "send an email",
]


@dataclass
class IndexRun:
    """One `codesearch index` process: wall time, peak PSS of its tree, its --json report."""

    seconds: float
    peak_bytes: int
    report: dict  # empty when it was killed


# --- bare parse ---------------------------------------------------------------------------------


def parse_batch(files: list[SourceFile]) -> int:
    """Read every file and parse those with a grammar, as the chunker does; the bytes read."""
    done = 0
    for source in files:
        try:
            data = read_source(source)
        except SkipFile:
            continue
        if source.language in chunker.GRAMMAR_LANGUAGES:
            chunker._parser(source.language).parse(data)
        done += len(data)
    return done


def warm_page_cache(files: list[SourceFile]) -> None:
    """Read every file once, untimed, so the parse and the index both find them in memory."""
    for source in files:
        try:
            read_source(source)
        except SkipFile:
            pass


def bare_parse(files: list[SourceFile], workers: int) -> tuple[int, float]:
    """(bytes read, wall seconds) for reading and parsing `files` across `workers` processes.

    Forked workers start at once, importing nothing: the baseline is the parse alone.
    """
    batches = [files[i : i + PARSE_BATCH] for i in range(0, len(files), PARSE_BATCH)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = sum(pool.imap_unordered(parse_batch, batches))
    return done, time.perf_counter() - started


# --- index runs ---------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """Subprocesses run this checkout's codesearch, as this process does."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def run_index(corpus: Path, index_dir: Path, counts: Path | None, kill_after: float | None = None) -> IndexRun:
    """Index `corpus`, its embedding counted into `counts` unless None (the plain CLI then);
    SIGKILL its whole process group after `kill_after` seconds.
    """
    cli = [str(COUNTED_CLI)] if counts else ["-m", "codesearch"]
    command = [sys.executable, *cli, "index", str(corpus), "--index", str(index_dir), "--json", "-q"]
    env = child_env(**{COUNTS_ENV: str(counts)}) if counts else child_env()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)
        peak = 0
        while process.poll() is None:
            if kill_after is not None and time.perf_counter() - started >= kill_after:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return IndexRun(time.perf_counter() - started, peak, {})
            peak = max(peak, tree_pss(process.pid))
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({process.returncode}): {err.read().strip()}")
        return IndexRun(seconds, peak, json.loads(out.read()))


def tree_pss(root: int) -> int:
    """Bytes of PSS summed over process `root` and all its descendants (0 for any that vanished)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    pending, found = [root], 0
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        found += pss(pid)
    return found


def pss(pid: int) -> int:
    """Bytes of PSS of one process: its private memory plus its share of what it shares."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)


# --- queries ------------------------------------------------------------------------------------


def warm_p50(index_dir: Path, queries: list[str]) -> float:
    """Median seconds per search in one process, after a first search has loaded everything."""
    return statistics.median(warm_latencies(index_dir, queries))


def cold_p50(index_dir: Path, queries: list[str]) -> float:
    """Median wall seconds of a fresh `python -m codesearch ask` process, start to exit."""
    latencies = []
    for query in queries:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "codesearch", "ask", query, "--index", str(index_dir), "--json"],
            check=True, stdout=subprocess.DEVNULL, env=child_env(),
        )
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies)


# --- recall of the vector index against exact search ----------------------------------------------
# Only Searcher.vectors.search (given, as the searcher gives it, the exact vectors to re-rank
# with) and Store.chunk_vectors are used, so this keeps working whatever index kind is picked.


def recall_at_k(index_dir: Path, queries: list[str], k: int = K) -> float:
    """Mean share of the index's top k that is in the exact top k (ties with the k-th count as in)."""
    with Searcher(index_dir) as searcher:
        store, signature = searcher.store, searcher.embedder.signature
        matrix = np.stack([searcher.embedder.embed([q], query_task(q))[0] for q in queries]).astype(np.float32)
        exact = partial(store.chunk_vectors, signature)
        answers = [[cid for cid, _ in searcher.vectors.search(row, k, exact=exact)] for row in matrix]
        kth = exact_kth_scores(store, signature, matrix, k)
        shares = [
            np.count_nonzero(exact_scores(store, signature, row, ids) >= bar - 1e-5) / k
            for row, ids, bar in zip(matrix, answers, kth)
        ]
    return float(np.mean(shares))


def exact_kth_scores(store: Store, signature: str, queries: np.ndarray, k: int) -> np.ndarray:
    """Each query's k-th best inner product over every stored chunk vector, streamed in batches."""
    best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    for _ids, vectors in store.chunk_vectors(signature):
        merged = np.concatenate([best, queries @ vectors.T], axis=1)
        best = -np.sort(-merged, axis=1)[:, :k]
    return best[:, -1] if best.shape[1] == k else np.full(len(queries), -np.inf)


def exact_scores(store: Store, signature: str, query: np.ndarray, ids: list[int]) -> np.ndarray:
    """The exact inner products of `query` with the chunks `ids` (the index may only approximate them)."""
    parts = [vectors @ query for _ids, vectors in store.chunk_vectors(signature, ids)]
    return np.concatenate(parts) if parts else np.zeros(0)


# --- one corpus ---------------------------------------------------------------------------------


def measure(corpus: Path, workers: int, queries: list[str], cold: int, kill: bool) -> dict:
    """One table row for `corpus`."""
    files = list(discover(corpus))
    warm_page_cache(files)
    parsed_bytes, parse_seconds = bare_parse(files, workers)
    megabytes = parsed_bytes / 1e6
    with tempfile.TemporaryDirectory(prefix="codesearch-scale-") as tmp:
        work = Path(tmp)
        whole = run_index(corpus, work / "index", work / "whole.counts")
        again = run_index(corpus, work / "index", None)
        row = {
            "corpus": corpus.name,
            "files": whole.report["files"],
            "MB": round(megabytes, 1),
            "chunks": whole.report["chunks"],
            "parse MB/s": round(megabytes / parse_seconds, 2),
            "index s": round(whole.seconds, 1),
            "index MB/s": round(megabytes / whole.seconds, 2),
            "index/parse": round(parse_seconds / whole.seconds, 3),
            "peak MiB": round(whole.peak_bytes / 2**20),
            "re-index s": round(again.seconds, 2),
            "ask warm p50 ms": round(warm_p50(work / "index", queries) * 1000, 1),
            "ask cold p50 ms": round(cold_p50(work / "index", queries[:cold]) * 1000),
            "recall@10": round(recall_at_k(work / "index", queries), 3),
            "embedded": total(work / "whole.counts"),
        }
        if kill:
            both = killed_and_resumed(corpus, work, whole.seconds / 2)
            row["kill+resume embedded"] = None if both is None else both / max(1, row["embedded"])
    return row


def killed_and_resumed(corpus: Path, work: Path, kill_after: float) -> int | None:
    """Texts embedded by an index killed after `kill_after` s plus the run that completes it;
    None when the first run finished before its kill.
    """
    counts = work / "killed.counts"
    if run_index(corpus, work / "killed", counts, kill_after=kill_after).report:
        return None
    run_index(corpus, work / "killed", counts)
    return total(counts)


COLUMNS = [
    ("corpus", "{}"), ("files", "{:,}"), ("MB", "{:.1f}"), ("chunks", "{:,}"), ("parse MB/s", "{:.2f}"),
    ("index s", "{:.1f}"), ("index MB/s", "{:.2f}"), ("index/parse", "{:.0%}"), ("peak MiB", "{:,}"),
    ("re-index s", "{:.2f}"), ("ask warm p50 ms", "{:.1f}"), ("ask cold p50 ms", "{:,}"), ("recall@10", "{:.3f}"),
    ("kill+resume embedded", "{:.1%}"),
]

NOT_MEASURED = {"kill+resume embedded": "finished before the kill"}


def table(rows: list[dict]) -> str:
    columns = [(name, fmt) for name, fmt in COLUMNS if any(name in row for row in rows)]
    cells = [[fmt.format(row[name]) if row.get(name) is not None else NOT_MEASURED.get(name, "") for name, fmt in columns] for row in rows]
    return markdown([name for name, _ in columns], cells)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, as the README shows them."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", type=Path, metavar="CORPUS")
    parser.add_argument("--workers", type=int, help="cores to use (default: every core this process may run on)")
    parser.add_argument("--queries", type=int, default=len(QUERIES), help=f"warm queries and recall queries (at most {len(QUERIES)})")
    parser.add_argument("--cold", type=int, default=10, help="fresh `ask` processes to time")
    parser.add_argument("--kill", action="store_true", help="also kill -9 an index half-way and resume it")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if args.workers:
        os.sched_setaffinity(0, cores[: args.workers])
    workers = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]  # other work on the machine skews every wall time below
    rows = [measure(corpus.resolve(), workers, QUERIES[: args.queries], args.cold, args.kill) for corpus in args.corpora]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{workers} cores, built-in embedder, load average {load:.1f} at the start\n\n{table(rows)}")


if __name__ == "__main__":
    main()
