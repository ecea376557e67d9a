"""The Jina embedder against a real local HTTP server that checks requests as the API documents them."""

from __future__ import annotations

import base64
import time
from typing import Callable, Iterator

import numpy as np
import pytest
from jina_server import JinaServer, Reply, count_tokens, expected_embedding

from codesearch.embedders import EmbedderSpec, create_embedder, default_spec
from codesearch.embedders.base import normalize_rows
from codesearch.embedders.jina import JinaEmbedder, decode_embedding, estimate_tokens, plan_batches
from codesearch.errors import CodesearchError

KEY = "jina_test_SECRET_0123456789"
TEXTS = [f"def handler_{i}(request):\n    return parse_json(request.body)[{i}]" for i in range(40)]


@pytest.fixture
def server() -> Iterator[JinaServer]:
    with JinaServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def make(server: JinaServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., JinaEmbedder]:
    """A client of `server` with fast backoff; the caller's environment cannot leak in."""
    knobs = ("CONCURRENCY", "BATCH_SIZE", "BATCH_TOKENS", "RETRIES", "TIMEOUT", "TRUNCATE")
    for name in ("JINA_API_KEY", "JINA_API_BASE", *(f"CODESEARCH_JINA_{knob}" for knob in knobs)):
        monkeypatch.delenv(name, raising=False)

    def build(**kwargs: object) -> JinaEmbedder:
        options: dict[str, object] = {"api_key": KEY, "base_url": server.url, "backoff_base": 0.01, "max_retries": 3}
        return JinaEmbedder(**(options | kwargs))  # type: ignore[arg-type]

    return build


def expected(texts: list[str], task: str, dims: int = 1536, model: str = "jina-code-embeddings-1.5b") -> np.ndarray:
    return normalize_rows(np.stack([expected_embedding(t, task, dims, model) for t in texts]))


def failure(embedder: JinaEmbedder, texts: list[str] = TEXTS[:3], task: str = "nl2code.passage") -> str:
    """The message of the error embed() must raise; it is one line and never carries the key."""
    with pytest.raises(CodesearchError) as caught:
        embedder.embed(texts, task)
    message = str(caught.value)
    assert "\n" not in message and KEY not in message
    return message


def test_request_carries_documented_headers_and_fields(make, server):
    make(dims=512).embed(TEXTS[:2], "nl2code.passage")
    (request,) = server.requests
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.body == {
        "model": "jina-code-embeddings-1.5b",
        "input": TEXTS[:2],
        "task": "nl2code.passage",
        "dimensions": 512,
        "embedding_type": "base64",
        "truncate": False,
    }


@pytest.mark.parametrize(
    ("model", "engine_task", "wire_task"),
    [
        ("jina-code-embeddings-1.5b", "nl2code.passage", "nl2code.passage"),
        ("jina-code-embeddings-1.5b", "nl2code.query", "nl2code.query"),
        ("jina-code-embeddings-1.5b", "code2code.query", "code2code.query"),
        ("jina-code-embeddings-0.5b", "qa.query", "qa.query"),
        ("jina-embeddings-v4", "nl2code.passage", "code.passage"),
        ("jina-embeddings-v4", "nl2code.query", "code.query"),
        ("jina-embeddings-v4", "code2code.query", "code.query"),
        ("jina-embeddings-v4", "qa.query", "retrieval.query"),
        ("jina-embeddings-v3", "nl2code.passage", "retrieval.passage"),
        ("jina-embeddings-v3", "code2code.query", "retrieval.query"),
    ],
)
def test_engine_task_is_sent_as_the_family_task(make, server, model, engine_task, wire_task):
    vectors = make(model=model).embed(TEXTS[:2], engine_task)
    assert [r.body["task"] for r in server.requests] == [wire_task]
    dims = vectors.shape[1]
    assert np.array_equal(vectors, expected(TEXTS[:2], wire_task, dims, model))


def test_unknown_task_is_refused_before_any_request(make, server):
    assert "unknown task" in failure(make(), task="nl2code.summary")
    assert server.requests == []


