"""Fresh-process start-up: what an agent pays each time it starts `codesearch`.

    .venv/bin/python benchmarks/startup.py                                   # all but the kernel (about 3 min)
    .venv/bin/python benchmarks/startup.py --runs 7 --pairs 1                # a quick look
    .venv/bin/python benchmarks/startup.py --kernel /tmp/linux-source-6.1 --work /tmp/startup  # indexing it takes minutes once

(`apt-get install linux-source-6.1`, then `tar xJf /usr/src/linux-source-6.1.tar.xz -C /tmp`, gives that kernel tree.)

Coding agents run `codesearch ask` as a fresh process for every question, so whatever a process
loads before it answers is paid on every answer. Every figure here is a whole process started
from this interpreter (`python -m codesearch ...`), timed from spawn to exit (wall, and the CPU
time the process spent), after one untimed warm-up run of the same command:
- `ask --json` p50 and p95 on an index of CPython's standard library (`--lib`, default
  /usr/lib/python3.11, copied into the work directory and indexed once, untimed) and, given
  `--kernel TREE`, on the Linux kernel (Debian's linux-source-6.1 package unpacks one); the
  questions cycle through index_speed.QUERIES;
- `--help` and `--version`;
- `codesearch mcp` on the CPython index: spawn to the answer of a JSON-RPC `initialize`;
- end to end against semble 0.7.0 (`--semble-python`: a Python with `semble==0.7.0`, default
  /tmp/semble-venv/bin/python) on one repository of the peer benchmark (`--peer-repo`, default
  pydantic, with its 20 questions): `--pairs` paired runs, each engine from an empty index and
  in alternating order, time the `index` process, then the 20 questions as 20 fresh processes
  (how agents ask), and as one process answering all 20 (`ask --batch`; semble: one process
  searching 20 times). semble runs its BM25 + ranking mode, `search(..., alpha=0.0)`, over a
  tiny model2vec model made here (nothing is downloaded). Memory is the largest peak RSS among
  one protocol's processes; a ratio is the median over the pairs of codesearch / semble.

Wall time includes waiting for the disk: where the page cache cannot hold an index (the 2-core
development VM keeps little of the kernel's 2.5 GB database), the first question with new words
reads its pages, 1.5-32 MB, and the CPU column is what start-up and search cost.

The timed processes keep compiled bytecode under a private PYTHONPYCACHEPREFIX, as an installed
package has its .pyc files: a checkout run with PYTHONDONTWRITEBYTECODE would recompile every
changed module in every process. The load average is printed before and after; on a busy
machine the figures are upper bounds. Parts that cannot run (no CPython tree, no `--kernel`, no
semble) are skipped with the reason, and the script still exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from index_speed import QUERIES

PEER_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "semble-bench"
DEFAULT_LIB = Path("/usr/lib/python3.11")
DEFAULT_SEMBLE = Path("/tmp/semble-venv/bin/python")
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "startup-benchmark", "version": "0"}},
}
TINY_MODEL = """
import string, sys
import numpy as np
from model2vec import StaticModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
words = ["[UNK]"] + [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase]
tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
tokenizer.normalizer = normalizers.Lowercase()
tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
vectors = np.random.default_rng(0).standard_normal((len(words), 16)).astype(np.float32)
StaticModel(vectors, tokenizer, normalize=True).save_pretrained(sys.argv[1])
"""
"""A model2vec model of 677 two-letter tokens and 16 dimensions: semble needs one to build an
index, and with alpha=0.0 its dense scores do not count."""
SEMBLE = """
import json, sys
from semble import SembleIndex
from semble.cache import save_index_to_cache
root, model, questions = sys.argv[1], sys.argv[2], sys.argv[3:]
index = SembleIndex.from_path(root, model_path=model)
if not questions:
    save_index_to_cache(index, root)
for question in questions:
    print(json.dumps([[r.chunk.file_path, r.chunk.start_line] for r in index.search(question, top_k=10, alpha=0.0)]))
