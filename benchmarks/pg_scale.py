"""The PostgreSQL store beside the local one, on the same machine: many repositories in one database.

    .venv/bin/python benchmarks/pg_scale.py --store postgresql://me@127.0.0.1:5432/code --work /tmp/pgscale
    .venv/bin/python benchmarks/pg_scale.py --store URL --work DIR --kernel /tmp/linux-source-6.1
    .venv/bin/python benchmarks/pg_scale.py --store URL --work DIR --repos axios,click --seconds 5   # a quick look

The corpora: the 32 repositories of ../shared/benchmarks/semble-bench (`--data`) and, given
`--kernel TREE`, the Linux kernel (Debian's linux-source-6.1 unpacks one). Each is indexed with
the built-in static embedder into the store given by `--store` (an empty database with pgvector
0.8+: tests/pgserver.py starts one) as its own repository, and into its own local index under
`--work`. Printed, for each store:
- index: seconds for all corpora, the kernel apart; the database's size (`pg_database_size`)
  or the local index directories' bytes; the server's memory (the sum of the proportional set
  sizes of the PostgreSQL processes, read from /proc, so a server on this machine only);
- `ask` p50/p95 in one process over the benchmark's 632 questions: each searching its own
  repository (`--repo` for the store), and, for the store, all repositories at once;
- queries per second and p50/p95 with `--clients` (8) processes asking at once for `--seconds`,
  each its own repository's questions, and the number of errors;
- recall@10 of the filtered vector search (HNSW with iterative scans, restricted to one
  repository) against exact search of the same repository (a sequential scan), over the
  questions' vectors (>= 0.95 wanted);
- the peer benchmark's NDCG@10 (benchmarks/peer.py's scoring) from each store.
Exits 0; a part that cannot run says why in its row.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer  # noqa: E402

import codesearch  # noqa: E402
from codesearch.embedders.base import EmbedderSpec  # noqa: E402
from codesearch.searcher import Searcher  # noqa: E402

KERNEL = "linux"
STATIC = EmbedderSpec("static", "")


def index_all(corpora: dict[str, Path], store: str | None, work: Path) -> dict[str, float]:
    """Seconds to index each corpus into the store (as repository NAME) or its own local index."""
    seconds = {}
    for name, corpus in corpora.items():
        started = time.perf_counter()
        codesearch.index(corpus, index_dir=work / name, store=store, repo=name, spec=STATIC)
        seconds[name] = time.perf_counter() - started
        print(f"  {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)
    return seconds


def location(store: str | None, work: Path, name: str) -> str | Path:
    return store or work / name


def timed_asks(store: str | None, work: Path, repos: list[peer.Repo], everywhere: bool) -> list[float]:
    """Milliseconds of each question asked in one process: of its own repository, or of all."""
    latencies = []
    searchers: dict[str, Searcher] = {}
    try:
        for repo in repos:
            key = "*" if everywhere else repo.name
            if key not in searchers:
                searchers[key] = Searcher(location(store, work, repo.name), repos=() if everywhere else [repo.name])
            for q in repo.queries:
                started = time.perf_counter()
                searchers[key].search(q.text, peer.K)
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        for searcher in searchers.values():
            searcher.close()
    return latencies


def _client(args: tuple[str | None, Path, list[tuple[str, str]], float, float]) -> tuple[list[float], int]:
    """One load process: its repositories' questions in turn, from `start` until `stop` (epoch
    seconds), with a Searcher per repository opened before the start."""
    store, work, questions, start, stop = args
    searchers = {name: Searcher(location(store, work, name), repos=[name]) for name in dict.fromkeys(n for n, _ in questions)}
    latencies, errors, n = [], 0, 0
    time.sleep(max(0.0, start - time.time()))
    while time.time() < stop:
        name, text = questions[n % len(questions)]
        n += 1
        began = time.perf_counter()
        try:
            searchers[name].search(text, peer.K)
            latencies.append((time.perf_counter() - began) * 1000)
        except Exception:  # noqa: BLE001 - counted, as a load test counts failures
            errors += 1
    for searcher in searchers.values():
        searcher.close()
    return latencies, errors


def load_test(store: str | None, work: Path, repos: list[peer.Repo], clients: int, seconds: float) -> dict:
    """`clients` processes at once, each asking the questions of every `clients`-th repository."""
    start = time.time() + 20  # time for the processes to start and open their searchers
    work_lists = [[(r.name, q.text) for r in repos[i::clients] for q in r.queries] for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        parts = pool.map(_client, [(store, work, questions, start, start + seconds) for questions in work_lists if questions])
    latencies = [ms for part, _ in parts for ms in part]
    return {"qps": len(latencies) / seconds, **percentiles(latencies), "errors": sum(e for _, e in parts)}


def percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        return {"p50": float("nan"), "p95": float("nan")}
    cuts = statistics.quantiles(latencies, n=20)
    return {"p50": statistics.median(latencies), "p95": cuts[18]}


def recall_at_10(store: str, repos: list[peer.Repo]) -> float:
    """Overlap of the filtered HNSW search's top 10 with exact search's, per repository."""
    import psycopg
    from pgvector import HalfVector
    from pgvector.psycopg import register_vector

    overlaps = []
    with Searcher(store) as searcher, psycopg.connect(store, autocommit=True) as conn:
        register_vector(conn)
        dims = int(searcher.store.get_meta("dims") or 0)
        order = f"embedding::halfvec({dims}) <=> %s::halfvec({dims})"
        sql = f"SELECT c.id FROM chunks c JOIN repos r ON r.id = c.repo_id WHERE r.name = %s ORDER BY {order} LIMIT 10"
        for repo in repos:
            for q in repo.queries:
                vector = HalfVector(searcher.embedder.embed([q.text], "nl2code.query")[0].astype("float16"))
                with conn.transaction():
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    approximate = {r[0] for r in conn.execute(sql, (repo.name, vector))}
                with conn.transaction():
                    conn.execute("SET LOCAL enable_indexscan = off")
                    exact = {r[0] for r in conn.execute(sql, (repo.name, vector))}
                if exact:
                    overlaps.append(len(approximate & exact) / len(exact))
    return statistics.mean(overlaps)


def server_memory_mib() -> float | None:
    """The PostgreSQL processes' proportional set sizes summed (shared buffers counted once)."""
    total, found = 0, False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    found = True
        except OSError:
            continue
    return total / 1024 if found else None


