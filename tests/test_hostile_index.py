"""An index that comes with a repository is untrusted input (issue #21): codesearch never writes
through links in its index directory, never trusts a database it did not build where it lies
(its root, embedder and code), and never lets a vector file decide what it allocates."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import faiss
import numpy as np
import pytest
from conftest import ask_json, write_repo
from test_mcp import served

from codesearch import vectors as vectors_module
from codesearch.vectors import VectorIndex

BASHRC = "export PATH=$HOME/bin:$PATH\n"
SECRET = "def fetch_leaked_token():\n    return 'hunter2 secret token'\n"
SECRET_PATH = ".config/app/token.py"
OLD_MAGIC = b"CODESEARCH-FAISS-2\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the repository standing in for ~/.bashrc."""
    path = tmp_path / "home/.bashrc"
    path.parent.mkdir()
    path.write_text(BASHRC)
    return path


@pytest.fixture
def committed(tmp_path: Path, repo: Path, cli) -> Path:
    """`repo` carrying a .codesearch it did not build: the index of a directory standing in for
    the user's home, secret included, copied in as a clone of a repository holding one would be."""
    home = write_repo(tmp_path / "home", {SECRET_PATH: SECRET})
    assert cli("index", home, "--quiet").exit_code == 0
    shutil.copytree(home / ".codesearch", repo / ".codesearch")
    return repo


def one_line_error(result) -> str:
    """The message of a CLI run that failed with one line and exit status 2."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("codesearch: error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def meta(index_dir: Path, key: str) -> str:
    with sqlite3.connect(index_dir / "index.db") as db:
        return db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]


def old_vector_file(index_dir: Path, payload: bytes) -> None:
    """Write a vector file as codesearch wrote them before issue #21, current for the store and
    with a valid digest: magic, generation, kind 0 (exact), sizes, a FAISS payload, its BLAKE2."""
    header = struct.pack("<qqqq", int(meta(index_dir, "generation")), 0, len(payload), 0)
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    (index_dir / "vectors.faiss").write_bytes(OLD_MAGIC + header + payload + digest)


def faiss_payload_claiming(dims: int, floats: int) -> bytes:
    """A FAISS exact index of one vector, serialised, whose vector array claims `floats` floats:
    FAISS allocates what the length says before it finds the bytes missing."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dims))
    index.add_with_ids(np.ones((1, dims), dtype=np.float32), np.zeros(1, dtype=np.int64))
    payload = bytearray(faiss.serialize_index(index).tobytes())
    length_at = 2 * (4 + 33)  # two headers (IDMap2, Flat): fourcc, d, ntotal, two dummies, is_trained, metric
    assert struct.unpack_from("<Q", payload, length_at)[0] == dims
    struct.pack_into("<Q", payload, length_at, floats)
    return bytes(payload)


def peak_rss_mib(*args: str | Path) -> tuple[int, int, str]:
    """(exit status, peak resident MiB, stderr) of `codesearch ARGS...` in a process of its own."""
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "codesearch", *map(str, args)], stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return process.returncode, usage.ru_maxrss // 1024, err.read().decode()


# --- links in the index directory ---------------------------------------------------------


def test_index_never_writes_through_a_linked_lock_file(repo: Path, victim: Path, cli) -> None:
    (repo / ".codesearch").mkdir()
    (repo / ".codesearch/writer.lock").symlink_to(victim)
    assert cli("index", repo, "--quiet").exit_code == 0
    assert victim.read_text() == BASHRC


def test_ask_rebuilding_the_vector_file_never_writes_through_a_linked_lock(indexed: Path, victim: Path, cli) -> None:
    index_dir = indexed / ".codesearch"
    (index_dir / "vectors.faiss").unlink()
    (index_dir / "writer.lock").unlink()
    (index_dir / "writer.lock").symlink_to(victim)
    message = one_line_error(cli("ask", "parse json", "--index", indexed))
    assert "writer.lock" in message and "codesearch index --full" in message
    assert victim.read_text() == BASHRC


@pytest.mark.parametrize("link", [Path.symlink_to, Path.hardlink_to], ids=["symlink", "hardlink"])
def test_an_index_database_linked_to_another_database_leaves_it_alone(repo: Path, tmp_path: Path, cli, link) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    before = other.read_bytes()
    (repo / ".codesearch").mkdir()
    link(repo / ".codesearch/index.db", other)
    assert cli("index", repo, "--quiet").exit_code == 0
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("other")) == ["other.db"]


def test_an_index_directory_linked_elsewhere_is_refused(repo: Path, tmp_path: Path, cli) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / ".codesearch").symlink_to(elsewhere)
    assert "is a symbolic link" in one_line_error(cli("index", repo, "--quiet"))
    assert list(elsewhere.iterdir()) == []


def test_no_setting_is_read_through_a_linked_index_directory(repo: Path, tmp_path: Path, cli) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.toml").write_text('ignore = ["src/"]\n')
    (repo / ".codesearch").symlink_to(elsewhere)
    assert "is a symbolic link" in one_line_error(cli("config", repo))


