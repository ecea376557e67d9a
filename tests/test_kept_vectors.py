"""A FAISS index kept from one sync to the next (what a watcher does): patched while current,
never trusted once another writer or a lost file has moved the index on."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import function
from invariants import check_invariants
from codesearch.indexer import KeptVectors, sync
from codesearch.stores import local
from codesearch.vectors import VECTORS_NAME, VectorIndex


class CountedLoads(VectorIndex):
    loads = 0

    @classmethod
    def load(cls, *args: object, **kwargs: object) -> VectorIndex | None:
        CountedLoads.loads += 1
        return super().load(*args, **kwargs)


def interrupted(*_args: object) -> None:
    """A save that never happens: a Ctrl-C after the last commit."""
    raise KeyboardInterrupt


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> type[CountedLoads]:
    """The vector file reads of every sync from here on."""
    monkeypatch.setattr(local, "VectorIndex", CountedLoads)
    monkeypatch.setattr(CountedLoads, "loads", 0)
    return CountedLoads


def test_the_next_sync_patches_the_kept_index_without_reading_the_file(repo: Path, loads: type[CountedLoads]) -> None:
    kept = KeptVectors()
    sync(repo, kept=kept)
    (repo / "src/new.py").write_text(function("gamma_ray_burst"))
    before = loads.loads
    sync(repo, paths=["src/new.py"], kept=kept)
    assert loads.loads == before
    check_invariants(repo / ".codesearch", root=repo)


def test_a_kept_index_is_not_used_after_another_writer_saved(repo: Path) -> None:
    kept = KeptVectors()
    sync(repo, kept=kept)
    (repo / "src/other.py").write_text(function("gamma_ray_burst"))
    sync(repo)
    (repo / "src/third.py").write_text(function("neutron_star_merger"))
    sync(repo, paths=["src/third.py"], kept=kept)
    check_invariants(repo / ".codesearch", root=repo)


def test_a_kept_index_is_not_used_after_another_writer_committed_and_died_before_saving(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = KeptVectors()
    sync(repo, kept=kept)
    (repo / "src/other.py").write_text(function("gamma_ray_burst"))
    with monkeypatch.context() as dying:
        dying.setattr(VectorIndex, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            sync(repo)
    (repo / "src/third.py").write_text(function("neutron_star_merger"))
    sync(repo, paths=["src/third.py"], kept=kept)
    check_invariants(repo / ".codesearch", root=repo)


def test_a_kept_index_is_saved_again_when_its_file_was_lost(repo: Path) -> None:
    kept = KeptVectors()
    sync(repo, kept=kept)
    (repo / ".codesearch" / VECTORS_NAME).unlink()
    sync(repo, kept=kept)
    check_invariants(repo / ".codesearch", root=repo)

