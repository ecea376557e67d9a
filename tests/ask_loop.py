"""A reader process: `codesearch ask` in a loop, each answer recorded, until a stop file appears.

`python tests/ask_loop.py INDEX_DIR OUT_JSONL STOP_FILE SEED` runs the real CLI command in
this process (a fresh Searcher per query, as a fresh `codesearch ask` would open one) so that
eight of them can query many times a second on two cores. Prints "ready" once imported.
Used by tests/test_concurrency.py and benchmarks/faults.py.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from typer.testing import CliRunner

from codesearch.cli import app
from fault_repo import QUERIES

MODES = ("hybrid", "dense", "lexical")


def ask_until(index_dir: str, out: Path, stop: Path, seed: int) -> None:
    """Record {query, mode, exit, stderr, hits, exception} per query, one JSON line each."""
    runner = CliRunner()
    chance = random.Random(seed)
    with out.open("w") as answers:
        while not stop.exists():
            query, mode = chance.choice(QUERIES), chance.choice(MODES)
            result = runner.invoke(app, ["ask", query, "--json", "-k", "10", "--mode", mode, "--index", index_dir])
            failed = result.exception is not None and not isinstance(result.exception, SystemExit)
            record = {
                "query": query, "mode": mode, "exit": result.exit_code, "stderr": result.stderr,
                "hits": json.loads(result.stdout)["results"] if result.exit_code in (0, 1) and not failed else None,
                "exception": repr(result.exception) if failed else None,
            }
            answers.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    print("ready", flush=True)
    ask_until(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
