"""Tune hybrid fusion on the docstring -> function sets only (never CoSQA or Java -> C#).

    .venv/bin/python benchmarks/tune_fusion.py [--embedder static] [--datasets doc-python,doc-js,doc-go]

Runs the dense and lexical retrieval of the real engine once per query (top 100 of each), then
scores fusion variants offline: reciprocal rank fusion with several k, dense/lexical weights
and list depths, and a convex combination of min-max normalised scores. Prints MRR@10 per set
and the mean, best first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import codesearch  # noqa: E402
from codesearch.text import query_words  # noqa: E402
from codesearch.tasks import query_task  # noqa: E402

from benchmarks import datasets  # noqa: E402
from benchmarks.quality import build_index, spec_for, _relevant  # noqa: E402


def rrf(dense, lexical, k, wd, depth):
    scores = {}
    for w, ranking in ((wd, dense[:depth]), (1.0, lexical[:depth])):
        for rank, (cid, _s) in enumerate(ranking, 1):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
    return sorted(scores, key=lambda c: -scores[c])


def convex(dense, lexical, alpha, depth):
    def norm(rs):
        rs = rs[:depth]
        if not rs:
            return {}
        hi, lo = rs[0][1], rs[-1][1]
        return {c: (s - lo) / (hi - lo) if hi > lo else 1.0 for c, s in rs}

    d, l = norm(dense), norm(lexical)
    scores = {c: alpha * d.get(c, 0.0) + (1 - alpha) * l.get(c, 0.0) for c in set(d) | set(l)}
    return sorted(scores, key=lambda c: -scores[c])


VARIANTS = {f"rrf k={k} wd={wd} depth={depth}": (lambda d, l, k=k, wd=wd, depth=depth: rrf(d, l, k, wd, depth))
            for k in (5, 10, 20, 30, 60) for wd in (0.5, 0.75, 1.0, 1.5, 2.0) for depth in (20, 50, 100)}
VARIANTS.update({f"convex alpha={a} depth={depth}": (lambda d, l, a=a, depth=depth: convex(d, l, a, depth))
                 for a in (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9) for depth in (50, 100)})
VARIANTS["dense only"] = lambda d, l: [c for c, _ in d]
VARIANTS["lexical only"] = lambda d, l: [c for c, _ in l]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="static")
    ap.add_argument("--datasets", default="doc-python,doc-js,doc-go")
    ap.add_argument("--work", type=Path, default=Path("/work/data/eval"))
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    names = args.datasets.split(",")
    assert not {"cosqa", "java-cs"} & set(names), "fusion is tuned on our own docstring sets only"
    results: dict[str, dict[str, float]] = {v: {} for v in VARIANTS}
    for name in names:
        ds = datasets.load(name, args.work)
        index_dir, _ = build_index(ds, args.embedder, spec_for(args.embedder), args.work, False)
        with codesearch.Searcher(index_dir) as s:
            cache = []
            for q in ds.queries:
                task = query_task(q.text, ds.task)
                dense = s._dense(q.text, task, 100, None)
                lexical = s.store.lexical_search(query_words(q.text), 100, None)
                ids = {c for c, _ in dense} | {c for c, _ in lexical}
                chunks = s.store.chunks_by_ids(list(ids))
                rel = {c for c in ids if c in chunks and _relevant(chunks[c], q.relevant)}
                cache.append((dense, lexical, rel))
        for v, fn in VARIANTS.items():
            mrr = 0.0
            for dense, lexical, rel in cache:
                ranked = fn(dense, lexical)[:10]
                mrr += next((1 / r for r, c in enumerate(ranked, 1) if c in rel), 0.0)
            results[v][name] = mrr / len(cache)
    rows = sorted(results.items(), key=lambda kv: -sum(kv[1].values()))
    print("| variant | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for v, r in rows[: args.top] + [kv for kv in rows if kv[0] in ("rrf k=60 wd=1.0 depth=50", "dense only", "lexical only")]:
        print(f"| {v} | " + " | ".join(f"{r[n]:.3f}" for n in names) + f" | {sum(r.values()) / len(names):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
