"""The real CLI with the jina embedder, talking HTTP to the local stand-in for the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from conftest import ask_json
from jina_server import JinaServer, Reply

from codesearch.tasks import PASSAGE_TASK

KEY = "jina_cli_SECRET_42"
CODE_QUERY = "def load(self, path):\n    with open(path) as handle:\n        return parse_json(handle.read())"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[JinaServer]:
    """The API stand-in, with the environment pointing the CLI at it and nothing else leaking in."""
    for name in ("CODESEARCH_INDEX", *(f"CODESEARCH_JINA_{knob}" for knob in ("CONCURRENCY", "BATCH_SIZE", "RETRIES"))):
        monkeypatch.delenv(name, raising=False)
    with JinaServer(api_key=KEY) as srv:
        monkeypatch.setenv("JINA_API_KEY", KEY)
        monkeypatch.setenv("JINA_API_BASE", srv.url)
        yield srv


def index_json(cli, *args: object) -> dict:
    result = cli("index", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def status_json(cli, index: Path) -> dict:
    result = cli("status", "--json", "--index", index)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_embeds_every_chunk_as_a_passage(repo: Path, cli, server: JinaServer) -> None:
    report = index_json(cli, repo)
    assert report["embedder"] == "jina:jina-code-embeddings-1.5b:1536:v1"
    assert {r.body["task"] for r in server.requests} == {PASSAGE_TASK}
    assert len(server.inputs(PASSAGE_TASK)) == report["embedded"] == report["chunks"] > 5


@pytest.mark.parametrize(
    ("args", "task"),
    [
        (["parse json configuration"], "nl2code.query"),
        ([CODE_QUERY], "code2code.query"),
        (["how do I read settings from disk?", "--task", "qa"], "qa.query"),
    ],
)
def test_ask_sends_the_query_with_its_task(repo: Path, cli, server: JinaServer, args: list[str], task: str) -> None:
    index_json(cli, repo)
    answer = ask_json(cli, *args, "--index", repo)
    assert answer["task"] == task
    assert server.requests[-1].body["task"] == task
    assert server.requests[-1].body["input"] == [args[0]]


def test_tokens_are_reported_by_index_and_totalled_by_status(repo: Path, cli, server: JinaServer) -> None:
    first = index_json(cli, repo)
    (repo / "src/extra.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    second = index_json(cli, repo)
    assert first["tokens"] > 0 and second["tokens"] > 0
    assert status_json(cli, repo)["tokens_used"] == first["tokens"] + second["tokens"] == server.tokens_served


def test_missing_key_fails_before_any_request(repo: Path, cli, server: JinaServer, monkeypatch) -> None:
    monkeypatch.delenv("JINA_API_KEY")
    result = cli("index", repo, "--embedder", "jina")
    assert result.exit_code == 2
    assert result.stderr.startswith("codesearch: error: JINA_API_KEY is not set") and result.stderr.count("\n") == 1
    assert server.requests == []


def test_rejected_key_is_one_line_without_the_key(repo: Path, cli, server: JinaServer, monkeypatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", "jina_wrong_SECRET")
    result = cli("index", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("codesearch: error: Jina API rejected the key (401") and result.stderr.count("\n") == 1
    assert "jina_wrong_SECRET" not in result.output


def write_big_repo(root: Path, files: int) -> Path:
    """Enough files for several indexer batches, every chunk text distinct."""
    for i in range(files):
        target = root / f"pkg{i % 7}" / f"module_{i}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            f"def scale_{i}(values):\n    return [v * {i} for v in values]\n\n\n"
            f"def label_{i}(name):\n    return f'{{name}}-{i}'\n"
        )
    return root


def test_outage_mid_index_loses_nothing_and_resumes(tmp_path: Path, cli, server: JinaServer, monkeypatch) -> None:
    repo = write_big_repo(tmp_path / "big", 700)
    oracle = index_json(cli, repo, "--index", tmp_path / "uninterrupted")["chunks"]
    answered = server.inputs()
    every_text = set(answered)
    monkeypatch.setenv("CODESEARCH_JINA_BATCH_SIZE", "40")
    monkeypatch.setenv("CODESEARCH_JINA_CONCURRENCY", "1")
    monkeypatch.setenv("CODESEARCH_JINA_RETRIES", "1")
    server.fail_after(20, Reply(503))

    failed = cli("index", repo)
    assert failed.exit_code == 2
    gave_up = "gave up after 1 retry (last: 503 Service Unavailable)"
    assert failed.stderr == f"codesearch: error: Jina API at {server.url}: {gave_up}\n"
    kept = status_json(cli, repo)["chunks"]
    assert 0 < kept < oracle
    served = set(server.inputs()[len(answered):])

    server.recover()
    before = len(server.requests)
    resumed = index_json(cli, repo)
    resent = [text for r in server.requests[before:] for text in r.body["input"]]
    assert len(resent) == len(set(resent)) == resumed["embedded"]
    assert set(resent) == every_text - served
    assert resumed["embedded"] + resumed["reused"] == oracle - kept
    assert resumed["chunks"] == oracle
    assert status_json(cli, repo)["chunks"] == oracle


def test_outage_costs_at_most_the_requests_in_flight(tmp_path: Path, cli, server: JinaServer, monkeypatch) -> None:
    """Each answer is stored as it arrives: the next run asks again only for what was in flight
    when the API went down, not for the whole slice it was part of."""
    repo = write_big_repo(tmp_path / "big", 150)
    batch, concurrency = 8, 2
    monkeypatch.setenv("CODESEARCH_JINA_BATCH_SIZE", str(batch))
    monkeypatch.setenv("CODESEARCH_JINA_CONCURRENCY", str(concurrency))
    monkeypatch.setenv("CODESEARCH_JINA_RETRIES", "1")
    server.fail_after(25, Reply(503))
    assert cli("index", repo).exit_code != 0
    served = set(server.inputs())
    assert len(served) == 25 * batch

    server.recover()
    before = len(server.requests)
    index_json(cli, repo)
    asked_again = {text for r in server.requests[before:] if r.status == 200 for text in r.body["input"]}
    assert len(asked_again & served) <= concurrency * batch


def test_failed_first_index_leaves_no_index(repo: Path, cli, server: JinaServer, monkeypatch) -> None:
    monkeypatch.delenv("JINA_API_KEY")
    monkeypatch.chdir(repo)
    failed = cli("index", ".", "--embedder", "jina")
    assert failed.exit_code != 0 and failed.stderr.count("\n") == 1
    assert not (repo / ".codesearch").exists()
    for command in (["ask", "parse json"], ["status"]):
        result = cli(*command)
        assert result.exit_code != 0
        assert result.stderr.startswith("codesearch: error: no index found here") and "Traceback" not in result.output


def test_first_index_failing_at_the_api_is_completed_by_the_next(repo: Path, cli, server: JinaServer, monkeypatch) -> None:
    monkeypatch.setenv("CODESEARCH_JINA_RETRIES", "1")
    server.fail_after(0, Reply(503))
    assert cli("index", repo).exit_code != 0
    assert status_json(cli, repo)["embedder"] == "jina:jina-code-embeddings-1.5b:1536:v1"

    server.recover()
    report = index_json(cli, repo)
    assert report["chunks"] == report["embedded"] > 5
    assert ask_json(cli, "parse json configuration", "--index", repo)["results"]