def test_base64_decoding_is_exact():
    values = np.array([0.0, -0.0, 1e-38, -3.4028235e38, 0.1, np.pi, -1.5e-45], dtype=np.float32)
    encoded = base64.b64encode(values.astype("<f4").tobytes()).decode()
    assert decode_embedding(encoded, "base64", len(values)).tobytes() == values.tobytes()


def test_float_decoding_is_exact():
    values = np.random.default_rng(1).standard_normal(64).astype(np.float32)
    assert decode_embedding([float(x) for x in values], "float", 64).tobytes() == values.tobytes()


@pytest.mark.parametrize("embedding_type", ["base64", "float"])
def test_embeddings_match_what_the_server_computed(make, embedding_type):
    vectors = make(embedding_type=embedding_type, batch_size=7).embed(TEXTS, "nl2code.passage")
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 1536)
    assert np.array_equal(vectors, expected(TEXTS, "nl2code.passage"))


@pytest.mark.parametrize("embedding_type", ["binary", "ubinary"])
def test_binary_encodings_decode_to_signs(make, embedding_type):
    embedder = make(embedding_type=embedding_type, dims=200)
    vectors = embedder.embed(TEXTS[:5], "nl2code.passage")
    signs = np.where(expected(TEXTS[:5], "nl2code.passage", 200) > 0, 1.0, -1.0)
    assert np.array_equal(vectors, normalize_rows(signs))
    assert embedder.signature.endswith(":binary")


def test_shuffled_index_order_is_restored(make, server):
    server.shuffle = True
    assert np.array_equal(make().embed(TEXTS[:9], "nl2code.passage"), expected(TEXTS[:9], "nl2code.passage"))


def test_empty_input_sends_nothing(make, server):
    assert make().embed([], "nl2code.passage").shape == (0, 1536)
    assert server.requests == []


def test_bad_key_is_one_clear_line_without_the_key(make, server):
    message = failure(make(api_key="jina_wrong_key_42"))
    assert message.startswith("Jina API rejected the key (401") and "check JINA_API_KEY" in message
    assert "jina_wrong_key_42" not in message
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "expected_text"),
    [
        (Reply(403, {"detail": "Insufficient balance"}), "balance is likely exhausted"),
        (Reply(422, {"error": {"message": "input[0] exceeds maximum context length"}}), "use a smaller chunk size"),
        (Reply(422, {"detail": [{"loc": ["body", "task"], "msg": "bad task"}]}), "rejected the request (422: bad task)"),
        (Reply(422, {"detail": f"bad header Bearer {KEY}"}), "rejected the request (422: bad header Bearer ***)"),
    ],
)
def test_client_errors_become_one_line_messages(make, server, reply, expected_text):
    server.script(reply)
    assert expected_text in failure(make())
    assert len(server.requests) == 1


def test_input_too_long_suggests_truncate(make, server):
    server.max_input_tokens = 20
    message = failure(make(), texts=["x" * 200])
    assert "too long for jina-code-embeddings-1.5b (400:" in message and "--truncate" in message


def test_truncate_is_sent_and_lets_long_inputs_through(make, server):
    server.max_input_tokens = 20
    make(truncate=True).embed(["x" * 200], "nl2code.passage")
    assert server.requests[0].body["truncate"] is True


def test_truncate_from_environment(make, monkeypatch):
    monkeypatch.setenv("CODESEARCH_JINA_TRUNCATE", "1")
    assert make().truncate is True


def test_429_waits_for_retry_after_then_succeeds(make, server):
    server.script(Reply(429, {"detail": "Rate limit"}, {"Retry-After": "1", "X-RateLimit-Remaining-Tokens": "0"}))
    started = time.monotonic()
    vectors = make().embed(TEXTS[:3], "nl2code.passage")
    assert time.monotonic() - started >= 1.0
    assert list(server.status_counts().items()) == [(429, 1), (200, 1)]
    assert np.array_equal(vectors, expected(TEXTS[:3], "nl2code.passage"))


@pytest.mark.parametrize("status", [500, 503, 504])
def test_server_errors_are_retried(make, server, status):
    server.script(Reply(status), Reply(status))
    assert np.array_equal(make().embed(TEXTS[:3], "nl2code.passage"), expected(TEXTS[:3], "nl2code.passage"))
    assert server.status_counts() == {status: 2, 200: 1}


