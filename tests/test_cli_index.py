"""`codesearch index` through the real CLI: creation, incremental sync, errors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from codesearch.embedders.static import MODEL_NAME
from codesearch import store as store_module
from codesearch.store import DB_NAME, Store
from codesearch.vectors import VECTORS_NAME
from conftest import ask_json
from invariants import check_invariants


def index_json(cli, *args) -> dict:
    result = cli("index", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_first_index_embeds_every_chunk(repo: Path, cli) -> None:
    report = index_json(cli, repo)
    assert report["files"] == 5
    assert report["chunks"] > 5
    assert report["embedded"] == report["chunks_written"] == report["chunks"]


def test_index_dir_is_private_and_git_ignored(indexed: Path) -> None:
    index_dir = indexed / ".codesearch"
    assert (index_dir / ".gitignore").read_text() == "*\n"
    assert stat.S_IMODE(index_dir.stat().st_mode) == 0o700


def test_ignored_files_stay_out(indexed: Path, cli) -> None:
    paths = {hit["path"] for hit in ask_json(cli, "generated helper", "--index", indexed, "-k", "50")["results"]}
    assert "build/generated.py" not in paths


def test_unchanged_tree_embeds_nothing(indexed: Path, cli) -> None:
    report = index_json(cli, indexed)
    assert (report["files_changed"], report["embedded"], report["chunks_written"]) == (0, 0, 0)


def test_unchanged_tree_leaves_the_vector_file_as_it_was(indexed: Path, cli) -> None:
    vector_file = indexed / ".codesearch" / VECTORS_NAME
    before = vector_file.stat()
    index_json(cli, indexed)
    after = vector_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    check_invariants(indexed / ".codesearch", root=indexed)


def test_touched_but_unchanged_file_embeds_nothing(indexed: Path, cli) -> None:
    os.utime(indexed / "src/mathutil.py", ns=(1, 1))
    report = index_json(cli, indexed)
    assert report["files_changed"] == 1
    assert report["embedded"] == 0


def test_added_file_is_searchable(indexed: Path, cli) -> None:
    (indexed / "src/strings.py").write_text("def reverse_words(sentence):\n    return ' '.join(reversed(sentence.split()))\n")
    report = index_json(cli, indexed)
    assert report["embedded"] == 1
    top = ask_json(cli, "reverse words", "--index", indexed)["results"][0]
    assert (top["path"], top["symbol"]) == ("src/strings.py", "reverse_words")


def test_modified_file_replaces_its_chunks(indexed: Path, cli) -> None:
    target = indexed / "src/mathutil.py"
    target.write_text(target.read_text().replace("def is_prime(number):", "def is_odd_prime(number):"))
    index_json(cli, indexed)
    symbols = {hit["symbol"] for hit in ask_json(cli, "prime", "--index", indexed, "-k", "50")["results"]}
    assert "is_odd_prime" in symbols
    assert "is_prime" not in symbols


def test_changed_and_deleted_files_leave_no_lexical_terms_behind(indexed: Path, cli) -> None:
    target = indexed / "src/mathutil.py"
    target.write_text(target.read_text().replace("def is_prime(number):", "def zanzibar_prime(number):"))
    index_json(cli, indexed)
    target.write_text(target.read_text().replace("zanzibar_prime", "is_prime"))
    (indexed / "web/debounce.js").unlink()
    index_json(cli, indexed)
    assert ask_json(cli, "zanzibar", "--index", indexed, "--mode", "lexical")["results"] == []
    check_invariants(indexed / ".codesearch", root=indexed)


def unused_vectors(root: Path) -> int:
    with closing(sqlite3.connect(root / ".codesearch" / DB_NAME)) as db:
        return db.execute("SELECT COUNT(*) FROM vectors WHERE key NOT IN (SELECT vector_key FROM chunks)").fetchone()[0]


def test_a_reverted_edit_embeds_nothing(indexed: Path, cli) -> None:
    target = indexed / "src/mathutil.py"
    original = target.read_text()
    target.write_text(original.replace("def is_prime(number):", "def is_odd_prime(number):"))
    assert index_json(cli, indexed)["embedded"] == 1
    target.write_text(original)
    assert index_json(cli, indexed)["embedded"] == 0
    check_invariants(indexed / ".codesearch", root=indexed)


def test_a_deleted_and_restored_file_embeds_nothing(indexed: Path, cli) -> None:
    target = indexed / "web/debounce.js"
    original = target.read_text()
    target.unlink()
    assert index_json(cli, indexed)["files_deleted"] == 1
    target.write_text(original)
    assert index_json(cli, indexed)["embedded"] == 0


def test_unused_vectors_beyond_the_budget_are_dropped_oldest_first(indexed: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "ORPHAN_MIN", 1)
    monkeypatch.setattr(store_module, "ORPHAN_SHARE", 0.0)
    target = indexed / "src/mathutil.py"
    target.write_text(target.read_text().replace("def is_prime(number):", "def is_odd_prime(number):"))
    (indexed / "web/debounce.js").unlink()
    index_json(cli, indexed)
    assert unused_vectors(indexed) == 1
    check_invariants(indexed / ".codesearch", root=indexed)


def test_vectors_stored_ahead_of_their_chunks_are_dropped_by_the_next_full_sync(
    indexed: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an API run interrupted between its vector and chunk transactions leaves behind,
    beyond what the store keeps for reverts (here nothing)."""
    monkeypatch.setattr(store_module, "ORPHAN_MIN", 0)
    monkeypatch.setattr(store_module, "ORPHAN_SHARE", 0.0)
    store = Store.open(indexed / ".codesearch")
    with store.transaction():
        store.put_vectors(["no-such-chunk"], np.ones((1, 256), dtype=np.float32), "any")
    store.close()
    assert index_json(cli, indexed)["files_changed"] == 0
    with closing(sqlite3.connect(indexed / ".codesearch" / DB_NAME)) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors WHERE key = 'no-such-chunk'").fetchone()[0] == 0
    check_invariants(indexed / ".codesearch", root=indexed)


