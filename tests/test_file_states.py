"""File states read for part of the tree: what a watcher's one-file sync and `ask --context` read
instead of every file's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import indexed_paths, write_repo
from codesearch.indexer import sync
from codesearch.store import Store

# Names that sort next to `src/` without lying below it: '-' and '.' sort before '/', '2' and 'x' after.
FILES = ["a.py", "src/x.py", "src/sub/y.py", "src-old/w.py", "src.py", "src2/z.py", "srcx.py"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = write_repo(tmp_path / "tree", {name: f"def f_{i}():\n    return {i}\n" for i, name in enumerate(FILES)})
    sync(root)
    return root


def states_under(root: Path, under: list[str]) -> set[str]:
    store = Store.open(root / ".codesearch")
    try:
        return set(store.file_states(under))
    finally:
        store.close()


def test_a_directory_gives_the_files_below_it_only(tree: Path) -> None:
    assert states_under(tree, ["src"]) == {"src/x.py", "src/sub/y.py"}


def test_a_file_gives_itself(tree: Path) -> None:
    assert states_under(tree, ["src.py", "src/sub/y.py"]) == {"src.py", "src/sub/y.py"}


def test_a_path_sync_removes_what_vanished_below_its_paths_and_nothing_beside_them(tree: Path) -> None:
    for name in ("src/x.py", "src2/z.py", "srcx.py", "src-old/w.py"):
        (tree / name).unlink()
    sync(tree, paths=["src"])
    assert indexed_paths(tree) == set(FILES) - {"src/x.py"}
