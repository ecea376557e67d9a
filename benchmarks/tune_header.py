"""Compare chunk-text headers (what the embedder sees before the code) on the docstring sets only.

    .venv/bin/python benchmarks/tune_header.py --embedder static [--datasets doc-python,doc-js,doc-go]

Patches `embed_text` in `codesearch.prepare` (chunk keys) and `codesearch.indexer` (embedded
texts), in this process only (the sets are small enough that no worker process starts), re-indexes each set per variant and
prints MRR@10 (dense and hybrid).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import codesearch  # noqa: E402
import codesearch.indexer as indexer  # noqa: E402
import codesearch.prepare as prepare  # noqa: E402

from benchmarks import datasets  # noqa: E402
from benchmarks.quality import build_index, evaluate, spec_for  # noqa: E402


def _path_words(path: str) -> str:
    return " ".join(Path(path).with_suffix("").parts[-2:])


VARIANTS = {
    "lang kind symbol (current)": lambda c: f"{' '.join(p for p in (c.language, c.kind, c.symbol) if p)}\n{c.text}",
    "no header": lambda c: c.text,
    "symbol only": lambda c: f"{c.symbol}\n{c.text}",
    "path + lang kind symbol": lambda c: f"{_path_words(c.path)} {' '.join(p for p in (c.language, c.kind, c.symbol) if p)}\n{c.text}",
    "path + symbol": lambda c: f"{_path_words(c.path)} {c.symbol}\n{c.text}",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="static")
    ap.add_argument("--datasets", default="doc-python,doc-js,doc-go")
    ap.add_argument("--work", type=Path, default=Path("/work/data/eval"))
    args = ap.parse_args()
    names = args.datasets.split(",")
    assert not {"cosqa", "java-cs"} & set(names), "headers are tuned on our own docstring sets only"
    print("| header | mode | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 3) + "|")
    for variant, fn in VARIANTS.items():
        indexer.embed_text = prepare.embed_text = fn
        scores = {"dense": [], "hybrid": []}
        for name in names:
            ds = datasets.load(name, args.work)
            index_dir, _ = build_index(ds, "header-" + args.embedder, spec_for(args.embedder), args.work, True)
            with codesearch.Searcher(index_dir) as s:
                for mode in scores:
                    scores[mode].append(evaluate(s, ds, mode, ds.queries)["mrr@10"])
        for mode, vals in scores.items():
            print(f"| {variant} | {mode} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {sum(vals) / len(vals):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
