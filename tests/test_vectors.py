"""The FAISS file: atomic save, and refusal of stale or damaged copies."""

from pathlib import Path

import numpy as np

from codesearch.vectors import VectorIndex


def sample_index() -> VectorIndex:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(8)
    index.add(np.arange(100, 120), vectors)
    return index


def test_round_trip_keeps_results(tmp_path: Path) -> None:
    index = sample_index()
    query = np.ones(8, dtype=np.float32)
    index.save(tmp_path / "v.faiss", generation=7)
    loaded = VectorIndex.load(tmp_path / "v.faiss", generation=7, dims=8)
    assert loaded is not None
    assert loaded.search(query, 5) == index.search(query, 5)


def test_other_generation_is_stale(tmp_path: Path) -> None:
    sample_index().save(tmp_path / "v.faiss", generation=7)
    assert VectorIndex.load(tmp_path / "v.faiss", generation=8, dims=8) is None


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    sample_index().save(path, generation=1)
    path.write_bytes(path.read_bytes()[:-5])
    assert VectorIndex.load(path, generation=1, dims=8) is None


def test_flipped_byte_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    sample_index().save(path, generation=1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert VectorIndex.load(path, generation=1, dims=8) is None


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    sample_index().save(tmp_path / "v.faiss", generation=1)
    assert [p.name for p in tmp_path.iterdir()] == ["v.faiss"]


def test_removed_ids_are_not_returned() -> None:
    index = sample_index()
    index.remove([100, 101])
    found = {cid for cid, _ in index.search(np.ones(8, dtype=np.float32), 20)}
    assert found.isdisjoint({100, 101}) and len(found) == 18


def test_allowed_ids_restrict_search() -> None:
    found = sample_index().search(np.ones(8, dtype=np.float32), 10, allowed=[105, 110])
    assert {cid for cid, _ in found} == {105, 110}