"""
"""One semble process: without questions it indexes and saves to its cache (SEMBLE_CACHE_LOCATION),
with them it loads that cache, as its own CLI does, and answers each."""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    rss_mib: float
    stdout: str


def run(command: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...] = (0,)) -> Run:
    """One whole process: wall and CPU (user + system) seconds, its own peak resident memory
    (Linux reports KiB), its output; a failure ends the benchmark."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=cwd)
        assert process.stdout is not None
        with process.stdout:
            stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, for the rusage of this process alone
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()[-2000:]
            sys.exit(f"{' '.join(command[:6])} ... failed ({process.returncode}): {message}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.decode(errors="replace"))


def codesearch(*args: object) -> list[str]:
    return [sys.executable, "-m", "codesearch", *map(str, args)]


def repeated(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> list[Run]:
    """`runs` processes, after one untimed warm-up."""
    run(command, env, cwd)
    return [run(command, env, cwd) for _ in range(runs)]


def fresh_asks(index_dir: Path, env: dict[str, str], cwd: Path, runs: int) -> list[Run]:
    """`runs` fresh `ask --json` processes, the questions in turn (no match is fine)."""
    run(codesearch("ask", QUERIES[0], "--index", index_dir, "--json"), env, cwd, ok=(0, 1))
    return [run(codesearch("ask", QUERIES[i % len(QUERIES)], "--index", index_dir, "--json"), env, cwd, ok=(0, 1)) for i in range(runs)]


def initialize_seconds(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Spawn to the first line of the answer to `initialize` on stdio."""
    started = time.perf_counter()
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    server.stdin.flush()
    answer = server.stdout.readline()
    seconds = time.perf_counter() - started
    server.stdin.close()
    server.wait(30)
    server.stdout.close()
    if b'"result"' not in answer:
        sys.exit(f"codesearch mcp did not answer initialize: {answer[:300]!r}")
    return seconds


def indexed(tree: Path, index_dir: Path, env: dict[str, str], cwd: Path) -> str:
    """Index `tree` into `index_dir` (a kept index is only synced); its size, for the table."""
    started = time.perf_counter()
    run(codesearch("index", tree, "--index", index_dir, "--embedder", "static", "--quiet"), env, cwd)
    status = json.loads(run(codesearch("status", "--index", index_dir, "--json"), env, cwd).stdout)
    return f"{status['files']:,} files, {status['chunks']:,} chunks; indexed in {time.perf_counter() - started:.0f} s"


def lib_tree(source: Path, work: Path) -> Path | None:
    """A copy of the CPython tree in the work directory (the index must not be written into the system's)."""
    copy = work / "cpython-lib"
    if not copy.is_dir() and source.is_dir():
        shutil.copytree(source, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return copy if copy.is_dir() else None


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def row(label: str, wall: list[float], cpu: list[float] | None = None) -> str:
    """A table row: wall p50 and p95 (nearest rank), CPU p50, and the number of runs."""
    ordered = sorted(wall)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]
    spent = ms(statistics.median(cpu)) if cpu else "-"
    return f"| {label} | {ms(statistics.median(ordered))} | {ms(p95)} | {spent} | {len(ordered)} |"


def runs_row(label: str, runs: list[Run]) -> str:
    return row(label, [r.seconds for r in runs], [r.cpu_seconds for r in runs])


@dataclass(frozen=True)
class Protocol:
    """One engine's processes in one pair: seconds and the largest peak RSS of each protocol."""

    index: float
    fresh: float
    batch: float
    index_rss: float
    fresh_rss: float
    batch_rss: float

    @classmethod
    def of(cls, built: Run, asks: list[Run], answered: Run) -> "Protocol":
        """From the `index` process, the fresh question processes and the one answering all."""
        return cls(
            built.seconds, built.seconds + sum(a.seconds for a in asks), built.seconds + answered.seconds,
            built.rss_mib, max([built.rss_mib, *(a.rss_mib for a in asks)]), max(built.rss_mib, answered.rss_mib),
        )


def codesearch_pair(repo: Path, questions: list[str], work: Path, env: dict[str, str]) -> Protocol:
    index_dir, batch = work / "codesearch-index", work / "questions.txt"
    batch.write_text("\n".join(questions) + "\n")
    built = run(codesearch("index", repo, "--index", index_dir, "--embedder", "static", "--quiet"), env, work)
    asks = [run(codesearch("ask", q, "--index", index_dir, "--json", "-k", 10), env, work, ok=(0, 1)) for q in questions]
    answered = run(codesearch("ask", "--batch", batch, "--index", index_dir, "-k", 10), env, work, ok=(0, 1))
    assert len(answered.stdout.splitlines()) == len(questions)
    return Protocol.of(built, asks, answered)


def semble_pair(python: Path, model: Path, repo: Path, questions: list[str], work: Path, env: dict[str, str]) -> Protocol:
    env = {**env, "SEMBLE_CACHE_LOCATION": str(work / "semble-cache")}
    command = [str(python), "-c", SEMBLE, str(repo), str(model)]
    built = run(command, env, work)
    asks = [run([*command, q], env, work) for q in questions]
    answered = run([*command, *questions], env, work)
    assert len(answered.stdout.splitlines()) == len(questions)
    return Protocol.of(built, asks, answered)


def peer_table(args: argparse.Namespace, work: Path, env: dict[str, str]) -> list[str]:
    """Markdown rows of the paired end-to-end comparison with semble, or why it was skipped."""
    python, repo = args.semble_python, args.peer_repo
    if not python.exists():
        return [f"semble: skipped, no {python} (make one: python -m venv /tmp/semble-venv && /tmp/semble-venv/bin/pip install semble==0.7.0)"]
    if not repo.is_dir():
        return [f"semble: skipped, no peer repository at {repo}"]
    annotations = PEER_DATA / "annotations" / f"{repo.parent.name}.json"
    questions = [item["query"] for item in json.loads(annotations.read_text())] if annotations.exists() else QUERIES
    model = work / "tiny-model2vec"
    if not model.exists():
        run([str(python), "-c", TINY_MODEL, str(model)], env, work)
    pairs: list[tuple[Protocol, Protocol]] = []
    for pair in range(args.pairs):
        mine, theirs = work / f"pair{pair}-codesearch", work / f"pair{pair}-semble"
        for folder in (mine, theirs):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        if pair % 2 == 0:
            ours = codesearch_pair(repo, questions, mine, env)
            pairs.append((ours, semble_pair(python, model, repo, questions, theirs, env)))
        else:
            peer = semble_pair(python, model, repo, questions, theirs, env)
            pairs.append((codesearch_pair(repo, questions, mine, env), peer))
    size = sum(f.stat().st_size for f in repo.rglob("*") if f.is_file()) / 1e6
    rows = [
        f"\nEnd to end on {repo.parent.name} ({size:.1f} MB, {len(questions)} questions), {args.pairs} paired runs, p50:\n",
        "| protocol | codesearch | semble 0.7.0 | codesearch / semble |",
        "|---|---|---|---|",
    ]
    for label, field in (
        ("`index`", "index"),
        (f"`index`, then {len(questions)} fresh question processes", "fresh"),
        (f"`index`, then one process answering {len(questions)}", "batch"),
    ):
        ours = statistics.median(getattr(p[0], field) for p in pairs)
        peer = statistics.median(getattr(p[1], field) for p in pairs)
        ratio = statistics.median(getattr(a, field) / getattr(b, field) for a, b in pairs)
        rss_ours = statistics.median(getattr(p[0], f"{field}_rss") for p in pairs)
        rss_peer = statistics.median(getattr(p[1], f"{field}_rss") for p in pairs)
        rss_ratio = statistics.median(getattr(a, f"{field}_rss") / getattr(b, f"{field}_rss") for a, b in pairs)
        rows.append(f"| {label}: wall | {ours:.2f} s | {peer:.2f} s | {ratio:.2f} |")
        rows.append(f"| {label}: peak RSS | {rss_ours:.0f} MiB | {rss_peer:.0f} MiB | {rss_ratio:.2f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed processes per fresh-process figure (default 21)")
    parser.add_argument("--pairs", type=int, default=5, help="paired end-to-end runs against semble (default 5; 0 skips)")
    parser.add_argument("--lib", type=Path, default=DEFAULT_LIB, help=f"a CPython Lib tree (default {DEFAULT_LIB})")
    parser.add_argument("--kernel", type=Path, help="a Linux kernel tree: also time `ask` on its index (indexing takes minutes)")
    parser.add_argument("--work", type=Path, help="keep copies and indexes here, for the next run (default: a temporary directory)")
    parser.add_argument("--semble-python", type=Path, default=DEFAULT_SEMBLE, help=f"a Python with semble 0.7.0 (default {DEFAULT_SEMBLE})")
    parser.add_argument("--peer-repo", type=Path, default=PEER_DATA / "repos" / "pydantic" / "pydantic", help="the peer benchmark corpus to index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codesearch-startup-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "JINA_API_KEY")}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        print(
            f"codesearch start-up, {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        )
        rows = ["| fresh process | wall p50 | wall p95 | CPU p50 | runs |", "|---|---|---|---|---|"]
        skipped = []
        lib = lib_tree(args.lib, work)
        if lib is None:
            skipped.append(f"CPython Lib: skipped, no tree at {args.lib} (--lib)")
        else:
            size = indexed(lib, work / "lib-index", env, work)
            rows.append(runs_row(f"`ask --json`, CPython Lib ({size})", fresh_asks(work / "lib-index", env, work, args.runs)))
        if args.kernel is None:
            skipped.append("Linux kernel: skipped (--kernel TREE)")
        else:
            size = indexed(args.kernel.resolve(), work / "kernel-index", env, work)
            rows.append(runs_row(f"`ask --json`, Linux kernel ({size})", fresh_asks(work / "kernel-index", env, work, args.runs)))
        for flag in ("--help", "--version"):
            rows.append(runs_row(f"`codesearch {flag}`", repeated(codesearch(flag), env, work, args.runs)))
        if lib is not None:
            serve = codesearch("mcp", lib, "--index", work / "lib-index")
            initialize_seconds(serve, env, work)
            rows.append(row("`codesearch mcp`: spawn to `initialize` answered", [initialize_seconds(serve, env, work) for _ in range(args.runs)]))
        print("\n".join(rows))
        if args.pairs > 0:
            print("\n".join(peer_table(args, work, env)))
        else:
            skipped.append("semble: skipped (--pairs 0)")
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for reason in skipped:
            print(reason)


if __name__ == "__main__":
    main()
