"""Hugging Face models run locally through transformers, on CPU or GPU.

The registry imports this module only when the `local` backend is chosen, so torch is loaded by
nobody else. Two families are understood: jina-code-embeddings (task instruction prefixes, left
padding, last-token pooling, Matryoshka dimensions) and sentence-transformers model directories
(the pooling and prompts their own configuration declares).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from codesearch.embedders.base import gathered, normalize_rows
from codesearch.errors import CodesearchError, TextTooLongError

try:  # the optional `local` extra: without it, one line saying what to install, not an import traceback
    import torch
    import transformers
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, HfHubHTTPError, LocalEntryNotFoundError
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
except ImportError as error:
    raise CodesearchError(
        f"the local embedder needs torch and transformers ({error}): from a checkout of codesearch, "
        '`pip install ".[local]"`; else `pip install torch transformers huggingface-hub`'
    ) from error

DEFAULT_MODEL = "jinaai/jina-code-embeddings-0.5b"
MAX_TOKENS = 8192
VERSION = "v1"
DEFAULT_BATCH_SIZE = 16
TOKEN_BUDGET = 16384
"""Padded tokens per batch at most, so a batch of long chunks does not exhaust memory."""

Family = Literal["jina-code", "sentence-transformers"]
Pooling = Literal["mean", "cls", "lasttoken"]

JINA_PREFIXES: Mapping[str, str] = {
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
"""The instructions jina-code-embeddings was trained with, joined directly to the text."""

TASKS = tuple(JINA_PREFIXES)

_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]
"""What a model needs from the Hub: configs, safetensors weights, tokenizer files; no ONNX or .bin copies."""

_ST_MODULES = {"Transformer", "Pooling", "Normalize"}
_LEGACY_POOLING_KEYS: Mapping[str, str] = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class Recipe:
    """How one model turns texts into vectors, as its family or its own configuration declares."""

    family: Family
    weights_dir: Path
    pooling: Pooling
    prompts: Mapping[str, str]
    declared_max_tokens: int | None


def matryoshka_dims(hidden: int) -> tuple[int, ...]:
    """Dimensions a jina-code-embeddings model was trained to be cut to.

    Powers of two from a sixteenth of the hidden size, then the full size: this reproduces the
    published lists (0.5b: 64..512 + 896; 1.5b: 128..1024 + 1536) and extends to other sizes.
    """
    dims = [1 << bit for bit in range(hidden.bit_length()) if hidden <= 16 * (1 << bit) < 16 * hidden]
    return (*dims, hidden)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _offline() -> bool:
    """Read at call time: huggingface_hub reads HF_HUB_OFFLINE only once, when first imported."""
    return _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _looks_like_path(model: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else the user typed is meant as a directory."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model


def _missing_model(model: str, why: str) -> CodesearchError:
    return CodesearchError(f"model {model!r} {why}; download it where you can and pass --model /path/to/dir")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The library never prints: silence Hugging Face bars and advice, then restore the caller's settings."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    hub_bars = not are_progress_bars_disabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()
        if hub_bars:
            enable_progress_bars()


def local_model_dir(model: str) -> Path | None:
    """The directory `model` names, None for a Hub id; a path-like name that is no directory is an error."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if _looks_like_path(model):
        raise CodesearchError(f"no model directory at {model}")
    return None


def hub_snapshot(model: str) -> Path:
    """The model's Hub snapshot: cached first, downloaded only when online, failures as one line."""
    with _quiet():
        try:
            return Path(snapshot_download(model, local_files_only=True))
        except HFValidationError as error:
            raise CodesearchError(f"{model!r} is neither a model directory nor a Hub model id: {_one_line(error)}")
        except LocalEntryNotFoundError:
            if _offline():
                raise _missing_model(model, "is not in the Hugging Face cache and HF_HUB_OFFLINE=1") from None
        try:
            return Path(snapshot_download(model, allow_patterns=_HUB_FILES))
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
            why = f"is not in the Hugging Face cache and could not be downloaded ({_one_line(error)})"
            raise _missing_model(model, why) from None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CodesearchError(f"cannot read {path}: {_one_line(error)}")


def _pooling_mode(config: Mapping[str, Any]) -> str | list[str]:
    """The mode of a sentence-transformers Pooling config, old (boolean keys) or new (`pooling_mode`)."""
    mode = config.get("pooling_mode")
    if mode is None:
        modes = [name for key, name in _LEGACY_POOLING_KEYS.items() if config.get(key)]
        mode = modes if len(modes) != 1 else modes[0]
    return mode or "mean"