def test_deleted_file_leaves_the_index(indexed: Path, cli) -> None:
    (indexed / "web/debounce.js").unlink()
    report = index_json(cli, indexed)
    assert report["files_deleted"] == 1
    paths = {hit["path"] for hit in ask_json(cli, "debounce", "--index", indexed, "-k", "50")["results"]}
    assert "web/debounce.js" not in paths


def test_renamed_file_reembeds_nothing(indexed: Path, cli) -> None:
    shutil.move(indexed / "src/mathutil.py", indexed / "src/numbers.py")
    report = index_json(cli, indexed)
    assert report["embedded"] == 0
    assert report["reused"] > 0
    top = ask_json(cli, "fibonacci", "--index", indexed)["results"][0]
    assert top["path"] == "src/numbers.py"


def test_full_rebuild_embeds_everything_again(indexed: Path, cli) -> None:
    report = index_json(cli, indexed, "--full")
    assert report["embedded"] == report["chunks"] > 0


def test_other_embedder_is_refused(indexed: Path, cli) -> None:
    result = cli("index", indexed, "--dims", "128")
    assert result.exit_code == 2
    assert "--full" in result.stderr
    assert "Traceback" not in result.output


def test_full_switches_embedder(indexed: Path, cli) -> None:
    report = index_json(cli, indexed, "--full", "--dims", "128")
    assert report["embedder"] == f"static:{MODEL_NAME}:128:v2"


def test_missing_path_is_one_line_error(tmp_path: Path, cli) -> None:
    result = cli("index", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not found" in result.stderr


def test_unknown_embedder_is_one_line_error(repo: Path, cli) -> None:
    result = cli("index", repo, "--embedder", "magic")
    assert result.exit_code == 2
    assert "unknown embedder" in result.stderr


def test_summary_reports_counts(repo: Path, cli) -> None:
    result = cli("index", repo)
    assert result.exit_code == 0
    assert "indexed 5 files" in result.stderr
    assert "embedded now" in result.stderr


def test_index_honours_env_index_dir(repo: Path, tmp_path: Path, cli, monkeypatch) -> None:
    elsewhere = tmp_path / "idx"
    monkeypatch.setenv("CODESEARCH_INDEX", str(elsewhere))
    index_json(cli, repo)
    assert (elsewhere / "index.db").is_file()
    assert not (repo / ".codesearch").exists()


def test_option_for_another_embedder_is_one_line_error(repo: Path, cli) -> None:
    result = cli("index", repo, "--device", "cpu")
    assert result.exit_code == 2
    assert "--device does not apply to the static embedder" in result.stderr
