"""The Jina Embeddings HTTP API as an embedder: batched, concurrent, retried and validated.

Configuration (constructor arguments win over the environment):

- `JINA_API_KEY`: the key, sent as a Bearer token; required, checked before any request.
- `JINA_API_BASE`: API root, default `https://api.jina.ai/v1` (tests and gateways point elsewhere).
- `CODESEARCH_JINA_CONCURRENCY`: most requests in flight (default 8); fewer while rate-limited.
- `CODESEARCH_JINA_BATCH_SIZE`: most inputs per request (default 256).
- `CODESEARCH_JINA_BATCH_TOKENS`: most estimated tokens per request (default 16384).
- `CODESEARCH_JINA_RETRIES`: retries per request on 429, 5xx, timeouts and dropped connections (default 8).
- `CODESEARCH_JINA_TIMEOUT`: seconds to wait for one response (default 60).
- `CODESEARCH_JINA_TRUNCATE`: `1` lets the API cut over-long inputs instead of failing (default 0).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import math
import os
import random
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import httpx
import numpy as np

from codesearch import __version__
from codesearch.embedders.base import gathered, normalize_rows
from codesearch.errors import CodesearchError

DEFAULT_BASE_URL = "https://api.jina.ai/v1"
DEFAULT_MODEL = "jina-code-embeddings-1.5b"
IMPLEMENTATION_VERSION = "v1"
EMBEDDING_TYPES = ("base64", "float", "binary", "ubinary")
TASK_KINDS = ("nl2code", "code2code", "code2nl", "code2completion", "qa")
ROLES = ("query", "passage")

_LONGEST_WAIT_S = 300.0
_BACKOFF_CAP_S = 30.0
_MIN_GAP_S = 0.05
_GAP_GROWTH = 2.0
_GAP_DECAY = 0.8
_GAP_DECAY_SHORT = 0.98
_TOO_LONG = re.compile(r"too long|context length|exceeds? (the )?max(imum)?\b[^.;]*\b(length|tokens)", re.I)


@dataclass(frozen=True)
class ModelInfo:
    """What the API accepts for one model: its Matryoshka range and its names for the engine's tasks.

    `task_prefix` maps an engine task kind (`nl2code`, `qa`, ...) to the model family's task
    prefix; the role (`query` / `passage`) is kept, so `nl2code.passage` becomes `code.passage`
    on v4 and `retrieval.passage` on v3.
    """

    native_dims: int
    min_dims: int
    task_prefix: Mapping[str, str]


MODELS: dict[str, ModelInfo] = {
    "jina-code-embeddings-0.5b": ModelInfo(896, 64, {kind: kind for kind in TASK_KINDS}),
    "jina-code-embeddings-1.5b": ModelInfo(1536, 128, {kind: kind for kind in TASK_KINDS}),
    "jina-embeddings-v4": ModelInfo(
        2048,
        128,
        {"nl2code": "code", "code2code": "code", "code2completion": "code", "code2nl": "retrieval", "qa": "retrieval"},
    ),
    "jina-embeddings-v3": ModelInfo(1024, 32, dict.fromkeys(TASK_KINDS, "retrieval")),
}


def estimate_tokens(text: str) -> int:
    """A deliberately high token guess (3 UTF-8 bytes per token, plus the instruction prefix).

    Over-estimating keeps every request under the per-request cap without a tokenizer.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 3 + 8


def plan_batches(texts: Sequence[str], max_inputs: int, max_tokens: int) -> list[range]:
    """Consecutive index ranges, each within `max_inputs` texts and `max_tokens` estimated tokens.

    A single text above `max_tokens` still gets a request of its own: the API decides whether it fits.
    """
    batches: list[range] = []
    start, tokens = 0, 0
    for i, text in enumerate(texts):
        cost = estimate_tokens(text)
        if i > start and (i - start >= max_inputs or tokens + cost > max_tokens):
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += cost
    if start < len(texts):
        batches.append(range(start, len(texts)))
    return batches


