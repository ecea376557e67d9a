"""How a large sync groups prepared batches into write transactions."""

from pathlib import Path

from codesearch.files import SourceFile
from codesearch.indexer import _grouped
from codesearch.prepare import Prepared


def batch(*sizes: int) -> list[Prepared]:
    return [Prepared(SourceFile(f"f{size}", Path("/dev/null"), "python", size, 0)) for size in sizes]


def test_batches_join_until_they_hold_the_commit_size() -> None:
    groups = list(_grouped([batch(3), batch(4), batch(2), batch(9), batch(1)], 6))
    assert [[item.file.size for item in group] for group in groups] == [[3, 4], [2, 9], [1]]


def test_size_zero_commits_every_batch_alone() -> None:
    groups = list(_grouped([batch(3, 1), batch(4)], 0))
    assert [len(group) for group in groups] == [2, 1]
