"""A fresh process loads only what its command needs: agents start `codesearch ask` once per
question, so every module imported on the way is paid on every answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ASK_NEVER_LOADS = (
    "codesearch.indexer", "codesearch.chunker", "codesearch.prepare", "codesearch.parallel", "codesearch.watcher",
    "codesearch.mcp_server", "tree_sitter", "watchdog", "httpx", "mcp", "multiprocessing", "faiss", "rich.syntax",
    "pygments", "torch", "codesearch.server", "starlette", "uvicorn", "codesearch.stores.postgres", "psycopg",
)
"""Indexing, file watching, the API client, the MCP SDK, FAISS (only writers use it: searching is
numpy) and rich's syntax highlighting."""
SMALL_INDEX_NEVER_LOADS = ("codesearch.parallel", "multiprocessing", "concurrent.futures.process", "watchdog", "httpx", "mcp")
"""A sync too small for worker processes never loads their machinery."""


def modules_after(*args: str) -> tuple[int, list[str]]:
    """The exit status of `codesearch ARGS...` run through the CLI's own entry point in a fresh
    interpreter, and every module that process had imported by the end."""
    script = (
        "import json, sys; from codesearch.cli import main\n"
        f"sys.argv = ['codesearch', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    status = exc.code\n"
        "print(json.dumps([status, sorted(sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    status, modules = json.loads(done.stdout.splitlines()[-1])
    return status, modules


def loaded(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [name for name in modules if any(name == p or name.startswith(p + ".") for p in packages)]


def test_ask_json_imports_nothing_of_indexing_watching_serving_or_highlighting(indexed: Path) -> None:
    status, modules = modules_after("ask", "parse json", "--index", str(indexed), "--json")
    assert status == 0
    assert "codesearch.searcher" in modules  # it did search
    assert loaded(modules, ASK_NEVER_LOADS) == []


def test_indexing_a_small_repository_starts_no_worker_machinery(repo: Path, tmp_path: Path) -> None:
    status, modules = modules_after("index", str(repo), "--index", str(tmp_path / "index"), "--quiet")
    assert status == 0
    assert "codesearch.indexer" in modules
    assert loaded(modules, SMALL_INDEX_NEVER_LOADS) == []
