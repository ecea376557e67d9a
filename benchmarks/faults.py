"""Faults, all of them at full length: kill -9 everywhere, hostile files, a minute of concurrency.

    python benchmarks/faults.py [--timed 20] [--seconds 60]

Runs what tests/test_crash.py, tests/test_bad_input.py and tests/test_concurrency.py run in
samples, in full, and prints one table:
- kill -9 of `codesearch index` at every seam point of tests/crash_harness.py (discovery,
  embedding, writing; incremental and --full), then at `--timed` random moments (a third with
  --full); after each: `ask`, `status`, the invariants and a complete next `index` must hold;
- the hostile-input corpus of tests/nasty_files.py: each file indexed with its symbols at their
  lines, or skipped with its reason counted;
- `--seconds` of `watch` syncing edits, `index` attempts and eight `ask` loops together.
Every failure is listed under the table (target: none). Exits 0 either way: a measurement, not a gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from codesearch.cli import app  # noqa: E402
from codesearch.store import DB_NAME  # noqa: E402
from concurrent_run import READERS, run_concurrently  # noqa: E402
from crash_harness import KILL_POINTS, KILL_REPO_FILES, run_killed_after, run_killed_at  # noqa: E402
from fault_repo import Prepared, assert_recovers, changed_copy, prepare  # noqa: E402
from nasty_files import LOCKOUT_PREFIX, Nasty, unlock_tree, write_nasty_tree  # noqa: E402


@dataclass
class Row:
    fault: str
    tried: int = 0
    failures: list[str] = field(default_factory=list)
    note: str = ""


def cli(*args: object) -> Result:
    """The real CLI in this process, as tests/conftest.py's `cli` fixture runs it."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def recovered(name: str, root: Path, prepared: Prepared, row: Row) -> None:
    try:
        assert_recovers(cli, root, prepared)
    except AssertionError as exc:
        row.failures.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion failed'}")


def seam_kills(workdir: Path, prepared: Prepared) -> Row:
    row = Row("kill -9 at a seam (discovery, embedding, writing)")
    for point in KILL_POINTS:
        root = changed_copy(prepared, workdir / f"seam-{point.name}")
        row.tried += 1
        code = run_killed_at(point, root)
        if code != -9:
            row.failures.append(f"{point.name}: the kill never came (exit {code})")
            continue
        recovered(point.name, root, prepared, row)
    return row


def timed_kills(workdir: Path, prepared: Prepared, count: int) -> Row:
    row = Row("kill -9 at a random moment")
    chance = random.Random(8)
    seconds = {}
    for full in (False, True):
        started = time.monotonic()
        run_killed_after(600, changed_copy(prepared, workdir / f"timed-baseline-{full}"), full)
        seconds[full] = time.monotonic() - started
    landed = 0
    for number in range(count):
        full = chance.random() < 1 / 3
        root = changed_copy(prepared, workdir / f"timed-{number}")
        row.tried += 1
        landed += run_killed_after(chance.uniform(0.02, 0.95) * seconds[full], root, full) == -9
        recovered(f"random moment {number}{' (--full)' if full else ''}", root, prepared, row)
    row.note = f"{landed} landed before the run ended"
    return row


def hostile_inputs(workdir: Path) -> Row:
    row = Row("hostile input files")
    root = workdir / "nasty"
    cases = write_nasty_tree(root, locked=LOCKOUT_PREFIX is not None)
    env = {k: v for k, v in os.environ.items() if k not in {"CODESEARCH_INDEX", "JINA_API_KEY"}}
    try:
        done = subprocess.run(
            [*(LOCKOUT_PREFIX or []), sys.executable, "-m", "codesearch", "index", ".", "--embedder", "static", "--json"],
            capture_output=True, text=True, env=env, cwd=root, timeout=600,
        )
    finally:
        unlock_tree(root)
    row.tried = len(cases)
    if done.returncode != 0:
        row.failures.append(f"index exited with {done.returncode}: {done.stderr.strip()[-300:]}")
        return row
    expected = Counter(case.skip for case in cases.values() if case.skip)
    if json.loads(done.stdout)["skipped"] != dict(expected):
        row.failures.append(f"skips counted {json.loads(done.stdout)['skipped']}, expected {dict(expected)}")
    indexed = _indexed_symbols(root / ".codesearch" / DB_NAME)
    row.failures += [f"{path!r}: {problem}" for path, case in cases.items() if (problem := _case_problem(path, case, indexed))]
    if LOCKOUT_PREFIX is None:
        row.note = "unreadable-file cases left out: root without setpriv"
    return row


def _indexed_symbols(database: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """path -> symbol -> (first line, last line) over all its chunks."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    with closing(sqlite3.connect(database)) as db:
        for (path,) in db.execute("SELECT path FROM files"):
            found[path] = {}
        rows = db.execute(
            "SELECT f.path, c.symbol, MIN(c.start_line), MAX(c.end_line) FROM chunks c JOIN files f ON f.id = c.file_id "
            "GROUP BY f.path, c.symbol"
        )
        for path, symbol, start, end in rows:
            found[path][symbol] = (start, end)
    return found


def _case_problem(path: str, case: Nasty, indexed: dict[str, dict[str, tuple[int, int]]]) -> str | None:
    if case.skip:
        # a binary file is remembered without chunks, so that it is not read again until it changes
        wrongly = indexed.get(path) if case.skip == "binary" else path in indexed
        return f"indexed, but should be skipped as {case.skip}" if wrongly else None
    if path not in indexed:
        return "not indexed"
    wrong = {s: (indexed[path].get(s), lines) for s, lines in case.symbols.items() if indexed[path].get(s) != lines}
    return f"symbol lines (found, expected): {wrong}" if wrong else None


def concurrency(workdir: Path, seconds: float) -> tuple[Row, str]:
    outcome = run_concurrently(workdir / "concurrency", seconds)
    row = Row(f"queries while watch and index write ({READERS} readers, {seconds:g} s)", outcome.queries, outcome.failures)
    row.note = f"{outcome.edits} saves, {outcome.index_attempts} index attempts"
    return row, f"{outcome.queries / seconds:.0f} queries/s"


def table(rows: list[Row]) -> str:
    lines = ["| fault | tried | survived | failures | notes |", "|---|---|---|---|---|"]
    for row in rows:
        failed = len(row.failures)
        lines.append(f"| {row.fault} | {row.tried:,} | {row.tried - failed:,} | {failed:,} | {row.note} |")
    total = sum(len(row.failures) for row in rows)
    lines.append(f"| **all** | {sum(r.tried for r in rows):,} | | **{total}** | target 0 |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", type=int, default=20, help="random-moment kills (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the concurrency run (default 60)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="codesearch-faults-") as tmp:
        workdir = Path(tmp)
        prepared = prepare(workdir / "versions", KILL_REPO_FILES)
        rows = [seam_kills(workdir, prepared), timed_kills(workdir, prepared, args.timed), hostile_inputs(workdir)]
        row, rate = concurrency(workdir, args.seconds)
        rows.append(row)
    print(table(rows))
    print(f"\nkills survived: {sum(r.tried - len(r.failures) for r in rows[:2])} of {rows[0].tried + rows[1].tried}; "
          f"inputs tried: {rows[2].tried}; queries run concurrently: {rows[3].tried:,} ({rate}); "
          f"failures: {sum(len(r.failures) for r in rows)}; {time.monotonic() - started:.0f} s in all")
    for row in rows:
        for failure in row.failures:
            print(f"- {row.fault}: {failure}")


if __name__ == "__main__":
    main()