def api_task(model: str, task: str) -> str:
    """The task name the model's family understands for an engine task such as `nl2code.query`."""
    kind, _, role = task.partition(".")
    prefix = MODELS[model].task_prefix.get(kind)
    if prefix is None or role not in ROLES:
        known = ", ".join(f"{k}.{r}" for k in TASK_KINDS for r in ROLES)
        raise CodesearchError(f"unknown task {task!r} for the jina embedder; choose one of: {known}")
    return f"{prefix}.{role}"


def decode_embedding(value: Any, embedding_type: str, dims: int) -> np.ndarray:
    """One API embedding as float32 `[dims]`, exactly as sent; raises ValueError when it is not.

    base64 is little-endian float32. binary/ubinary pack one sign bit per dimension, most
    significant bit first; `binary` is the packed byte minus 128 (the sentence-transformers
    convention), decoded to -1/+1.
    """
    if embedding_type == "base64":
        if not isinstance(value, str):
            raise ValueError("base64 embedding is not a string")
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"invalid base64 ({exc})") from None
        if len(raw) != 4 * dims:
            raise ValueError(f"expected {dims} dimensions, got {len(raw) / 4:g}")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise ValueError(f"{embedding_type} embedding is not a list of numbers")
    if embedding_type == "float":
        if len(value) != dims:
            raise ValueError(f"expected {dims} dimensions, got {len(value)}")
        return np.asarray(value, dtype=np.float32)
    offset, low, high = (128, -128, 127) if embedding_type == "binary" else (0, 0, 255)
    if len(value) != math.ceil(dims / 8) or not all(float(x).is_integer() and low <= x <= high for x in value):
        raise ValueError(f"expected {math.ceil(dims / 8)} packed {embedding_type} bytes")
    bits = np.unpackbits((np.asarray(value, dtype=np.int16) + offset).astype(np.uint8))[:dims]
    return bits.astype(np.float32) * 2 - 1


def parse_embeddings(body: Any, count: int, dims: int, embedding_type: str) -> tuple[np.ndarray, int]:
    """`[count, dims]` rows placed by each item's `index`, and `usage.total_tokens`; ValueError if anything is off."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ValueError("no `data` list")
    if len(data) != count:
        raise ValueError(f"expected {count} embeddings, got {len(data)}")
    rows = np.empty((count, dims), dtype=np.float32)
    seen: set[int] = set()
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or index in seen:
            raise ValueError(f"bad or repeated index {index!r}")
        seen.add(index)
        rows[index] = decode_embedding(item.get("embedding"), embedding_type, dims)
    if not np.isfinite(rows).all():
        raise ValueError("non-finite values")
    usage = body.get("usage") or {}
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else None
    if not isinstance(tokens, int):
        raise ValueError(f"bad usage {usage!r}")
    return rows, tokens


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    """An integer rate-limit header, or None when absent or unreadable."""
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError):
        return None


def _one_line(text: str, limit: int = 200) -> str:
    """Server text squeezed to one short line, since errors are printed as one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def error_detail(response: httpx.Response) -> str:
    """The human part of an error body: `{"detail": ...}`, `{"error": {"message": ...}}` or raw text."""
    try:
        body = response.json()
    except ValueError:
        return _one_line(response.text) or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        detail = error["message"]
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)
    return _one_line(str(detail if detail is not None else body))


