"""Average static models trained with different seeds or batch sizes into one (a "model soup").

    python training/soup.py --out codesearch/embedders/static_model /work/data/models/s0 /work/data/models/s1 ...

Models trained from the same initial vectors on the same pairs stay close enough that the mean
of their parameters is a better model than any one of them: the seeds' different batch orders
average out (measured on the held-out doc-* sets, benchmarks/quality.py; the model card has
the figures). Each seed holds out its own validation pairs, so the vocabularies differ in a
few hundred rare tokens: the soup keeps the first model's vocabulary and, per token, averages
what each model would use for it, its own row or the hashed bucket the token falls into there.
Numpy only, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesearch.embedders.static import MODEL_NAME, StaticModel, bucket_of  # noqa: E402


def rows_for(model: StaticModel, vocab: list[str]) -> list[int]:
    """The rows `model` embeds each of `vocab`'s tokens with, then its buckets in order."""
    base = len(model.vocab)
    own = [model.vocab.get(token, base + bucket_of(token, model.buckets)) for token in vocab]
    return own + list(range(base, base + model.buckets))


def soup(directories: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(vocabulary, float32 vectors, float32 weight tables, config) of the averaged model."""
    models = [StaticModel(d) for d in directories]
    first = models[0]
    if any((m.dims, m.buckets) != (first.dims, first.buckets) for m in models):
        raise SystemExit("every model must have the same dims and buckets")
    vocab = sorted(first.vocab, key=first.vocab.__getitem__)
    picks = [rows_for(m, vocab) for m in models]
    vectors = np.mean([m.vectors[rows].astype(np.float32) for m, rows in zip(models, picks)], axis=0)
    weights = np.mean([m.weights[:, rows] for m, rows in zip(models, picks)], axis=0)
    config = json.loads((directories[0] / "config.json").read_text())
    return vocab, vectors, weights, config


def write_model(out: Path, vocab: list[str], vectors: np.ndarray, weights: np.ndarray, config: dict, log: dict) -> None:
    """The files codesearch/embedders/static.py loads, float16, plus the training log."""
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "vectors.npy", vectors.astype(np.float16))
    np.save(out / "weights.npy", weights.astype(np.float16))
    (out / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "train-log.json").write_text(json.dumps(log, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, nargs="+", help="model directories written by train.py; the first gives the vocabulary")
    ap.add_argument("--out", type=Path, default=ROOT / "codesearch" / "embedders" / "static_model")
    ap.add_argument("--name", default=MODEL_NAME, help="model name for config.json, part of every index's embedder signature")
    args = ap.parse_args()
    vocab, vectors, weights, config = soup(args.models)
    config["name"] = args.name
    logs = [json.loads((d / "train-log.json").read_text()) for d in args.models]
    write_model(args.out, vocab, vectors, weights, config, {"soup_of": [str(d) for d in args.models], "models": logs})
    print(f"averaged {len(args.models)} models into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
