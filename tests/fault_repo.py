"""Generated repositories for the fault tests: two versions of one tree, and the oracle for hits.

Version 1 is indexed first; version 2 edits, deletes, moves, adds and merely touches files,
so that a sync from one to the other discovers, embeds, rewrites and deletes. Every file is
top-level functions only, so a hit's text is exactly its lines of one version of its file.
Shared by tests/test_crash.py, tests/test_concurrency.py and benchmarks/faults.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from typer.testing import Result

from codesearch.indexer import sync
from codesearch.locate import index_identity
from codesearch.store import DB_NAME, IDENTITY_KEY
from invariants import check_invariants, chunk_rows, db_counts, files_out_of_step

VERBS = ("parse", "load", "save", "merge", "split", "encode", "decode", "fetch", "retry", "compute", "render", "hash")
NOUNS = ("config", "json", "token", "buffer", "record", "socket", "cache", "matrix", "header", "payload", "session", "queue")
QUERIES = ("parse json config", "retry socket with backoff", "decode token header", "merge cache records", "hash payload buffer")
FUNCTIONS_PER_FILE = 8

Versions = dict[str, list[str]]
"""relpath -> every text the file has had (a hit must match one of them)."""


@dataclass(frozen=True)
class Prepared:
    """A version-one tree with its index, and what a finished sync to version two must hold."""

    base: Path
    count: int
    v2_rows: set[tuple[str, int, int, str, str]]
    texts: Versions


def prepare(workdir: Path, count: int) -> Prepared:
    """Index version one under `workdir`, and version two beside it as the reference."""
    base, reference = workdir / "v1", workdir / "v2"
    write_files(base, version_one(count))
    write_files(reference, version_two(count))
    sync(base)
    sync(reference)
    return Prepared(base, count, chunk_rows(reference / ".codesearch"), both_versions(count))


def changed_copy(prepared: Prepared, root: Path) -> Path:
    """A copy of the indexed version one at `root`, its files then changed to version two; the
    copied index is made to record its new root and place, as if it had been built there."""
    shutil.copytree(prepared.base, root)
    with closing(sqlite3.connect(root / ".codesearch" / DB_NAME)) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'root'", (str(root),))
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (index_identity(root / ".codesearch"), IDENTITY_KEY))
    change_to_version_two(root, prepared.count)
    return root


def function(seed: int, edit: int) -> str:
    """One small Python function; `edit` changes its body (and so its vector) but not its name."""
    verb, noun = VERBS[seed % len(VERBS)], NOUNS[(seed // len(VERBS)) % len(NOUNS)]
    return (
        f"def {verb}_{noun}_{seed}(value, limit={seed % 97}):\n"
        f'    """{verb.capitalize()} the {noun} value, at most limit times (edit {edit})."""\n'
        f"    result = [{verb!r}, {noun!r}, value]\n"
        f"    for step in range(limit + {edit}):\n"
        f"        result.append(step * {seed})\n"
        f"    return result\n"
    )


def module(number: int, edit: int = 0) -> str:
    """File `number` at edit `edit`: FUNCTIONS_PER_FILE functions."""
    seeds = range(number * FUNCTIONS_PER_FILE, (number + 1) * FUNCTIONS_PER_FILE)
    return "import os\n\n\n" + "\n\n".join(function(seed, edit) for seed in seeds)


def path_of(number: int, moved: bool = False) -> str:
    return f"{'moved' if moved else 'pkg'}{number // 50}/mod_{number}.py"


def version_one(count: int) -> dict[str, str]:
    return {path_of(n): module(n) for n in range(count)}


def version_two(count: int) -> dict[str, str]:
    """From version one: a third edited, a seventh deleted, an eleventh moved, a tenth more added."""
    files: dict[str, str] = {}
    for n in range(count):
        if n % 7 == 1:
            continue
        files[path_of(n, moved=n % 11 == 2)] = module(n, edit=1 if n % 3 == 0 else 0)
    files.update((path_of(n), module(n)) for n in range(count, count + count // 10))
    return files


def touched(count: int) -> list[str]:
    """Files version two rewrites with the same bytes: a new mtime, nothing to embed."""
    return [path_of(n) for n in range(count) if n % 13 == 5 and n % 7 != 1 and n % 11 != 2 and n % 3 != 0]


def write_files(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def change_to_version_two(root: Path, count: int) -> None:
    """Turn a version-one tree at `root` into version two on disk."""
    old, new = version_one(count), version_two(count)
    for relpath in old.keys() - new.keys():
        (root / relpath).unlink()
    write_files(root, {p: t for p, t in new.items() if old.get(p) != t})
    for relpath in touched(count):
        stat = (root / relpath).stat()
        os.utime(root / relpath, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def both_versions(count: int) -> Versions:
    versions: Versions = {}
    for files in (version_one(count), version_two(count)):
        for relpath, text in files.items():
            versions.setdefault(relpath, []).append(text)
    return versions


def mismatched_hits(hits: list[dict], versions: Versions) -> list[dict]:
    """The hits (ask --json results) whose text is not their lines in any version of their file."""
    return [hit for hit in hits if not any(_lines(text, hit) == hit["text"] for text in versions.get(hit["path"], []))]


def _lines(text: str, hit: dict) -> str:
    return "\n".join(text.split("\n")[hit["start_line"] - 1 : hit["end_line"]])


def assert_recovers(cli: Callable[..., Result], root: Path, prepared: Prepared) -> None:
    """What must hold after any fault: `ask` answers from versions that existed, `status` tells
    what the database holds, the invariants hold, and the next `index` completes to the reference.

    `cli(*args)` runs the real CLI in-process (tests/conftest.py's fixture, or the benchmark's own).
    """
    index_dir = root / ".codesearch"
    for query in QUERIES[:2]:
        result = cli("ask", query, "--json", "-k", "20", "--index", index_dir)
        assert result.exit_code in (0, 1), result.stderr
        assert all(line.startswith("codesearch: notice: ") for line in result.stderr.splitlines()), result.stderr
        hits = json.loads(result.stdout)["results"]
        assert result.exit_code == (0 if hits else 1)  # 1: nothing matched, as grep says it
        assert hits or db_counts(index_dir)[1] == 0
        assert mismatched_hits(hits, prepared.texts) == []
    status = cli("status", "--json", "--index", index_dir)
    assert status.exit_code == 0, status.stderr
    reported = json.loads(status.stdout)
    assert (reported["files"], reported["chunks"]) == db_counts(index_dir)
    assert reported["changed_since"] == len(files_out_of_step(index_dir, root))
    check_invariants(index_dir)
    assert cli("index", root, "--quiet").exit_code == 0
    check_invariants(index_dir, root=root)
    assert chunk_rows(index_dir) == prepared.v2_rows
