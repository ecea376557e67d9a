"""A local stand-in for the Jina Embeddings API, strict where the documentation is, scriptable for faults.

The tests and `benchmarks/api_throughput.py` run the real client against it over real HTTP on
127.0.0.1. It checks every request as documented (Bearer key, JSON content type, required
fields, known model, task names of the model's family, dimension range, inputs per request,
tokens per input) and answers with deterministic embeddings that `expected_embedding`
recomputes. Faults are scripted per test: `script()` replaces the next answers, `fail_after()`
starts an outage, `latency`, `shuffle` and the per-minute limits shape the normal answers.
Every request is recorded (headers and parsed body) for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import numpy as np

_CODE_KINDS = ("nl2code", "code2code", "code2nl", "code2completion", "qa")
_CODE_TASKS = frozenset(f"{kind}.{role}" for kind in _CODE_KINDS for role in ("query", "passage"))
_V4_TASKS = frozenset({"retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"})
_V3_TASKS = frozenset({"retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"})
_FIELDS = frozenset({"model", "input", "embedding_type", "task", "dimensions", "truncate", "normalized", "late_chunking"})
ENCODINGS = ("float", "base64", "binary", "ubinary")


@dataclass(frozen=True)
class Model:
    """What the documentation says one model accepts."""

    native_dims: int
    min_dims: int
    tasks: frozenset[str]
    default_task: str | None
    max_input_tokens: int


MODELS: dict[str, Model] = {
    "jina-code-embeddings-0.5b": Model(896, 64, _CODE_TASKS, "nl2code.query", 32768),
    "jina-code-embeddings-1.5b": Model(1536, 128, _CODE_TASKS, "nl2code.query", 32768),
    "jina-embeddings-v4": Model(2048, 128, _V4_TASKS, None, 32768),
    "jina-embeddings-v3": Model(1024, 32, _V3_TASKS, None, 8192),
}


def count_tokens(text: str) -> int:
    """The server's token count: one per 4 UTF-8 bytes, at least one."""
    return max(1, math.ceil(len(text.encode("utf-8")) / 4))


