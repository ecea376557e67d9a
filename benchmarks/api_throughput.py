"""Jina API throughput through the real engine, against a rate-limited local stand-in for the API.

    python benchmarks/api_throughput.py [--chunks 20000] [--latency 0.3] [--tpm 1200000] [--burst 10]

Generates a repository of `--chunks` distinct Python functions, starts tests/jina_server.py
with `--latency` seconds per request and a token bucket of `--tpm` tokens per minute holding
at most `--burst` seconds of tokens, then runs `codesearch index` (a separate process, as a
user would) with the jina embedder. Prints a Markdown table: achieved tokens/min as a fraction
of the limit, requests, retries, failed chunks and wall time. Achieved throughput is counted
from the first request to the last answer, minus the tokens the bucket held at the start, so
it can never exceed the limit. Exits non-zero when a chunk is lost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jina_server import JinaServer  # noqa: E402

from codesearch.chunker import chunk_source  # noqa: E402

FUNCTIONS_PER_FILE = 20
KEY = "benchmark-key"


def function_source(i: int) -> str:
    """A distinct function of 10 to 25 lines, about the size of a real one."""
    extra = "".join(f"        total += item % {k + 2} * {i % 97}\n" for k in range(i % 16))
    return (
        f"def summarize_batch_{i}(items, threshold={i % 89}):\n"
        f'    """Sum the scaled items above the threshold for report {i} and count the rest."""\n'
        f"    total, skipped = 0, 0\n"
        f"    for index, item in enumerate(items):\n"
        f"        if item <= threshold:\n"
        f"            skipped += 1\n"
        f"            continue\n"
        f"        total += item * {i % 13 + 1} + index\n"
        f"{extra}"
        f"    return {{'report': {i}, 'total': total, 'skipped': skipped}}\n"
    )


def write_repo(root: Path, chunks: int) -> int:
    """Files of FUNCTIONS_PER_FILE functions; returns the chunk count the engine's chunker makes of them."""
    expected = 0
    for start in range(0, chunks, FUNCTIONS_PER_FILE):
        source = "\n\n".join(function_source(i) for i in range(start, min(chunks, start + FUNCTIONS_PER_FILE)))
        rel = f"pkg{start // 2000}/report_{start // FUNCTIONS_PER_FILE}.py"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(source)
        expected += len(chunk_source(rel, "python", source.encode()))
    return expected


def run_index(repo: Path, server: JinaServer, concurrency: int | None) -> tuple[int, str, float]:
    """`codesearch index REPO --embedder jina --json` in its own process: exit code, output, seconds."""
    env = dict(os.environ, JINA_API_KEY=KEY, JINA_API_BASE=server.url)
    if concurrency:
        env["CODESEARCH_JINA_CONCURRENCY"] = str(concurrency)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "codesearch", "index", str(repo), "--embedder", "jina", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr.strip(), time.perf_counter() - started


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    return "\n".join([*lines, *(f"| {name.ljust(width)} | {value} |" for name, value in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the server holds every request")
    parser.add_argument("--tpm", type=int, default=1_200_000, help="tokens per minute the key may use")
    parser.add_argument("--burst", type=float, default=10.0, help="seconds of tokens the bucket can hold")
    parser.add_argument("--concurrency", type=int, help="CODESEARCH_JINA_CONCURRENCY for the run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="codesearch-api-") as tmp:
        repo = Path(tmp) / "repo"
        expected = write_repo(repo, args.chunks)
        with JinaServer(KEY, latency=args.latency, tokens_per_minute=args.tpm, burst_seconds=args.burst) as server:
            code, output, wall = run_index(repo, server, args.concurrency)
        if code != 0:
            sys.exit(f"index failed after {wall:.1f} s: {output}")
        report = json.loads(output)

    counts = server.status_counts()
    elapsed = (server.last_served_at or 0.0) - (server.first_request_at or 0.0)
    allowance = args.tpm / 60 * args.burst
    achieved = (server.tokens_served - allowance) / elapsed * 60
    failed = expected - report["chunks"]
    others = sum(n for status, n in counts.items() if status not in (200, 429))
    print(
        table(
            [
                ("chunks expected / indexed / failed", f"{expected} / {report['chunks']} / {failed}"),
                ("tokens served (engine counted)", f"{server.tokens_served:,} ({report['tokens']:,})"),
                ("limit", f"{args.tpm:,} tokens/min, burst {args.burst:g} s, latency {args.latency:g} s"),
                ("achieved (net of starting burst)", f"{achieved:,.0f} tokens/min = {achieved / args.tpm:.1%} of limit"),
                ("requests: answered / 429 / other errors", f"{counts[200]} / {counts[429]} / {others}"),
                ("retries", str(sum(counts.values()) - counts[200])),
                ("most requests in flight", str(server.max_in_flight)),
                ("embedding phase / wall time", f"{elapsed:.1f} s / {wall:.1f} s"),
            ]
        )
    )
    if failed:
        sys.exit(f"{failed} chunks lost")


if __name__ == "__main__":
    main()