def _prompt_names(task: str) -> tuple[str, ...]:
    """Names a sentence-transformers config may give this task's prompt, most specific first."""
    kind, side = task.split(".")
    sides = ("query",) if side == "query" else ("passage", "document", "corpus")
    return (task, *(f"{kind}_{name}" for name in sides), *sides)


def _st_prompts(directory: Path) -> dict[str, str]:
    """Each task's prompt from `config_sentence_transformers.json`, else its default prompt, else none."""
    config = _read_json(directory / "config_sentence_transformers.json")
    declared: Mapping[str, str] = config.get("prompts") or {}
    default = declared.get(config.get("default_prompt_name") or "", "")
    return {task: next((declared[n] for n in _prompt_names(task) if n in declared), default) for task in TASKS}


def _st_recipe(directory: Path, model: str) -> Recipe:
    """Pooling, prompts and limits that a sentence-transformers directory declares (mean pooling without one)."""
    modules = _read_json(directory / "modules.json") or []
    weights_dir, pooling = directory, "mean"
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _ST_MODULES:
            raise CodesearchError(
                f"model {model!r} uses the sentence-transformers module {kind}, which the local backend does not run"
            )
        module_dir = directory / module.get("path", "")
        if kind == "Transformer":
            weights_dir = module_dir
        if kind == "Pooling":
            pooling_config = _read_json(module_dir / "config.json")
            pooling = _pooling_mode(pooling_config)
            if pooling_config.get("include_prompt") is False:
                raise CodesearchError(f"model {model!r} pools without its prompt tokens, which the local backend lacks")
    if pooling not in ("mean", "cls", "lasttoken"):
        raise CodesearchError(f"model {model!r} uses {pooling} pooling; the local backend has mean, cls and lasttoken")
    declared = _read_json(weights_dir / "sentence_bert_config.json").get("max_seq_length")
    return Recipe("sentence-transformers", weights_dir, pooling, _st_prompts(directory), declared)


def _is_jina_code(model: str, model_type: str | None) -> bool:
    return model_type == "qwen2" and "jina-code-embeddings" in model.lower()


def build_recipe(directory: Path, model: str, family: Family | None) -> Recipe:
    """jina-code-embeddings when forced or recognised (Qwen2 under its name), else sentence-transformers."""
    st = _st_recipe(directory, model)
    model_type = _read_json(st.weights_dir / "config.json").get("model_type")
    if family == "jina-code" or family is None and _is_jina_code(model, model_type):
        return Recipe("jina-code", st.weights_dir, "lasttoken", JINA_PREFIXES, st.declared_max_tokens)
    return st


def _available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return device.type == "cpu"