def expected_embedding(text: str, task: str | None, dims: int, model: str = "jina-code-embeddings-1.5b") -> np.ndarray:
    """The float32 unit vector the server returns for `text` under `task`, Matryoshka-cut to `dims`."""
    seed = int.from_bytes(hashlib.sha256(f"{task}\n{text}".encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(MODELS[model].native_dims)[:dims]
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def encode_embedding(vector: np.ndarray, embedding_type: str) -> Any:
    """The JSON value of one embedding: floats, base64 of little-endian float32, or packed sign bits."""
    if embedding_type == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    if embedding_type == "float":
        return [float(x) for x in vector]
    packed = np.packbits(vector > 0).astype(np.int16)
    return (packed - 128 if embedding_type == "binary" else packed).tolist()


@dataclass
class Reply:
    """One scripted answer, sent as is; with `edit`, the normal answer passed through `edit` plus `headers`."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    edit: Callable[[dict[str, Any]], Any] | None = None


@dataclass
class Recorded:
    """One request as received: lower-case header names, the parsed JSON body (None if unparseable).

    `status` is what it was answered (0: connection dropped); `received_at` is `time.monotonic()`.
    """

    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    received_at: float = field(default_factory=time.monotonic)


class _Bucket:
    """A per-minute limit as a token bucket, so the refill is smooth and the benchmark's figure is fair."""

    def __init__(self, per_minute: int, burst_seconds: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def shortfall_seconds(self, need: float) -> float:
        """Seconds until `need` fits; 0 when it fits now."""
        return max(0.0, (need - self.level) / self.rate)


class JinaServer:
    """The fake API on `http://127.0.0.1:<port>/v1`; use as a context manager or start()/stop()."""

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        max_inputs: int = 2048,
        latency: float = 0.0,
        shuffle: bool = False,
        tokens_per_minute: int | None = None,
        requests_per_minute: int | None = None,
        burst_seconds: float = 60.0,
        max_input_tokens: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.max_inputs = max_inputs
        self.latency = latency
        self.shuffle = shuffle
        self.max_input_tokens = max_input_tokens
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self.tokens_served = 0
        self.first_request_at: float | None = None
        self.last_served_at: float | None = None
        self._tokens = _Bucket(tokens_per_minute, burst_seconds) if tokens_per_minute else None
        self._requests = _Bucket(requests_per_minute, burst_seconds) if requests_per_minute else None
        self._script: deque[Reply] = deque()
        self._outage_left = 0
        self._outage_reply: Reply | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.api = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to use as JINA_API_BASE."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> JinaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> JinaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *replies: Reply) -> None:
        """Answer the next valid requests with these replies, in order, then normally again."""
        with self._lock:
            self._script.extend(replies)

    def fail_after(self, served: int, reply: Reply) -> None:
        """An outage: after `served` more normal answers, every valid request gets `reply` until `recover()`."""
        with self._lock:
            self._outage_left, self._outage_reply = served, reply

    def recover(self) -> None:
        """End the outage."""
        with self._lock:
            self._outage_reply = None

    def status_counts(self) -> Counter[int]:
        """How many requests got each status (0: connection dropped)."""
        with self._lock:
            return Counter(r.status for r in self.requests)

    def inputs(self, task: str | None = None) -> list[str]:
        """Every input of every answered (200) request, optionally only those sent with `task`."""
        with self._lock:
            answered = [r.body for r in self.requests if r.status == 200]
        return [text for body in answered if task is None or body.get("task") == task for text in body["input"]]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Record the request, hold it for `latency`, and decide the answer."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        record = Recorded(path, headers, body)
        with self._lock:
            self.first_request_at = self.first_request_at or time.monotonic()
            self.requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.latency)
            reply = self._answer(path, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1
        record.status = 0 if reply.drop else reply.status
        return reply

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> Reply:
        """Validation first (an invalid request always gets its 4xx), then script, outage, limits, embeddings."""
        invalid = self._invalid(path, headers, body)
        if invalid is not None:
            return invalid
        with self._lock:
            scripted = self._next_scripted()
            if scripted is not None and scripted.edit is None:
                return scripted
            limited = self._take_quota(body)
        if limited is not None:
            return limited
        answer = self._embeddings(body)
        if scripted is not None and scripted.edit is not None:
            answer.body = scripted.edit(answer.body)
            answer.headers.update(scripted.headers)
        return answer

    def _next_scripted(self) -> Reply | None:
        """The scripted reply for this request, if any (caller holds the lock)."""
        if self._script:
            return self._script.popleft()
        if self._outage_reply is None:
            return None
        self._outage_left -= 1
        return self._outage_reply if self._outage_left < 0 else None

    def _invalid(self, path: str, headers: dict[str, str], body: Any) -> Reply | None:
        """The documented checks, in the order a real gateway would make them."""
        if path != "/v1/embeddings":
            return _error(404, f"no route {path}")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            sent = headers.get("authorization", "no Authorization header")
            return _error(401, f"Unauthorized: invalid API key in {sent!r}")
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "Content-Type must be application/json")
        if body is None or not isinstance(body, dict):
            return _error(422, "body must be a JSON object")
        extra = set(body) - _FIELDS
        if extra:
            return _error(422, f"extra fields not permitted: {sorted(extra)}")
        model = MODELS.get(body.get("model"))  # type: ignore[arg-type]
        if model is None:
            return _error(422, f"Model {body.get('model')!r} not found")
        texts = body.get("input")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return _error(422, "input must be a non-empty list of strings")
        if len(texts) > self.max_inputs:
            return _error(422, f"too many inputs: {len(texts)} > {self.max_inputs} per request")
        task = body.get("task", model.default_task)
        if task is not None and task not in model.tasks:
            return _error(422, f"task {task!r} is not valid for {body['model']}; valid: {sorted(model.tasks)}")
        dims = body.get("dimensions", model.native_dims)
        if not isinstance(dims, int) or not model.min_dims <= dims <= model.native_dims:
            return _error(422, f"dimensions must be in {model.min_dims}..{model.native_dims}")
        if body.get("embedding_type", "float") not in ENCODINGS:
            return _error(422, f"embedding_type must be one of {ENCODINGS}")
        if not isinstance(body.get("truncate", False), bool):
            return _error(422, "truncate must be a boolean")
        if "normalized" in body and body["model"] != "jina-embeddings-v3":
            return _error(422, "normalized is only accepted by jina-embeddings-v3")
        limit = self.max_input_tokens or model.max_input_tokens
        if not body.get("truncate", False) and any(count_tokens(t) > limit for t in texts):
            return _error(400, f"Input text exceeds the maximum length of {limit} tokens")
        return None

    def _take_quota(self, body: dict[str, Any]) -> Reply | None:
        """Charge the per-minute buckets, or a 429 with Retry-After and the remaining counts (caller holds the lock)."""
        need = sum(count_tokens(t) for t in body["input"])
        buckets = [(b, n) for b, n in ((self._tokens, need), (self._requests, 1)) if b is not None]
        for bucket, _ in buckets:
            bucket.refill()
        wait = max((bucket.shortfall_seconds(n) for bucket, n in buckets), default=0.0)
        if wait == 0:
            for bucket, n in buckets:
                bucket.level -= n
        headers = self._remaining_headers()
        if wait > 0:
            headers["Retry-After"] = str(math.ceil(wait))
            return _error(429, "Rate limit exceeded: too many tokens per minute", headers)
        return None

    def _remaining_headers(self) -> dict[str, str]:
        """X-RateLimit-Remaining-* for the configured limits (caller holds the lock)."""
        headers = {}
        if self._tokens is not None:
            headers["X-RateLimit-Remaining-Tokens"] = str(int(self._tokens.level))
        if self._requests is not None:
            headers["X-RateLimit-Remaining-Requests"] = str(int(self._requests.level))
        return headers

    def _embeddings(self, body: dict[str, Any]) -> Reply:
        """The documented success body; `shuffle` reverses the order of `data` (each item keeps its `index`)."""
        model = MODELS[body["model"]]
        task = body.get("task", model.default_task)
        dims = body.get("dimensions", model.native_dims)
        encoding = body.get("embedding_type", "float")
        limit = self.max_input_tokens or model.max_input_tokens
        tokens = sum(min(count_tokens(t), limit) for t in body["input"])
        vectors = [expected_embedding(text, task, dims, body["model"]) for text in body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": encode_embedding(v, encoding)} for i, v in enumerate(vectors)]
        if self.shuffle:
            data.reverse()
        with self._lock:
            self.tokens_served += tokens
            self.last_served_at = time.monotonic()
            headers = self._remaining_headers()
        usage = {"total_tokens": tokens, "prompt_tokens": tokens}
        return Reply(200, {"model": body["model"], "object": "list", "usage": usage, "data": data}, headers)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    """An error answer in the API's `{"detail": ...}` shape."""
    return Reply(status, {"detail": detail}, headers or {})


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like the real API behind its load balancer."""

    protocol_version = "HTTP/1.1"
    timeout = 30

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.api.handle(self.path, headers, raw)  # type: ignore[attr-defined]
        if reply.drop:
            self.close_connection = True
            return
        payload = _payload(reply)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the tests read `requests`, not a log."""


def _payload(reply: Reply) -> bytes:
    """Bytes as given, JSON for anything else, `{"detail": <reason>}` when no body was scripted."""
    if isinstance(reply.body, bytes):
        return reply.body
    body = reply.body if reply.body is not None else {"detail": HTTPStatus(reply.status).phrase}
    return json.dumps(body).encode("utf-8")
