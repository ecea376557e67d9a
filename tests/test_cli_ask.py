"""`codesearch ask` through the real CLI: output shapes, filters, modes, tasks, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from codesearch.searcher import Searcher
from conftest import ask_json

RESULT_KEYS = {"path", "start_line", "end_line", "symbol", "kind", "language", "score", "text"}


def test_json_has_exact_shape(indexed: Path, cli) -> None:
    answer = ask_json(cli, "parse json", "--index", indexed)
    assert set(answer) == {"query", "task", "mode", "results"}
    assert answer["results"] and all(set(hit) == RESULT_KEYS for hit in answer["results"])


def test_best_hit_is_the_function_asked_for(indexed: Path, cli) -> None:
    top = ask_json(cli, "parse a json document", "--index", indexed)["results"][0]
    assert (top["path"], top["symbol"], top["start_line"], top["end_line"]) == ("src/jsonutil.py", "parse_json", 5, 7)


def test_lines_are_one_based_and_match_text(indexed: Path, cli) -> None:
    for hit in ask_json(cli, "fibonacci", "--index", indexed)["results"]:
        lines = (indexed / hit["path"]).read_text().splitlines()
        assert hit["start_line"] >= 1
        assert lines[hit["start_line"] - 1].strip() in hit["text"]


def test_k_limits_results(indexed: Path, cli) -> None:
    assert len(ask_json(cli, "json", "--index", indexed, "-k", "2")["results"]) == 2


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_finds_the_function(indexed: Path, cli, mode: str) -> None:
    answer = ask_json(cli, "fibonacci number", "--index", indexed, "--mode", mode)
    assert answer["mode"] == mode
    assert answer["results"][0]["symbol"] == "fibonacci"


def test_natural_language_uses_nl2code(indexed: Path, cli) -> None:
    assert ask_json(cli, "how to parse json", "--index", indexed)["task"] == "nl2code.query"


def test_code_query_uses_code2code(indexed: Path, cli) -> None:
    assert ask_json(cli, "def load(self, path):\n    return json.loads(path)", "--index", indexed)["task"] == "code2code.query"


def test_task_can_be_forced(indexed: Path, cli) -> None:
    assert ask_json(cli, "parse json", "--index", indexed, "--task", "qa")["task"] == "qa.query"


def test_lang_filter(indexed: Path, cli) -> None:
    results = ask_json(cli, "function", "--index", indexed, "--lang", "go", "-k", "50")["results"]
    assert results and {hit["language"] for hit in results} == {"go"}


def test_path_glob_filter(indexed: Path, cli) -> None:
    results = ask_json(cli, "json", "--index", indexed, "--path", "web/*", "-k", "50")["results"]
    assert {hit["path"] for hit in results} <= {"web/debounce.js"}


def test_index_found_by_walking_up(indexed: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(indexed / "src")
    assert ask_json(cli, "fibonacci")["results"][0]["symbol"] == "fibonacci"


def test_index_from_environment(indexed: Path, cli, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODESEARCH_INDEX", str(indexed / ".codesearch"))
    assert ask_json(cli, "debounce")["results"][0]["path"] == "web/debounce.js"


def test_batch_prints_one_object_per_line_in_order(indexed: Path, cli, tmp_path: Path) -> None:
    queries = tmp_path / "queries.txt"
    queries.write_text("fibonacci\ndebounce calls\nparse json\n")
    result = cli("ask", "--batch", queries, "--index", indexed, "-k", "3")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["query"] for a in answers] == ["fibonacci", "debounce calls", "parse json"]
    assert all(set(a) == {"query", "task", "mode", "results"} for a in answers)


def test_batch_reads_stdin(indexed: Path, cli) -> None:
    result = cli("ask", "--batch", "-", "--index", indexed, input="fibonacci\nis prime\n")
    assert [json.loads(line)["query"] for line in result.stdout.splitlines()] == ["fibonacci", "is prime"]


def test_batch_blank_line_answers_with_error(indexed: Path, cli) -> None:
    result = cli("ask", "--batch", "-", "--index", indexed, input="fibonacci\n\n")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert "error" in answers[1]


def test_human_output_shows_path_lines_and_symbol(indexed: Path, cli) -> None:
    result = cli("ask", "fibonacci", "--index", indexed, "-k", "1")
    assert result.exit_code == 0
    assert "src/mathutil.py:1-6" in result.stdout
    assert "fibonacci" in result.stdout


def test_rebuilds_missing_faiss_file(indexed: Path, cli) -> None:
    (indexed / ".codesearch/vectors.faiss").unlink()
    assert ask_json(cli, "fibonacci", "--index", indexed, "--mode", "dense")["results"][0]["symbol"] == "fibonacci"
    assert (indexed / ".codesearch/vectors.faiss").is_file()


def test_rebuilds_corrupt_faiss_file(indexed: Path, cli) -> None:
    path = indexed / ".codesearch/vectors.faiss"
    path.write_bytes(path.read_bytes()[:-10])
    assert ask_json(cli, "fibonacci", "--index", indexed, "--mode", "dense")["results"][0]["symbol"] == "fibonacci"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("",), "empty query"),
        (("   ",), "empty query"),
        (("json", "--lang", "klingon"), "unknown language"),
        (("json", "--mode", "fuzzy"), "unknown mode"),
        (("json", "--task", "poetry"), "unknown task"),
    ],
)
def test_bad_arguments_are_one_line_errors(indexed: Path, cli, args: tuple, message: str) -> None:
    result = cli("ask", *args, "--index", indexed)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_index_says_to_run_index(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CODESEARCH_INDEX", raising=False)
    result = cli("ask", "json")
    assert result.exit_code == 2
    assert "codesearch index" in result.stderr


def test_corrupt_database_is_one_line_error(indexed: Path, cli) -> None:
    db = indexed / ".codesearch/index.db"
    for extra in ("index.db-wal", "index.db-shm"):
        (indexed / ".codesearch" / extra).unlink(missing_ok=True)
    db.write_bytes(b"garbage" * 1000)
    result = cli("ask", "json", "--index", indexed)
    assert result.exit_code == 2
    assert "--full" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "recorded",
    [{"signature": "static:hash-subtokens:384:v0"}, {"model": "codesearch-static-v1", "signature": "static:codesearch-static-v1:256:v2"}],
    ids=["older embedder version", "earlier built-in model"],
)
def test_index_from_another_embedder_version_says_how_to_rebuild(indexed: Path, cli, recorded: dict) -> None:
    db = sqlite3.connect(indexed / ".codesearch/index.db")
    saved = json.loads(db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()[0])
    saved.update(recorded)
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'embedder'", (json.dumps(saved),))
    db.close()
    result = cli("ask", "json", "--index", indexed, "--mode", "dense")
    assert result.exit_code == 2
    assert "codesearch index --full" in result.stderr


def test_open_searcher_sees_later_index_changes(indexed: Path, cli) -> None:
    with Searcher(indexed) as searcher:
        searcher.search("fibonacci")
        (indexed / "src/strings.py").write_text("def reverse_words(sentence):\n    return sentence[::-1]\n")
        assert cli("index", indexed, "--quiet").exit_code == 0
        top = searcher.search("reverse words", mode="dense").hits[0]
    assert top.symbol == "reverse_words"


def test_open_searcher_follows_a_rebuild_with_another_embedder(indexed: Path, cli) -> None:
    from codesearch.searcher import Searcher

    with Searcher(indexed) as searcher:
        searcher.search("parse json")
        assert cli("index", indexed, "--full", "--dims", "64", "-q").exit_code == 0
        hits = searcher.search("parse json", mode="dense").hits
        assert searcher.embedder.dimensions == 64
        assert hits and hits[0].symbol == "parse_json"