def pick_device(requested: str | None) -> torch.device:
    """CUDA, then Apple MPS, then CPU, unless the caller named one, which must be present."""
    if not requested:
        return next(device for device in map(torch.device, ("cuda", "mps", "cpu")) if _available(device))
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise CodesearchError(f"unknown device {requested!r} ({_one_line(error)}); choose cuda, mps or cpu")
    if not _available(device):
        raise CodesearchError(f"device {requested!r} is not available to this torch; choose cuda, mps or cpu")
    return device


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU computes it natively (half the memory, same ranking); float32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: Pooling) -> torch.Tensor:
    """One vector per row from the token states the attention mask keeps, whichever side is padded."""
    if mode == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    kept = positions.masked_fill(mask == 0, -1 if mode == "lasttoken" else mask.shape[1])
    index = kept.amax(dim=1) if mode == "lasttoken" else kept.amin(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


def length_batches(lengths: Sequence[int], batch_size: int, token_budget: int = TOKEN_BUDGET) -> list[list[int]]:
    """Text indices, longest first, grouped so padding stays small and no batch exceeds the budget."""
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        current = batches[-1] if batches else None
        if current and len(current) < batch_size and lengths[current[0]] * (len(current) + 1) <= token_budget:
            current.append(index)
        else:
            batches.append([index])
    return batches


def _load(weights_dir: Path, model: str, padding_side: str, device: torch.device) -> tuple[Any, Any]:
    """Tokenizer and network from a directory, never from the network, errors as one line."""
    try:
        with _quiet():
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                weights_dir, local_files_only=True, trust_remote_code=False, padding_side=padding_side
            )
            network = transformers.AutoModel.from_pretrained(
                weights_dir, local_files_only=True, trust_remote_code=False, dtype=pick_dtype(device)
            )
    except (OSError, ValueError, KeyError, ImportError) as error:
        raise CodesearchError(f"cannot load model {model!r} from {weights_dir}: {_one_line(error)}")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise CodesearchError(f"model {model!r} has a tokenizer with neither a padding nor an end token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, network.to(device).eval()


def _token_limit(recipe: Recipe, tokenizer: Any, config: Any) -> int:
    """8192 tokens, or less where the model, its tokenizer or its sentence-transformers config says so."""
    limits = [MAX_TOKENS, recipe.declared_max_tokens, getattr(config, "max_position_embeddings", None)]
    limits.append(tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else None)
    return min(limit for limit in limits if limit)


class LocalEmbedder:
    """Embeds texts with a Hugging Face model on this machine; see the module docstring for families.

    `model` is the Hub id, or a directory's absolute path, so an index records a model it can
    reopen from any working directory. `tokens_used` sums the tokens embedded, prefixes included.
    """

    name = "local"
    in_workers = False

    def __init__(
        self,
        model: str | None = None,
        dims: int | None = None,
        *,
        device: str | None = None,
        threads: int | None = None,
        truncate: bool = False,
        batch_size: int | None = None,
        family: Family | None = None,
    ) -> None:
        requested = model or DEFAULT_MODEL
        local_dir = local_model_dir(requested)
        directory = local_dir or hub_snapshot(requested)
        self.model = str(local_dir or requested)
        self.truncate = truncate
        self.tokens_used = 0
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        if threads:
            torch.set_num_threads(threads)
        self.recipe = build_recipe(directory, self.model, family)
        self.device = pick_device(device)
        padding_side = "left" if self.recipe.family == "jina-code" else "right"
        self.tokenizer, self.network = _load(self.recipe.weights_dir, self.model, padding_side, self.device)
        self.max_tokens = _token_limit(self.recipe, self.tokenizer, self.network.config)
        self.dimensions = self._check_dims(dims, self.network.config.hidden_size)
        label = local_dir.name if local_dir else requested
        self.signature = f"local:{label}:{self.dimensions}:{self.recipe.pooling}:{VERSION}"

    def _check_dims(self, dims: int | None, hidden: int) -> int:
        """Matryoshka models accept the sizes they were trained for; others only their own size."""
        allowed = matryoshka_dims(hidden) if self.recipe.family == "jina-code" else (hidden,)
        if dims is None:
            return hidden
        if dims not in allowed:
            choices = ", ".join(map(str, allowed))
            raise CodesearchError(f"model {self.model!r} cannot give {dims} dimensions; choose one of: {choices}")
        return dims

    def prefix(self, task: str) -> str:
        """The text joined in front of every input for this task."""
        if task not in TASKS:
            raise CodesearchError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
        return self.recipe.prompts[task]

    def tokenize(self, texts: Sequence[str], task: str) -> list[list[int]]:
        """Token ids of prefix + text; over-long texts are cut with `truncate`, else refused by index."""
        prefix = self.prefix(task)
        if not texts:
            return []
        encoded = self.tokenizer(
            [prefix + text for text in texts],
            truncation=self.truncate,
            max_length=self.max_tokens if self.truncate else None,
            verbose=False,
        )["input_ids"]
        for index, ids in enumerate(encoded):
            if len(ids) > self.max_tokens:
                raise TextTooLongError(index, len(ids), self.max_tokens)
        return encoded

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        """float32 [len(texts), dimensions], L2-normalised, in the order of `texts`."""
        return gathered(self.embed_parts(texts, task), len(texts), self.dimensions)

    def embed_parts(self, texts: Sequence[str], task: str) -> Iterator[tuple[list[int], np.ndarray]]:
        """Each padded batch's positions and rows as it is computed (see `Embedder.embed_parts`)."""
        encoded = self.tokenize(texts, task)
        self.tokens_used += sum(map(len, encoded))
        for batch in length_batches([len(ids) for ids in encoded], self.batch_size):
            yield batch, normalize_rows(self._forward([encoded[i] for i in batch]))

    @torch.inference_mode()
    def _forward(self, encoded: list[list[int]]) -> np.ndarray:
        """Pooled vectors of one padded batch, cut to the Matryoshka size (normalised by the caller)."""
        padded = self.tokenizer.pad({"input_ids": encoded}, padding=True, return_tensors="pt").to(self.device)
        hidden = self.network(**padded).last_hidden_state
        pooled = pool(hidden.float(), padded["attention_mask"], self.recipe.pooling)
        return pooled[:, : self.dimensions].cpu().numpy()