def test_dropped_connection_is_retried(make, server):
    server.script(Reply(drop=True))
    assert np.array_equal(make().embed(TEXTS[:3], "nl2code.passage"), expected(TEXTS[:3], "nl2code.passage"))
    assert server.status_counts() == {0: 1, 200: 1}


def test_timeout_is_retried(make, server):
    server.latency = 0.5
    embedder = make(timeout=0.2, max_retries=1)
    assert "gave up after 1 retry (last: timed out)" in failure(embedder)
    assert len(server.requests) == 2


def test_gives_up_after_the_retry_budget(make, server):
    server.fail_after(0, Reply(503))
    message = failure(make(max_retries=2))
    assert message == f"Jina API at {server.url}: gave up after 2 retries (last: 503 Service Unavailable)"
    assert len(server.requests) == 3


def test_unreachable_api_gives_up_cleanly(make):
    embedder = make(base_url="http://127.0.0.1:9/v1", max_retries=1)
    assert "gave up after 1 retry (last: connection failed" in failure(embedder)


def test_wait_longer_than_five_minutes_is_reported_not_slept(make, server):
    server.script(Reply(429, headers={"Retry-After": "3600"}))
    assert "asks to wait 3600 s" in failure(make())


def _drop_last_item(body: dict) -> dict:
    return {**body, "data": body["data"][:-1]}


def _short_vectors(body: dict) -> dict:
    cut = [{**item, "embedding": base64.b64encode(base64.b64decode(item["embedding"])[:-4]).decode()} for item in body["data"]]
    return {**body, "data": cut}


def _repeated_index(body: dict) -> dict:
    return {**body, "data": [{**item, "index": 0} for item in body["data"]]}


def _nan_vector(body: dict) -> dict:
    nan = base64.b64encode(np.full(1536, np.nan, dtype="<f4").tobytes()).decode()
    return {**body, "data": [{**body["data"][0], "embedding": nan}, *body["data"][1:]]}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(edit=_drop_last_item), "expected 3 embeddings, got 2"),
        (Reply(edit=_short_vectors), "expected 1536 dimensions, got 1535"),
        (Reply(edit=_repeated_index), "bad or repeated index 0"),
        (Reply(edit=_nan_vector), "non-finite values"),
        (Reply(200, b"<html>upstream error</html>"), "malformed response"),
        (Reply(200, {"object": "list"}), "malformed response"),
    ],
)
def test_malformed_response_is_an_error_not_a_vector(make, reply, reason, server):
    server.script(reply)
    message = failure(make())
    assert message.startswith("Jina API returned a malformed response") and reason in message


@pytest.mark.parametrize(
    ("model", "dims", "reason"),
    [
        ("jina-code-embeddings-1.5b", 64, "--dims 64 is out of range for jina-code-embeddings-1.5b: choose 128..1536"),
        ("jina-code-embeddings-1.5b", 2048, "choose 128..1536"),
        ("jina-code-embeddings-0.5b", 1024, "choose 64..896"),
        ("jina-code-embeddings-2b", None, "unknown Jina model 'jina-code-embeddings-2b'"),
    ],
)
def test_model_and_dims_are_validated_up_front(make, server, model, dims, reason):
    with pytest.raises(CodesearchError, match=reason):
        make(model=model, dims=dims)
    assert server.requests == []


@pytest.mark.parametrize(
    ("model", "dims"), [("jina-code-embeddings-0.5b", 64), ("jina-code-embeddings-0.5b", 896), ("jina-code-embeddings-1.5b", 128)]
)
def test_dims_within_range_are_sent(make, server, model, dims):
    embedder = make(model=model, dims=dims)
    assert embedder.embed(TEXTS[:1], "nl2code.passage").shape == (1, dims)
    assert server.requests[0].body["dimensions"] == dims
    assert embedder.signature == f"jina:{model}:{dims}:v1"


def test_missing_key_is_reported_before_any_request(make, server):
    with pytest.raises(CodesearchError, match="^JINA_API_KEY is not set"):
        make(api_key=None)
    assert server.requests == []


def test_key_stays_out_of_repr_and_signature(make):
    embedder = make()
    assert KEY not in repr(embedder) and KEY not in embedder.signature


