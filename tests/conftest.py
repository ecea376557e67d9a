"""Shared fixtures: a small real-looking repository and the real CLI through typer's runner."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner, Result

from codesearch.cli import app
from codesearch.store import Store

if TYPE_CHECKING:
    from pgserver import PostgresServer

REPO_FILES = {
    "src/jsonutil.py": '''
        """Helpers for reading and writing JSON configuration."""
        import json


        def parse_json(text):
            """Parse a JSON document and return the decoded object."""
            return json.loads(text)


        class ConfigLoader:
            """Loads settings from a JSON file on disk."""

            default_path = "settings.json"

            def load(self, path):
                with open(path) as handle:
                    return parse_json(handle.read())

            def save(self, path, settings):
                with open(path, "w") as handle:
                    json.dump(settings, handle)
        ''',
    "src/mathutil.py": '''
        def fibonacci(n):
            """Return the n-th Fibonacci number iteratively."""
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a


        def is_prime(number):
            if number < 2:
                return False
            return all(number % d for d in range(2, int(number ** 0.5) + 1))
        ''',
    "web/debounce.js": '''
        // Delay calls to fn until ms milliseconds pass without another call.
        export function debounce(fn, ms) {
          let timer = null;
          return (...args) => {
            clearTimeout(timer);
            timer = setTimeout(() => fn(...args), ms);
          };
        }
        ''',
    "net/fetch.go": '''
        package net

        import "net/http"

        // FetchURL downloads the body of an HTTP resource.
        func FetchURL(url string) (*http.Response, error) {
        	return http.Get(url)
        }
        ''',
    "README.md": '''
        # Demo

        A tiny repository for tests.

        ## Usage

        Run the tools.
        ''',
    ".gitignore": "build/\n",
    "build/generated.py": "def generated_helper():\n    return 1\n",
}


def function(name: str) -> str:
    """A one-function Python file whose only distinctive word is `name`."""
    return f"def {name}(value):\n    return value\n"


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, body in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(body).lstrip("\n"))
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """REPO_FILES in a git work tree, where its `.gitignore` counts."""
    root = write_repo(tmp_path / "repo", REPO_FILES)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture
def cli():
    """Run `codesearch ARGS...` in-process; returns typer's Result (stdout and stderr apart)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture
def indexed(repo: Path, cli) -> Path:
    result = cli("index", repo, "--quiet")
    assert result.exit_code == 0, result.output
    return repo


def indexed_paths(root: Path) -> set[str]:
    """The files the index at ROOT/.codesearch holds."""
    store = Store.open(root / ".codesearch")
    try:
        return set(store.file_states())
    finally:
        store.close()


def ask_json(cli, *args: str) -> dict:
    """`ask ARGS --json`, checking the exit status: 0 with results, 1 without (as grep)."""
    result = cli("ask", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    answer = json.loads(result.stdout)
    assert result.exit_code == (0 if answer["results"] else 1), result.output
    return answer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL + pgvector server for the session, started by the first test that needs it."""
    # imported here: psycopg's import would slow every run, and only these tests need it installed
    from pgserver import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with pgvector enabled, dropped after the test so the session's server stays small."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)
