"""The FAISS file: atomic save, and refusal of stale or damaged copies."""

from pathlib import Path

import faiss
import numpy as np

from codesearch import vectors as vectors_module
from codesearch.vectors import EXACT_MAX, VectorIndex


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
    loaded = VectorIndex.load(tmp_path / "v.faiss", generation=7, dims=8, largest_id=119)
    assert loaded is not None
    assert loaded.search(query, 5) == index.search(query, 5)


def test_other_generation_is_stale(tmp_path: Path) -> None:
    sample_index().save(tmp_path / "v.faiss", generation=7)
    assert VectorIndex.load(tmp_path / "v.faiss", generation=8, dims=8, largest_id=119) is None


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    sample_index().save(path, generation=1)
    path.write_bytes(path.read_bytes()[:-5])
    assert VectorIndex.load(path, generation=1, dims=8, largest_id=119) is None


def test_flipped_byte_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    sample_index().save(path, generation=1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert VectorIndex.load(path, generation=1, dims=8, largest_id=119) is None


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


def binary_index(vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex.for_size(vectors.shape[1], EXACT_MAX + 1, lambda: vectors)
    index.add(np.arange(100, 100 + len(vectors)), vectors)
    return index


def unit_rows(count: int, dims: int) -> np.ndarray:
    vectors = np.random.default_rng(1).normal(size=(count, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


SCORE_MARGIN = 1e-5
"""Scores closer than this are a tie: FAISS builds order tied inner products differently (the
query here is two stored rows summed, whose two scores differ only by float32 rounding)."""


def assert_same_ranking(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """The same scores rank by rank, and the same ids wherever a score stands apart from its
    neighbours by more than SCORE_MARGIN."""
    assert len(found) == len(expected)
    assert np.allclose([s for _, s in found], [s for _, s in expected], rtol=0, atol=SCORE_MARGIN)
    scores = [s for _, s in expected]
    for rank, (cid, score) in enumerate(expected):
        apart = all(abs(score - other) > SCORE_MARGIN for other in scores[:rank] + scores[rank + 1 :])
        assert not apart or found[rank][0] == cid, (rank, found, expected)


def exact_from(vectors: np.ndarray):
    def lookup(ids):
        yield np.asarray(ids), vectors[np.asarray(ids) - 100]

    return lookup


def test_kind_follows_corpus_size() -> None:
    vectors = unit_rows(4, 8)
    assert not VectorIndex.for_size(8, EXACT_MAX, lambda: vectors).binary
    assert binary_index(vectors).binary
    assert binary_index(vectors).suits(EXACT_MAX + 1) and not binary_index(vectors).suits(EXACT_MAX)


def test_binary_kind_reranks_to_the_exact_order() -> None:
    vectors = unit_rows(300, 32)
    exact = VectorIndex(32)
    exact.add(np.arange(100, 400), vectors)
    query = unit_rows(1, 32)[0] + vectors[7]
    found = binary_index(vectors).search(query, 10, exact=exact_from(vectors))
    assert_same_ranking(found, exact.search(query, 10))


def test_binary_kind_round_trip_keeps_codes_and_projection(tmp_path: Path) -> None:
    vectors = unit_rows(50, 16)
    index = binary_index(vectors)
    index.save(tmp_path / "v.faiss", generation=3)
    loaded = VectorIndex.load(tmp_path / "v.faiss", generation=3, dims=16, largest_id=149)
    assert loaded is not None and loaded.binary
    assert np.array_equal(loaded.projection, index.projection)
    assert loaded.search(vectors[5], 5) == index.search(vectors[5], 5)


def test_binary_codes_are_two_bits_per_dimension_centred_on_the_mean() -> None:
    vectors = unit_rows(50, 16)
    index = binary_index(vectors)
    assert index.index.d == 32
    gaussian, offset = index.projection[:-1], index.projection[-1]
    assert np.allclose(offset, -(vectors.mean(axis=0) @ gaussian), atol=1e-5)


def test_file_of_the_earlier_one_bit_kind_is_stale(tmp_path: Path) -> None:
    """Kind 1 held one bit per dimension and only the mean; it must be rebuilt, not misread."""
    head = vectors_module._MAGIC + vectors_module._HEADER.pack(3, 1, 16, 3)
    body = np.arange(3, dtype=np.int64).tobytes() + np.zeros((3, 2), dtype=np.uint8).tobytes() + np.zeros(16, dtype=np.float32).tobytes()
    (tmp_path / "v.faiss").write_bytes(head + body + vectors_module._digest(head, body))
    assert VectorIndex.load(tmp_path / "v.faiss", generation=3, dims=16, largest_id=149) is None


def test_binary_kind_honours_filters_and_removal() -> None:
    vectors = unit_rows(40, 16)
    index = binary_index(vectors)
    index.remove([105])
    found = index.search(vectors[5], 10, allowed=[105, 106, 107], exact=exact_from(vectors))
    assert {cid for cid, _ in found} == {106, 107}


def test_exact_index_turned_binary_holds_the_same_codes_as_one_built_binary() -> None:
    vectors = unit_rows(60, 16)
    exact = VectorIndex(16)
    exact.add(np.arange(100, 160), vectors)
    turned = exact.as_binary()
    built = binary_index(vectors)
    assert turned.binary and np.allclose(turned.projection, built.projection, atol=1e-5)
    assert np.array_equal(faiss.vector_to_array(turned.index.id_map), np.arange(100, 160))
    codes = [faiss.vector_to_array(faiss.downcast_IndexBinary(i.index.index).xb) for i in (turned, built)]
    assert np.array_equal(*codes)


def test_hamming_distances_match_counted_bits_for_any_code_width() -> None:
    rng = np.random.default_rng(2)
    for width in (1, 2, 6, 12, 64):
        codes = rng.integers(0, 256, size=(40_000, width), dtype=np.uint8)
        code = rng.integers(0, 256, size=width, dtype=np.uint8)
        expected = np.unpackbits(codes ^ code, axis=1).sum(axis=1)
        assert np.array_equal(vectors_module._hamming(codes, code), expected), width


def test_lowest_costs_come_first_and_ties_in_stored_order() -> None:
    costs = np.array([3, 1, 2, 1, 0, 2, 2], dtype=np.uint16)
    assert vectors_module._lowest(costs, 4).tolist() == [4, 1, 3, 2]
    assert vectors_module._lowest(costs, 10).tolist() == [4, 1, 3, 2, 5, 6, 0]
    assert vectors_module._lowest(costs, 0).tolist() == []


def test_a_loaded_index_searches_without_faiss_and_patches_like_a_built_one(tmp_path: Path) -> None:
    index = sample_index()
    index.save(tmp_path / "v.faiss", generation=1)
    loaded = VectorIndex.load(tmp_path / "v.faiss", generation=1, dims=8, largest_id=119)
    assert loaded is not None and loaded._index is None  # the mapped file, no FAISS index made
    query = np.ones(8, dtype=np.float32)
    assert loaded.search(query, 5) == index.search(query, 5)
    for patched in (index, loaded):
        patched.remove([100, 101])
        patched.add(np.array([500]), np.eye(1, 8, dtype=np.float32))
    assert loaded.search(query, 20) == index.search(query, 20) and len(loaded) == 19


def test_a_loaded_binary_index_asked_again_finds_the_same_through_faiss(tmp_path: Path) -> None:
    vectors = unit_rows(300, 32)
    binary_index(vectors).save(tmp_path / "v", generation=1)
    loaded = VectorIndex.load(tmp_path / "v", 1, 32, 399)
    query = unit_rows(1, 32)[0] + vectors[7]
    first = loaded.search(query, 10, exact=exact_from(vectors))
    assert loaded._index is None  # a first search leaves the mapped file as it is
    again = loaded.search(query, 10, exact=exact_from(vectors))
    assert loaded._index is not None
    assert_same_ranking(again, first)
    filtered = loaded.search(query, 10, allowed=[105, 110], exact=exact_from(vectors))
    assert {cid for cid, _ in filtered} == {105, 110}