def _env_int(name: str, default: int) -> int:
    """A positive integer knob from the environment, with a clear error when mistyped."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise CodesearchError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _env_flag(name: str) -> bool:
    """A boolean knob: 1/true/yes/on are true."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class _Retry(Exception):
    """An attempt that may succeed if repeated; `wait` is what the server asked for, if anything."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class _Cancelled(Exception):
    """Another batch of the same embed() call failed; stop without spending more requests."""


class _Pacer:
    """Bounds requests in flight and paces their starts to the key's limits, for all batches at once.

    Why adaptive: a fixed concurrency either wastes a generous key or hammers a small one
    into 429s. Two controls settle near what the key sustains, so retries stay rare:
    the in-flight bound halves on a 429 (everyone waits out `Retry-After`), shrinks while the
    rate-limit headers say the next round would not fit, and creeps back up otherwise; the
    least gap between request starts doubles on each 429 and decays on successes, slowly
    while the headers are near zero, quickly once they show room again. Measured with
    benchmarks/api_throughput.py: >= 99% of a simulated tokens-per-minute limit.
    """

    def __init__(self, ceiling: int) -> None:
        self._ceiling = ceiling
        self._limit = float(ceiling)
        self._in_flight = 0
        self._resume_at = 0.0
        self._gap = 0.0
        self._last_start = 0.0
        self._cond = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the allowed in-flight places for the duration of a request."""
        with self._cond:
            while True:
                now = time.monotonic()
                pause = max(self._resume_at, self._last_start + self._gap) - now
                if pause <= 0 and self._in_flight < int(self._limit):
                    break
                self._cond.wait(timeout=pause if pause > 0 else None)
            self._in_flight += 1
            self._last_start = now
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def answered(self, headers: httpx.Headers, request_tokens: int) -> None:
        """Grow the bound while the rate-limit headers show room for another round, else shrink it."""
        tokens_left = _header_int(headers, "x-ratelimit-remaining-tokens")
        requests_left = _header_int(headers, "x-ratelimit-remaining-requests")
        with self._cond:
            round_size = max(1, int(self._limit))
            short = (tokens_left is not None and tokens_left < request_tokens * round_size) or (
                requests_left is not None and requests_left < round_size
            )
            self._limit = max(1.0, self._limit - 1) if short else min(self._ceiling, self._limit + 1 / self._limit)
            self._gap *= _GAP_DECAY_SHORT if short else _GAP_DECAY
            self._cond.notify_all()

    def throttled(self, pause: float) -> None:
        """A 429: halve the bound once per episode, widen the gap, hold every request back for `pause` seconds."""
        with self._cond:
            now = time.monotonic()
            if now >= self._resume_at:
                self._limit = max(1.0, self._limit / 2)
            self._gap = max(self._gap * _GAP_GROWTH, _MIN_GAP_S)
            self._resume_at = max(self._resume_at, now + pause)


