"""Train the built-in static token-embedding model on mined (summary, code) pairs.

    python training/train.py --write-vocab /work/data/vocab.txt           # 1. the vocabulary
    python training/distill_init.py --vocab-from /work/data/vocab.txt --out /work/data/init.npy
    python training/train.py --init /work/data/init.npy --init-vocab /work/data/vocab.txt   # 3. ~5 min

Model: token vectors E [V + B, d] (V vocabulary tokens, B hashed buckets for the rest) and two
per-token weight tables (queries, code), each softplus(raw). A text is the sum over its distinct
tokens of weight * (1 + log count) * E[token], L2-normalised (codesearch/embedders/static.py
computes exactly this with numpy). Initialisation: random vectors and IDF weights, i.e. a
weighted bag-of-words; training then moves them.
Loss: symmetric InfoNCE with in-batch negatives (summary -> code and code -> summary),
summed over the nested prefixes 64, 128 and d of the vectors (Matryoshka), learned temperature.
Batches are filled from one language with packages kept together (--group-batches), so the
in-batch negatives come from the same code base, as they do at search time; half of the code
texts keep the doc beyond its first sentence (--rest-prob), as indexed code does.
Writes vectors.npy (float16), weights.npy (float16), vocab.txt, config.json and train-log.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesearch.embedders.static import MODEL_NAME, bucket_of, tokenize  # noqa: E402
from training.soup import write_model  # noqa: E402


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()]


def build_vocab(token_lists: list[list[str]], size: int, min_df: int) -> tuple[list[str], Counter]:
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    # ties broken by the token itself: set iteration order varies with PYTHONHASHSEED
    vocab = [t for t, c in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:size] if c >= min_df]
    return vocab, df


def encode(tokens: list[str], index: dict[str, int], buckets: int, max_unique: int) -> tuple[np.ndarray, np.ndarray]:
    base = len(index)
    counts = Counter(index[t] if t in index else base + bucket_of(t, buckets) for t in tokens)
    items = counts.most_common(max_unique)
    return np.array([i for i, _ in items], dtype=np.int64), np.array([c for _, c in items], dtype=np.float32)


class Static(torch.nn.Module):
    def __init__(self, size: int, dims: int, idf: np.ndarray, init: np.ndarray | None = None) -> None:
        super().__init__()
        self.vectors = torch.nn.Embedding(size, dims)
        torch.nn.init.normal_(self.vectors.weight, std=1.0 / math.sqrt(dims))
        if init is not None:
            with torch.no_grad():
                self.vectors.weight[: len(init)] = torch.from_numpy(init)
        raw = np.log(np.expm1(np.clip(idf, 0.05, None)))  # softplus^-1(idf)
        self.raw = torch.nn.Parameter(torch.tensor(np.stack([raw, raw]), dtype=torch.float32))
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(20.0)))

    def forward(self, ids: torch.Tensor, counts: torch.Tensor, offsets: torch.Tensor, table: int, dropout: float = 0.0) -> torch.Tensor:
        w = F.softplus(self.raw[table][ids]) * (1.0 + torch.log(counts))
        if dropout > 0:
            w = w * (torch.rand_like(w) >= dropout)
        return F.embedding_bag(ids, self.vectors.weight, offsets, mode="sum", per_sample_weights=w)

    def tables(self) -> np.ndarray:
        return F.softplus(self.raw).detach().numpy()


def batch_tensors(encoded: list[tuple[np.ndarray, np.ndarray]], idx: list[int]):
    ids = [encoded[i][0] for i in idx]
    counts = [encoded[i][1] for i in idx]
    lengths = np.array([len(x) for x in ids])
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    return (torch.from_numpy(np.concatenate(ids)), torch.from_numpy(np.concatenate(counts)), torch.from_numpy(offsets))


def info_nce(q: torch.Tensor, c: torch.Tensor, scale: torch.Tensor, prefixes: list[int]) -> torch.Tensor:
    loss = q.new_zeros(())
    labels = torch.arange(q.shape[0])
    for d in prefixes:
        qn = F.normalize(q[:, :d], dim=1)
        cn = F.normalize(c[:, :d], dim=1)
        logits = scale * qn @ cn.T
        loss = loss + (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    return loss / len(prefixes)


@torch.no_grad()
def validate(model: Static, q_enc, c_enc, dims: int) -> dict:
    """MRR@10 of each validation summary against all validation code (a small retrieval task)."""
    idx = list(range(len(q_enc)))
    q = F.normalize(model(*batch_tensors(q_enc, idx), 0)[:, :dims], dim=1)
    c = F.normalize(model(*batch_tensors(c_enc, idx), 1)[:, :dims], dim=1)
    scores = q @ c.T
    target = scores.diag().unsqueeze(1)
    ranks = (scores > target).sum(1) + 1
    rr = torch.where(ranks <= 10, 1.0 / ranks, torch.zeros_like(ranks, dtype=torch.float32))
    return {"mrr@10": float(rr.mean()), "r@1": float((ranks == 1).float().mean()), "n": len(idx)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=Path, default=Path("/work/data/pairs.jsonl"))
    ap.add_argument("--out", type=Path, default=ROOT / "codesearch" / "embedders" / "static_model")
    ap.add_argument("--dims", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=50000)
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--buckets", type=int, default=4096)
    ap.add_argument("--max-unique", type=int, default=384, help="distinct tokens kept per code text (most frequent)")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=60)
    ap.add_argument("--init", type=Path, help="initial vocabulary vectors (training/distill_init.py); the vocabulary must match")
    ap.add_argument("--write-vocab", type=Path, help="only build the vocabulary, write it here and stop (step 1 of 3)")
    ap.add_argument("--init-vocab", type=Path, help="the vocab.txt --init was distilled for")
    ap.add_argument("--name", default=MODEL_NAME)
    ap.add_argument("--group-batches", action=argparse.BooleanOptionalAction, default=True, help="fill each batch from one language, packages kept together (harder in-batch negatives)")
    ap.add_argument("--token-dropout", type=float, default=0.0, help="share of code tokens dropped at random in each training step")
    ap.add_argument("--rest-prob", type=float, default=0.5, help="share of code texts that keep the doc beyond its first sentence")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    started = time.time()

    pairs = load_pairs(args.pairs)
    rng.shuffle(pairs)
    q_tokens = [tokenize(p["summary"]) for p in pairs]
    c_tokens = [tokenize(p["code"] + ("\n" + p["rest"] if p.get("rest") and rng.random() < args.rest_prob else "")) for p in pairs]
    vocab, df = build_vocab(q_tokens + c_tokens, args.vocab, args.min_df)
    if args.write_vocab:
        args.write_vocab.write_text("\n".join(vocab), encoding="utf-8")
        print(f"wrote {len(vocab)} tokens to {args.write_vocab}; distill initial vectors for them with distill_init.py")
        return 0
    index = {t: i for i, t in enumerate(vocab)}
    size = len(vocab) + args.buckets
    n_docs = 2 * len(pairs)
    idf = np.ones(size, dtype=np.float64) * math.log(n_docs / args.min_df)
    for t, i in index.items():
        idf[i] = math.log(1 + n_docs / df[t])
    idf /= idf.mean()
    q_enc = [encode(t, index, args.buckets, 64) for t in q_tokens]
    c_enc = [encode(t, index, args.buckets, args.max_unique) for t in c_tokens]
    print(f"{len(pairs)} pairs, vocab {len(vocab)} + {args.buckets} buckets, tokenised in {time.time() - started:.0f}s", flush=True)

    val = list(range(args.val))
    train = [i for i in range(args.val, len(pairs)) if len(q_enc[i][0]) and len(c_enc[i][0])]
    init = None
    if args.init:
        # rows of --init belong to the tokens of the vocab.txt it was made from (distill_init.py)
        table = np.load(args.init)
        tokens = [t for t in args.init_vocab.read_text().split("\n") if t]
        if table.shape != (len(tokens), args.dims):
            raise SystemExit(f"--init has shape {table.shape}, expected {(len(tokens), args.dims)}")
        where = {t: i for i, t in enumerate(tokens)}
        init = np.random.default_rng(args.seed).normal(0, 1 / math.sqrt(args.dims), (len(vocab), args.dims)).astype(np.float32)
        hits = [(i, where[t]) for i, t in enumerate(vocab) if t in where]
        init[[i for i, _ in hits]] = table[[j for _, j in hits]]
        print(f"init vectors for {len(hits)} of {len(vocab)} tokens", flush=True)
    model = Static(size, args.dims, idf, init)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(train) // args.batch
    total_steps = int(args.epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total_steps, pct_start=0.05)
    prefixes = sorted({64, 128, args.dims})
    vq = [q_enc[i] for i in val]
    vc = [c_enc[i] for i in val]
    log = {"args": {k: str(v) for k, v in vars(args).items()}, "pairs": len(pairs), "vocab": len(vocab), "epochs": []}
    log["epochs"].append({"epoch": 0, **validate(model, vq, vc, args.dims)})
    print("init", log["epochs"][-1], flush=True)
    step = 0
    deadline = started + 60 * args.max_minutes
    while step < total_steps and time.time() < deadline:
        rng.shuffle(train)
        if args.group_batches:
            keys = {i: rng.random() for i in set(pairs[j]["pkg"] for j in train)}
            order = sorted(train, key=lambda j: (pairs[j]["lang"], keys[pairs[j]["pkg"]]))
            batches = [order[b * args.batch : (b + 1) * args.batch] for b in range(steps_per_epoch)]
            rng.shuffle(batches)
        else:
            batches = [train[b * args.batch : (b + 1) * args.batch] for b in range(steps_per_epoch)]
        losses = []
        for idx in batches:
            if step >= total_steps or time.time() >= deadline:
                break
            q = model(*batch_tensors(q_enc, idx), 0)
            c = model(*batch_tensors(c_enc, idx), 1, args.token_dropout)
            loss = info_nce(q, c, model.logit_scale.exp().clamp(max=100), prefixes)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        entry = {"epoch": round(step / steps_per_epoch, 2), "loss": float(np.mean(losses)) if losses else None,
                 **validate(model, vq, vc, args.dims), "minutes": round((time.time() - started) / 60, 1)}
        log["epochs"].append(entry)
        print(entry, flush=True)

    log["minutes"] = round((time.time() - started) / 60, 1)
    config = {"name": args.name, "dims": args.dims, "buckets": args.buckets, "vocab": len(vocab)}
    write_model(args.out, vocab, model.vectors.weight.detach().numpy(), model.tables(), config, log)
    print(f"done in {log['minutes']} min; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
