"""`codesearch serve` under load: requests a second and latency with 1, 8 and 32 concurrent clients.

    .venv/bin/python benchmarks/serve_load.py PATH                      # the index found from PATH
    .venv/bin/python benchmarks/serve_load.py --index /tmp/serve-kernel/index --seconds 20
    .venv/bin/python benchmarks/serve_load.py --store postgresql://search@db/code [--repo NAME ...]

Starts `python -m codesearch serve` (over the local index, or with --store over the store's
repositories, all searched at once) as a subprocess on a free port with no rate limit, asks
every query once untimed (the first searches load the vectors), then for each concurrency
level runs that many clients (asyncio, one httpx connection each) asking `/api/search` for
benchmarks/scale.py's first 20 questions (kernel and systems code), each client starting at
another question, for `--seconds` or `--requests`, whichever ends first. Prints a Markdown
table (clients, requests, requests/s, p50 and p95 latency, errors: any answer but 200) and
the server's peak resident memory (VmHWM of its process). The client runs on the same
machine, so on a small one it takes CPU from the server: the figures are a lower bound.
Exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx  # noqa: E402

from benchmarks.scale import QUERIES  # noqa: E402
from test_serve_api import served  # noqa: E402

QUESTIONS = QUERIES[:20]
LEVELS = (1, 8, 32)


@dataclass
class Level:
    """What one concurrency level measured."""

    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def row(self) -> str:
        done = len(self.latencies)
        ms = sorted(1000 * s for s in self.latencies) or [0.0]
        p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
        rate = (done + self.errors) / self.seconds if self.seconds else 0.0
        return f"| {self.clients} | {done + self.errors:,} | {rate:.1f} | {statistics.median(ms):.0f} | {p95:.0f} | {self.errors} |"


async def load(url: str, clients: int, seconds: float, requests: int) -> Level:
    """`clients` clients asking in a loop until `seconds` pass or `requests` were sent in all."""
    level = Level(clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0, trust_env=False) as http:
        started = time.perf_counter()
        deadline = started + seconds
        sent = 0

        async def client(number: int) -> None:
            nonlocal sent
            asked = number
            while time.perf_counter() < deadline and sent < requests:
                sent += 1
                query = QUESTIONS[asked % len(QUESTIONS)]
                asked += 1
                began = time.perf_counter()
                try:
                    response = await http.get("/api/search", params={"q": query, "k": 10})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    level.latencies.append(time.perf_counter() - began)
                else:
                    level.errors += 1

        await asyncio.gather(*(client(number * 7) for number in range(clients)))
        level.seconds = time.perf_counter() - started
    return level


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=None, help="repository root (default: the one --index records)")
    parser.add_argument("--index", type=Path, default=None, help="index directory")
    parser.add_argument("--store", default=None, help="a PostgreSQL store's URL: serve its repositories instead")
    parser.add_argument("--repo", action="append", default=[], help="with --store: only this repository; repeatable")
    parser.add_argument("--seconds", type=float, default=15.0, help="time per concurrency level")
    parser.add_argument("--requests", type=int, default=3000, help="most requests per concurrency level")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrency levels, comma-separated")
    args = parser.parse_args()
    options = [
        *([args.path] if args.path else []), *(["--index", args.index] if args.index else []),
        *(["--store", args.store] if args.store else []), *(f"--repo={name}" for name in args.repo), "--rate", "0",
    ]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs", file=sys.stderr)
    with served(*options) as server:
        status = server.get("/api/status").json()
        repos = status.get("repositories", [status])  # a store's status lists them; a local index's is its one
        files, chunks = (sum(repo[key] for repo in repos) for key in ("files", "chunks"))
        print(f"serving {server.root}: {len(repos)} repositories, {files:,} files, {chunks:,} chunks", file=sys.stderr)
        for query in QUESTIONS:
            server.get("/api/search", q=query)
        levels = [asyncio.run(load(server.url, int(n), args.seconds, args.requests)) for n in args.levels.split(",")]
        peak = peak_rss_mib(server.process.pid)
    print("| clients | requests | requests/s | p50 ms | p95 ms | errors |")
    print("|---|---|---|---|---|---|")
    for level in levels:
        print(level.row())
    print(f"\nserver peak RSS (VmHWM): {peak:,.0f} MiB")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)


if __name__ == "__main__":
    main()