class JinaEmbedder:
    """Embeds through `POST {base}/embeddings`; see the module docstring for every knob.

    Only user-fixable problems surface, each as a one-line `CodesearchError`; the key is
    never part of a message, repr or signature. `tokens_used` sums the API's `usage.total_tokens`.
    """

    name = "jina"
    in_workers = False

    def __init__(
        self,
        model: str | None = None,
        dims: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_concurrency: int | None = None,
        batch_size: int | None = None,
        batch_tokens: int | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        truncate: bool | None = None,
        embedding_type: str = "base64",
        backoff_base: float = 0.5,
    ) -> None:
        self.model = model or DEFAULT_MODEL
        self.dimensions = _checked_dims(self.model, dims)
        if embedding_type not in EMBEDDING_TYPES:
            choices = ", ".join(EMBEDDING_TYPES)
            raise CodesearchError(f"unknown embedding type {embedding_type!r}; choose one of: {choices}")
        self.embedding_type = embedding_type
        self._api_key = _checked_key(api_key if api_key is not None else os.environ.get("JINA_API_KEY", ""))
        self.base_url = _checked_base_url(base_url or os.environ.get("JINA_API_BASE") or DEFAULT_BASE_URL)
        self.max_concurrency = max_concurrency or _env_int("CODESEARCH_JINA_CONCURRENCY", 8)
        self.batch_size = batch_size or _env_int("CODESEARCH_JINA_BATCH_SIZE", 256)
        self.batch_tokens = batch_tokens or _env_int("CODESEARCH_JINA_BATCH_TOKENS", 16384)
        self.max_retries = max_retries if max_retries is not None else _env_int("CODESEARCH_JINA_RETRIES", 8)
        self.truncate = truncate if truncate is not None else _env_flag("CODESEARCH_JINA_TRUNCATE")
        self.backoff_base = backoff_base
        binary = ":binary" if embedding_type in ("binary", "ubinary") else ""
        self.signature = f"jina:{self.model}:{self.dimensions}:{IMPLEMENTATION_VERSION}{binary}"
        self.tokens_used = 0
        self._lock = threading.Lock()
        self._pacer = _Pacer(self.max_concurrency)
        read_timeout = timeout or float(_env_int("CODESEARCH_JINA_TIMEOUT", 60))
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=min(10.0, read_timeout)),
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"codesearch/{__version__}",
            },
        )

    def __repr__(self) -> str:
        return f"JinaEmbedder(model={self.model!r}, dims={self.dimensions}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> JinaEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embed(self, texts: Sequence[str], task: str) -> np.ndarray:
        """L2-normalised float32 `[len(texts), dimensions]`, rows in input order."""
        return gathered(self.embed_parts(texts, task), len(texts), self.dimensions)

    def embed_parts(self, texts: Sequence[str], task: str) -> Iterator[tuple[range, np.ndarray]]:
        """Each request's span of `texts` and its L2-normalised rows, as its answer arrives.

        Batches run concurrently; the first batch that fails for good (or Ctrl-C, or the caller
        stopping) cancels the rest and its error is raised: only answers already yielded count.
        """
        wire_task = api_task(self.model, task)
        batches = plan_batches(texts, self.batch_size, self.batch_tokens)
        if not batches:
            return
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(batches)), thread_name_prefix="jina") as pool:
            futures: dict[Future[np.ndarray], range] = {
                pool.submit(self._embed_batch, [texts[i] for i in span], wire_task, cancel): span for span in batches
            }
            try:
                for future in as_completed(futures):
                    yield futures[future], normalize_rows(future.result())
            except BaseException:
                cancel.set()
                for future in futures:
                    future.cancel()
                raise

    def _embed_batch(self, texts: list[str], task: str, cancel: threading.Event) -> np.ndarray:
        """One request's worth of texts, retried with backoff until it succeeds or the budget is spent."""
        payload = json.dumps(self._body(texts, task)).encode("utf-8")
        tokens = sum(estimate_tokens(text) for text in texts)
        for attempt in range(self.max_retries + 1):
            if cancel.is_set():
                raise _Cancelled()
            try:
                return self._attempt(payload, len(texts), tokens)
            except _Retry as retry:
                last = retry
                if attempt < self.max_retries:
                    cancel.wait(self._retry_delay(attempt, retry.wait))
        retries = f"gave up after {self.max_retries} {'retry' if self.max_retries == 1 else 'retries'} (last: {last.reason})"
        raise self._error(f"Jina API at {self.base_url}: {retries}")

    def _body(self, texts: list[str], task: str) -> dict[str, Any]:
        """The documented request body; the task is always sent because the API's default is a query task."""
        return {
            "model": self.model,
            "input": texts,
            "task": task,
            "dimensions": self.dimensions,
            "embedding_type": self.embedding_type,
            "truncate": self.truncate,
        }

    def _attempt(self, payload: bytes, count: int, tokens: int) -> np.ndarray:
        """Send once: the decoded rows, `_Retry` for transient trouble, `CodesearchError` for the rest."""
        with self._pacer.slot():
            try:
                response = self._client.post(f"{self.base_url}/embeddings", content=payload)
            except httpx.TimeoutException:
                raise _Retry("timed out") from None
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _Retry(f"connection failed: {_one_line(str(exc) or type(exc).__name__)}") from None
            except httpx.HTTPError as exc:  # say, an answer that does not decode: one line, the key masked
                raise self._error(f"Jina API at {self.base_url}: {_one_line(str(exc) or type(exc).__name__)}") from None
        status = response.status_code
        if status == 200:
            self._pacer.answered(response.headers, tokens)
            return self._decode(response, count)
        wait_s = parse_retry_after(response.headers.get("retry-after"))
        if wait_s is not None and wait_s > _LONGEST_WAIT_S:
            raise self._error(f"Jina API rate limit: the service asks to wait {wait_s:.0f} s ({status}); try again later")
        if status == 429:
            self._pacer.throttled(wait_s if wait_s is not None else self.backoff_base)
            raise _Retry(f"429 rate limited: {error_detail(response)}", wait_s)
        if status >= 500:
            raise _Retry(f"{status} {response.reason_phrase}", wait_s)
        raise self._http_error(response)

    def _retry_delay(self, attempt: int, asked: float | None) -> float:
        """What the server asked for plus a little jitter, else capped exponential backoff with jitter."""
        if asked is not None:
            return asked + random.uniform(0, self.backoff_base)
        return random.uniform(0.5, 1.0) * min(_BACKOFF_CAP_S, self.backoff_base * 2**attempt)

    def _decode(self, response: httpx.Response, count: int) -> np.ndarray:
        """The rows of a 200 answer; a malformed one is an error, never a silently wrong vector."""
        try:
            rows, used = parse_embeddings(response.json(), count, self.dimensions, self.embedding_type)
        except ValueError as exc:
            raise self._error(f"Jina API returned a malformed response: {_one_line(str(exc))}") from None
        with self._lock:
            self.tokens_used += used
        return rows

    def _http_error(self, response: httpx.Response) -> CodesearchError:
        """The one-line, user-fixable explanation of a 4xx answer."""
        status, detail = response.status_code, error_detail(response)
        if status == 401:
            return self._error(f"Jina API rejected the key (401: {detail}); check JINA_API_KEY")
        if status == 403:
            return self._error(
                f"Jina API refused the request (403: {detail}); "
                "the key's balance is likely exhausted: top it up or use another key"
            )
        if status == 400 or (status == 422 and _TOO_LONG.search(detail)):
            return self._error(
                f"an input is too long for {self.model} ({status}: {detail}); "
                "index with --truncate (or CODESEARCH_JINA_TRUNCATE=1) to let the API cut such inputs, or use a smaller chunk size"
            )
        return self._error(f"Jina API rejected the request ({status}: {detail})")

    def _error(self, message: str) -> CodesearchError:
        """A CodesearchError whose text cannot carry the key, whatever the server echoed: in any
        case, or quoted in a repr as httpx quotes a header (a backslash doubled)."""
        forms = sorted({self._api_key, repr(self._api_key.encode())[2:-1]}, key=len, reverse=True)
        return CodesearchError(re.sub("|".join(map(re.escape, forms)), "***", message, flags=re.IGNORECASE))