def database_mib(store: str) -> float:
    import psycopg

    with psycopg.connect(store) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20


def directory_mib(work: Path) -> float:
    return sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) / 2**20


def ndcg(store: str | None, work: Path, repos: list[peer.Repo]) -> float:
    per_repo = []
    for repo in repos:
        with Searcher(location(store, work, repo.name), repos=[repo.name]) as searcher:
            scores = [peer.score_query(searcher, repo.prefix, q, "hybrid")["ndcg10"] for q in repo.queries]
        per_repo.append(statistics.mean(scores))
    return statistics.mean(per_repo)


def measure(label: str, store: str | None, work: Path, corpora: dict[str, Path], repos: list[peer.Repo], args) -> dict:
    print(f"{label}: indexing {len(corpora)} corpora", file=sys.stderr, flush=True)
    seconds = index_all(corpora, store, work)
    row = {
        "index_s": sum(s for name, s in seconds.items() if name != KERNEL),
        "kernel_s": seconds.get(KERNEL),
        "size_mib": database_mib(store) if store else directory_mib(work),
        "memory_mib": server_memory_mib() if store else None,
        "ask_one": percentiles(timed_asks(store, work, repos, everywhere=False)),
        "ask_all": percentiles(timed_asks(store, work, repos, everywhere=True)) if store else None,
        "load": load_test(store, work, repos, args.clients, args.seconds),
        "recall10": recall_at_10(store, repos) if store else None,
        "ndcg10": ndcg(store, work, repos),
    }
    print(json.dumps({label: row}), file=sys.stderr, flush=True)
    return row


def table(rows: dict[str, dict], header: str, clients: int) -> str:
    def cell(value: object, form: str = "{:.0f}") -> str:
        return "n/a" if value is None else form.format(value)

    lines = [header, "", f"| store | index s (32 repos) | kernel s | size MiB | server MiB | ask p50/p95 ms, one repo | "
             f"ask p50/p95 ms, all | {clients} clients q/s | p50/p95 ms | errors | recall@10 filtered | NDCG@10 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        ask_all = "n/a" if r["ask_all"] is None else f"{r['ask_all']['p50']:.0f} / {r['ask_all']['p95']:.0f}"
        lines.append(
            f"| {label} | {cell(r['index_s'])} | {cell(r['kernel_s'])} | {cell(r['size_mib'])} | {cell(r['memory_mib'])} | "
            f"{r['ask_one']['p50']:.0f} / {r['ask_one']['p95']:.0f} | "
            f"{ask_all} | "
            f"{r['load']['qps']:.1f} | {r['load']['p50']:.0f} / {r['load']['p95']:.0f} | {r['load']['errors']} | "
            f"{cell(r['recall10'], '{:.3f}')} | {r['ndcg10']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True, help="an empty PostgreSQL database with pgvector 0.8+")
    ap.add_argument("--work", type=Path, required=True, help="where the local indexes go")
    ap.add_argument("--data", type=Path, default=peer.DEFAULT_DATA, help="the semble-bench folder")
    ap.add_argument("--repos", help="comma list of benchmark repositories (default: all 32)")
    ap.add_argument("--kernel", type=Path, help="a Linux kernel tree, indexed as one more repository")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each load test")
    args = ap.parse_args(argv)
    repos = peer.load(args.data, args.repos.split(",") if args.repos else None)
    corpora = {KERNEL: args.kernel} if args.kernel else {}  # first: its HNSW index is then built once, not row by row
    corpora |= {repo.name: repo.corpus for repo in repos}
    started = time.perf_counter()
    rows = {
        "local (SQLite + FAISS)": measure("local", None, args.work, corpora, repos, args),
        "PostgreSQL + pgvector": measure("postgres", args.store, args.work, corpora, repos, args),
    }
    header = (f"pg_scale: {len(repos)} benchmark repositories{' + the Linux kernel' if args.kernel else ''}; "
              f"{peer.machine()}; {datetime.date.today()}; {time.perf_counter() - started:.0f} s")
    print(table(rows, header, args.clients))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