def test_plan_batches_respects_count_and_token_caps():
    texts = ["a" * 30] * 10 + ["b" * 3000] + ["c" * 30] * 3  # 18 estimated tokens each, 1008 for "b"
    by_count = plan_batches(texts, max_inputs=4, max_tokens=80)
    assert [list(b) for b in by_count] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [10], [11, 12, 13]]
    by_tokens = plan_batches(texts, max_inputs=100, max_tokens=40)
    assert [list(b) for b in by_tokens] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10], [11, 12], [13]]


def test_requests_stay_within_batch_caps(make, server):
    embedder = make(batch_size=6, batch_tokens=200)
    embedder.embed(TEXTS, "nl2code.passage")
    bodies = [r.body for r in server.requests]
    assert sorted(t for b in bodies for t in b["input"]) == sorted(TEXTS)
    assert all(len(b["input"]) <= 6 and sum(estimate_tokens(t) for t in b["input"]) <= 200 for b in bodies)


def test_estimate_never_undercounts_the_service():
    for text in ["", "x", "é" * 50, "def f(x):\n    return x * 2\n" * 20, "漢字" * 30]:
        assert estimate_tokens(text) >= count_tokens(text)


def test_requests_in_flight_stay_within_the_bound(make, server):
    server.latency = 0.1
    make(max_concurrency=3, batch_size=2).embed(TEXTS[:24], "nl2code.passage")
    assert len(server.requests) == 12
    assert server.max_in_flight == 3


def test_concurrency_from_environment(make, server, monkeypatch):
    monkeypatch.setenv("CODESEARCH_JINA_CONCURRENCY", "2")
    server.latency = 0.1
    make(batch_size=2).embed(TEXTS[:12], "nl2code.passage")
    assert server.max_in_flight == 2


def test_bad_environment_knob_is_a_clear_error(make, monkeypatch):
    monkeypatch.setenv("CODESEARCH_JINA_BATCH_SIZE", "lots")
    with pytest.raises(CodesearchError, match="CODESEARCH_JINA_BATCH_SIZE must be a positive integer, got 'lots'"):
        make()


def test_low_remaining_tokens_bring_requests_in_flight_down_to_one(make, server):
    server.latency = 0.1
    low = Reply(edit=lambda body: body, headers={"X-RateLimit-Remaining-Tokens": "0"})
    embedder = make(max_concurrency=4, batch_size=1)
    server.script(*[low] * 4)
    embedder.embed(TEXTS[:4], "nl2code.passage")
    assert server.max_in_flight == 4
    server.max_in_flight = 0
    server.script(*[low] * 5)
    embedder.embed(TEXTS[:5], "nl2code.passage")
    assert server.max_in_flight == 1


def test_token_rate_limit_is_paced_without_losing_a_batch(monkeypatch):
    with JinaServer(api_key=KEY, tokens_per_minute=60_000, burst_seconds=0.2) as limited:
        embedder = JinaEmbedder(api_key=KEY, base_url=limited.url, batch_size=4, max_concurrency=4, backoff_base=0.05)
        vectors = embedder.embed(TEXTS[:24], "nl2code.passage")
        counts = limited.status_counts()
    assert np.array_equal(vectors, expected(TEXTS[:24], "nl2code.passage"))
    assert counts[200] == 6 and counts[429] >= 1


def test_tokens_used_sums_reported_usage(make, server):
    embedder = make(batch_size=5)
    embedder.embed(TEXTS[:12], "nl2code.passage")
    embedder.embed(TEXTS[:3], "nl2code.query")
    assert embedder.tokens_used == sum(count_tokens(t) for t in TEXTS[:12] + TEXTS[:3]) == server.tokens_served


def test_registry_builds_the_jina_embedder_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("JINA_API_KEY", KEY)
    monkeypatch.setenv("JINA_API_BASE", server.url)
    spec = default_spec(model="jina-code-embeddings-0.5b", dims=256)
    assert spec == EmbedderSpec("jina", "jina-code-embeddings-0.5b", 256)
    embedder = create_embedder(spec)
    assert isinstance(embedder, JinaEmbedder)
    assert embedder.embed(TEXTS[:2], "nl2code.passage").shape == (2, 256)
    assert embedder.signature == "jina:jina-code-embeddings-0.5b:256:v1"