def _checked_dims(model: str, dims: int | None) -> int:
    """The model's native size, or `dims` when inside its Matryoshka range."""
    info = MODELS.get(model)
    if info is None:
        raise CodesearchError(f"unknown Jina model {model!r}; choose one of: {', '.join(MODELS)}")
    if dims is None:
        return info.native_dims
    if not info.min_dims <= dims <= info.native_dims:
        raise CodesearchError(f"--dims {dims} is out of range for {model}: choose {info.min_dims}..{info.native_dims}")
    return dims


def _checked_key(key: str) -> str:
    """The key without surrounding whitespace (a pasted key often ends in a line break). A
    missing key is reported before any request is made, and so is one holding a character
    that no API key holds (a Bearer token is visible ASCII, RFC 6750): a line break or
    control character cannot go in an HTTP header, and httpx's error would quote the key."""
    key = key.strip()
    if not key:
        raise CodesearchError(
            "JINA_API_KEY is not set: export your Jina API key (https://jina.ai/embeddings) "
            "or pick another embedder with --embedder"
        )
    odd = _first_invisible(key)
    if odd is not None:
        raise CodesearchError(
            f"JINA_API_KEY has U+{ord(key[odd]):04X} at character {odd + 1} of {len(key)}, and an API key is "
            "visible ASCII only: set it to the key alone, without line breaks or spaces"
        )
    return key


def _first_invisible(text: str) -> int | None:
    """Where `text` first holds a character outside visible ASCII, which no HTTP header or URL
    carries as it is (a line break, a control character, a space); None when nowhere."""
    return next((i for i, char in enumerate(text) if not "!" <= char <= "~"), None)


def _checked_base_url(url: str) -> str:
    """An http(s) URL of visible ASCII (a pasted line break would reach httpx as a traceback),
    without surrounding space or the trailing slash."""
    url = url.strip()
    if not url.startswith(("http://", "https://")) or _first_invisible(url) is not None:
        raise CodesearchError(f"JINA_API_BASE must be an http(s) URL of visible ASCII characters, got {url!r}")
    return url.rstrip("/")