def test_a_dangling_ignore_file_link_is_not_followed(repo: Path, tmp_path: Path, cli) -> None:
    (repo / ".codesearch").mkdir()
    (repo / ".codesearch/.gitignore").symlink_to(tmp_path / "made-by-codesearch")
    assert cli("index", repo, "--quiet").exit_code == 0
    assert not (tmp_path / "made-by-codesearch").exists()
    assert (repo / ".codesearch/.gitignore").read_text() == "*\n"


def test_status_counts_no_file_outside_the_index_directory(indexed: Path, tmp_path: Path, cli) -> None:
    outside = tmp_path / "large.bin"
    outside.write_bytes(b"\0" * (8 << 20))
    (indexed / ".codesearch/notes").symlink_to(outside)
    result = cli("status", "--index", indexed, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bytes_on_disk"] < 8 << 20


@pytest.mark.skipif(os.getuid() != 0, reason="giving a directory to another user needs root")
def test_an_index_directory_of_another_user_is_refused(indexed: Path, cli) -> None:
    os.chown(indexed / ".codesearch", 4242, -1)
    assert "belongs to another user (uid 4242)" in one_line_error(cli("ask", "parse json", "--index", indexed))


# --- an index built elsewhere -------------------------------------------------------------


@pytest.mark.parametrize("command", [("ask", "leaked token", "--context", "2"), ("similar", SECRET_PATH), ("status",)], ids=lambda c: c[0])
def test_readers_refuse_an_index_that_came_with_the_repository(committed: Path, cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--index", committed)
    assert "was not built here" in one_line_error(result) and "codesearch index --full" in result.stderr
    assert "hunter2" not in result.stdout


def test_index_rebuilds_an_index_that_came_with_the_repository_from_the_files(committed: Path, cli) -> None:
    assert cli("index", committed, "--quiet").exit_code == 0
    paths = [hit["path"] for hit in ask_json(cli, "fetch leaked token", "--index", committed)["results"]]
    assert paths and SECRET_PATH not in paths
    assert meta(committed / ".codesearch", "root") == str(committed)


def test_mcp_reindex_syncs_the_served_root_not_the_one_a_committed_index_names(committed: Path) -> None:
    with served(committed) as client:
        assert client.answer("reindex")["root"] == str(committed)
        hits = client.answer("search", query="fetch leaked token", k=20)["results"]
    assert hits and all(hit["path"] != SECRET_PATH and "hunter2" not in hit["code"] for hit in hits)


def test_an_index_from_before_identities_is_refused_until_index_rebuilds_it(indexed: Path, cli) -> None:
    with sqlite3.connect(indexed / ".codesearch/index.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'index_identity'")
    assert "was not built here" in one_line_error(cli("ask", "parse json", "--index", indexed))
    assert cli("index", indexed, "--quiet").exit_code == 0
    assert ask_json(cli, "parse a json document", "--index", indexed)["results"][0]["symbol"] == "parse_json"


# --- a crafted vector file ----------------------------------------------------------------


def test_a_vector_file_faiss_cannot_parse_is_rebuilt_with_a_notice(indexed: Path, cli) -> None:
    old_vector_file(indexed / ".codesearch", b"\x00" * 1200)
    result = cli("ask", "fibonacci", "--index", indexed, "--mode", "dense")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("codesearch: notice: the vector file") and "rebuilt it" in result.stderr


def test_a_vector_file_claiming_gigabytes_allocates_nothing_of_the_kind(indexed: Path) -> None:
    dims = int(meta(indexed / ".codesearch", "dims"))
    old_vector_file(indexed / ".codesearch", faiss_payload_claiming(dims, 530_000_000))
    status, peak, stderr = peak_rss_mib("ask", "fibonacci", "--index", indexed, "--mode", "dense")
    assert status == 0 and "Traceback" not in stderr, stderr
    assert peak < 1024, f"peak resident memory {peak} MiB"


def test_a_header_claiming_more_vectors_than_the_file_holds_is_stale(tmp_path: Path) -> None:
    index = VectorIndex(8)
    index.add(np.arange(10), np.eye(10, 8, dtype=np.float32))
    path = tmp_path / "v.faiss"
    index.save(path, generation=1)
    data = bytearray(path.read_bytes()[: -vectors_module._DIGEST_BYTES])
    struct.pack_into("<q", data, len(vectors_module._MAGIC) + 24, 1 << 40)
    path.write_bytes(bytes(data) + vectors_module._digest(data))
    assert VectorIndex.load(path, 1, 8, largest_id=1 << 40) is None


def test_a_vector_file_larger_than_the_store_allows_is_stale(tmp_path: Path) -> None:
    index = VectorIndex(8)
    index.add(np.arange(2000), np.ones((2000, 8), dtype=np.float32))
    index.save(tmp_path / "v.faiss", generation=1)
    assert VectorIndex.load(tmp_path / "v.faiss", 1, 8, largest_id=10) is None
    assert VectorIndex.load(tmp_path / "v.faiss", 1, 8, largest_id=2000) is not None

