"""training/soup.py: averaging seeds' static models token by token onto one vocabulary."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from codesearch.embedders.static import StaticModel, bucket_of

_SPEC = importlib.util.spec_from_file_location("soup", Path(__file__).resolve().parents[1] / "training" / "soup.py")
soup = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(soup)

BUCKETS, DIMS = 4, 8


def make_model(directory: Path, vocab: list[str], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    size = len(vocab) + BUCKETS
    config = {"name": "tiny", "dims": DIMS, "buckets": BUCKETS, "vocab": len(vocab)}
    soup.write_model(directory, vocab, rng.normal(size=(size, DIMS)), rng.uniform(0.5, 2, (2, size)), config, {"seed": seed})
    return directory


@pytest.fixture
def models(tmp_path) -> tuple[StaticModel, StaticModel, StaticModel]:
    """A soup of two models whose vocabularies share `parse` but not `json` / `yaml`."""
    first = make_model(tmp_path / "a", ["parse", "json"], 1)
    second = make_model(tmp_path / "b", ["yaml", "parse"], 2)
    soup.write_model(tmp_path / "soup", *soup.soup([first, second]), {})
    return StaticModel(first), StaticModel(second), StaticModel(tmp_path / "soup")


def test_shared_token_is_the_mean_of_both_rows(models) -> None:
    first, second, mixed = models
    expected = (first.vectors[first.vocab["parse"]] + second.vectors[second.vocab["parse"]]) / 2
    assert np.allclose(mixed.vectors[mixed.vocab["parse"]], expected, atol=1e-2)


def test_token_missing_from_a_model_uses_that_models_bucket(models) -> None:
    first, second, mixed = models
    bucket_row = len(second.vocab) + bucket_of("json", BUCKETS)
    expected = (first.weights[:, first.vocab["json"]] + second.weights[:, bucket_row]) / 2
    assert np.allclose(mixed.weights[:, mixed.vocab["json"]], expected, atol=1e-2)


def test_soup_keeps_the_first_vocabulary_and_averages_buckets(models) -> None:
    first, second, mixed = models
    assert list(mixed.vocab) == ["parse", "json"]
    expected = (first.vectors[len(first.vocab) :] + second.vectors[len(second.vocab) :]) / 2
    assert np.allclose(mixed.vectors[len(mixed.vocab) :], expected, atol=1e-2)


def test_models_of_different_shapes_are_refused(tmp_path) -> None:
    first = make_model(tmp_path / "a", ["parse"], 1)
    other = tmp_path / "b"
    config = {"name": "tiny", "dims": DIMS * 2, "buckets": BUCKETS, "vocab": 1}
    soup.write_model(other, ["parse"], np.ones((1 + BUCKETS, DIMS * 2)), np.ones((2, 1 + BUCKETS)), config, {})
    with pytest.raises(SystemExit, match="same dims"):
        soup.soup([first, other])
