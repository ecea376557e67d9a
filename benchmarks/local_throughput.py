"""Throughput of the local backend: chunks/s and tokens/s for one model on one device.

    python benchmarks/local_throughput.py --model sentence-transformers/all-MiniLM-L6-v2 --device cpu
    python benchmarks/local_throughput.py --shape qwen2-0.5b --device cpu --n 64

The chunks are real code: functions and methods spread over the Python standard library, embedded as
passages (as the indexer does) and cut at the model's limit. `--shape qwen2-0.5b` times a randomly
initialised network with Qwen2.5-0.5B's configuration (the backbone of jina-code-embeddings-0.5b),
so no download is needed: same compute as the real model, meaningless vectors. Its tokenizer is a
byte-level BPE trained here on the standard library, so tokens/s is the figure to compare across machines;
chunks/s depends on how many tokens a chunk takes.
"""

from __future__ import annotations

import argparse
import ast
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

from codesearch.embedders.local import LocalEmbedder
from codesearch.tasks import PASSAGE_TASK

SHAPES = {
    "qwen2-0.5b": dict(
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    ),
}
EOS = "<|endoftext|>"
MAX_LINES = 60
VOCAB_SIZE = 32000
"""Trained on every standard-library function: about 4 characters per token (Qwen2's own is not downloadable)."""


def _functions(tree: ast.Module) -> Iterator[ast.AST]:
    """Top-level functions and methods: the definitions the indexer makes chunks of."""
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        yield from (m for m in members if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))


def stdlib_definitions() -> Iterator[str]:
    """Functions of the standard library in a fixed order, cut to MAX_LINES as the chunker splits long ones."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in _functions(tree):
            text = ast.get_source_segment(source, node) or ""
            yield "\n".join(text.splitlines()[:MAX_LINES])


def bpe_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A Qwen-like byte-level BPE, so any text tokenizes with a realistic number of tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS)


def save_shape(shape: str, directory: Path, texts: list[str]) -> Path:
    """A randomly initialised network of the named shape, with a tokenizer trained on `texts`."""
    tokenizer = bpe_tokenizer(texts, vocab_size=VOCAB_SIZE)
    config = Qwen2Config(**SHAPES[shape], pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    Qwen2Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def measure(embedder: LocalEmbedder, texts: list[str]) -> tuple[int, float]:
    """Tokens embedded and seconds taken, after one warm-up batch."""
    embedder.embed(texts[: embedder.batch_size], PASSAGE_TASK)
    tokens = sum(len(ids) for ids in embedder.tokenize(texts, PASSAGE_TASK))
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    embedder.embed(texts, PASSAGE_TASK)
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
    return tokens, time.perf_counter() - start


def report(label: str, embedder: LocalEmbedder, n: int, tokens: int, seconds: float) -> str:
    header = "| model | device | dtype | threads | chunks | tokens/chunk | seconds | chunks/s | tokens/s |"
    rule = "|" + "---|" * header.count(" | ") + "---|"
    dtype = str(embedder.network.dtype).removeprefix("torch.")
    row = (
        f"| {label} | {embedder.device.type} | {dtype} | {torch.get_num_threads()} | {n} | {tokens / n:.0f} "
        f"| {seconds:.1f} | {n / seconds:.1f} | {tokens / seconds:.0f} |"
    )
    return "\n".join((header, rule, row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="Hub id or local directory of the model to time.")
    source.add_argument("--shape", choices=sorted(SHAPES), help="Time a random network of this shape instead.")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best available).")
    parser.add_argument("--n", type=int, default=512, help="How many chunks to embed.")
    parser.add_argument("--threads", type=int, help="CPU threads for torch.")
    parser.add_argument("--batch-size", type=int, help="Texts per batch (default: the backend's).")
    args = parser.parse_args()
    transformers.utils.logging.disable_progress_bar()
    corpus = list(stdlib_definitions())
    texts = corpus[:: max(1, len(corpus) // args.n)][: args.n]
    options = dict(device=args.device, threads=args.threads, batch_size=args.batch_size, truncate=True)
    with tempfile.TemporaryDirectory() as scratch:
        if args.shape:
            directory = save_shape(args.shape, Path(scratch) / args.shape, corpus)
            embedder = LocalEmbedder(str(directory), family="jina-code", **options)
        else:
            embedder = LocalEmbedder(args.model, **options)
        tokens, seconds = measure(embedder, texts)
    print(report(args.shape or args.model, embedder, len(texts), tokens, seconds))


if __name__ == "__main__":
    main()
