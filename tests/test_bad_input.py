"""Hostile input: every nasty file is indexed with the right line numbers or skipped with a counted reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ask_json
from nasty_files import LOCKOUT_PREFIX, Nasty, unlock_tree, write_nasty_tree

from codesearch.indexer import Progress, SyncReport, sync
from codesearch.locate import INDEX_DIR_NAME
from codesearch.render import sync_summary
from codesearch.store import Store

LOCKOUT_REASON = "running as root without setpriv: chmod 000 cannot lock this process out"


def clean_env() -> dict[str, str]:
    """The environment without anything that would pick another index or embedder."""
    return {k: v for k, v in os.environ.items() if k not in {"CODESEARCH_INDEX", "JINA_API_KEY"}}


def locked_out(root: Path, *args: str) -> dict:
    """`codesearch ARGS --json` run from `root` in a process that chmod 000 locks out."""
    command = [*(LOCKOUT_PREFIX or []), sys.executable, "-m", "codesearch", *args, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env(), cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Indexed:
    """The nasty tree after one `index --json`: its cases, the report and what the store holds."""

    def __init__(self, root: Path, cases: dict[str, Nasty], report: dict, status: dict) -> None:
        self.root, self.cases, self.report, self.status = root, cases, report, status
        store = Store.open(root / INDEX_DIR_NAME)
        try:
            self.paths = set(store.file_states())
        finally:
            store.close()


@pytest.fixture(scope="module")
def nasty(tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    root = tmp_path_factory.mktemp("nasty") / "repo"
    cases = write_nasty_tree(root, locked=LOCKOUT_PREFIX is not None)
    try:
        report = locked_out(root, "index", ".", "--embedder", "static")
        status = locked_out(root, "status")
    finally:
        unlock_tree(root)
    return Indexed(root, cases, report, status)


def test_every_skip_is_counted_by_reason(nasty: Indexed) -> None:
    expected = Counter(case.skip for case in nasty.cases.values() if case.skip)
    assert nasty.report["skipped"] == dict(expected)


def test_every_other_file_is_indexed(nasty: Indexed) -> None:
    # binary files are remembered (without chunks) so that they are not read again until they change
    expected = {path for path, case in nasty.cases.items() if case.skip in (None, "binary")}
    assert nasty.paths == expected
    assert nasty.report["files"] == len(expected)


def test_symbols_keep_their_lines_whatever_the_bytes(nasty: Indexed, cli) -> None:
    wrong = {}
    for path, case in nasty.cases.items():
        for symbol, lines in case.symbols.items():
            answer = ask_json(cli, symbol, "--mode", "lexical", "-k", "100", "--index", nasty.root)
            parts = [(h["start_line"], h["end_line"]) for h in answer["results"] if (h["path"], h["symbol"]) == (path, symbol)]
            found = (min(start for start, _ in parts), max(end for _, end in parts)) if parts else None
            if found != lines:
                wrong[path, symbol] = (found, lines)
    assert wrong == {}


def test_utf16_text_is_indexed_as_utf8(nasty: Indexed, cli) -> None:
    answer = ask_json(cli, "after_utf16_bom", "--mode", "lexical", "--index", nasty.root)
    texts = {h["path"]: h["text"] for h in answer["results"] if h["symbol"] == "after_utf16_bom"}
    assert texts == {f"encoding/bom_utf16_{order}.py": "def after_utf16_bom():\n    return 'h\u00e9'" for order in ("le", "be")}


def test_locked_file_and_directory_are_skipped_as_unreadable(nasty: Indexed) -> None:
    if LOCKOUT_PREFIX is None:
        pytest.skip(LOCKOUT_REASON)
    assert {"locked/secret.py", "locked_dir/inside.py"}.isdisjoint(nasty.paths)
    assert nasty.report["skipped"]["unreadable"] == 2


def test_status_after_indexing_counts_only_files_still_unreadable(nasty: Indexed) -> None:
    # chmod changes no mtime, so an unreadable file stays pending and is tried again each sync.
    unreadable = [path for path, case in nasty.cases.items() if case.skip == "unreadable" and path.endswith(".py")]
    assert nasty.status["changed_since"] == len(unreadable)


def test_text_output_survives_names_with_newlines_and_markup(nasty: Indexed, cli) -> None:
    result = cli("ask", "newline_name shell_name markup_name", "--mode", "lexical", "--index", nasty.root)
    assert result.exit_code == 0, result.output
    assert "[/]markup[bold].py" in result.stdout


def test_query_and_root_with_markup_print_as_text(nasty: Indexed, cli) -> None:
    result = cli("ask", "[/]", "--mode", "lexical", "--path", "[/]*", "--index", nasty.root)
    assert (result.exit_code, result.stdout, result.stderr.strip()) == (1, "", "codesearch: no results for '[/]'")


def test_bash_brace_before_non_ascii_never_crashes_the_process(tmp_path: Path) -> None:
    # tree-sitter-bash's scanner looks such code points up in a 256-entry table; whether the
    # read outside it faults depends on the memory layout, so four processes try.
    script = tmp_path / "braces.sh"
    script.write_text("".join(f"{{{chr(cp)}..1}}\n" for cp in range(0x100, 0x110000, 0x400) if not 0xD800 <= cp < 0xE000))
    code = "import sys; from codesearch.chunker import chunk_source; chunk_source('b.sh', 'bash', open(sys.argv[1], 'rb').read())"
    runs = [subprocess.Popen([sys.executable, "-c", code, str(script)]) for _ in range(4)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]


def test_summary_line_counts_each_skip_reason() -> None:
    report = SyncReport(root="r", index_dir="r/.codesearch", embedder="e", files=3, skipped={"binary": 2, "too large": 1})
    assert "3 skipped (binary 2, too large 1)" in sync_summary(report)


def test_single_line_file_under_the_minified_size_is_chunked_on_line_one(tmp_path: Path, cli) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "bundle.js").write_bytes(b"".join(b"function f%d(x){return x+%d}" % (i, i) for i in range(120)))
    result = cli("index", root, "--json", "--embedder", "static")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chunks"] > 1
    answer = ask_json(cli, "f119", "--mode", "lexical", "--index", root)
    assert [(h["symbol"], h["start_line"], h["end_line"]) for h in answer["results"][:1]] == [("f119", 1, 1)]


@pytest.mark.slow
def test_ten_megabyte_minified_file_is_skipped_as_minified_when_the_limit_allows(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_nasty_tree(root, locked=False)
    report = locked_out(root, "index", ".", "--embedder", "static", "--max-file-size", str(20 * 1024 * 1024))
    assert "too large" not in report["skipped"] and report["skipped"]["minified"] == 1
    store = Store.open(root / INDEX_DIR_NAME)
    try:
        assert "big/minified.js" not in store.file_states()
    finally:
        store.close()


# --- files that change or vanish between discovery and reading ------------------------------------


def sync_with_change(root: Path, change) -> SyncReport:
    """sync(root), running `change` once: after discovery, before any file is read."""
    changed = False

    def on_progress(progress: Progress) -> None:
        nonlocal changed
        if progress.files_total is not None and progress.files_done == 0 and not changed:
            changed = True
            change()

    report = sync(root, progress=on_progress)
    assert changed
    return report


def indexed_paths(root: Path) -> dict[str, str]:
    """path -> the text of its chunks, joined, as the store holds them."""
    store = Store.open(root / INDEX_DIR_NAME)
    try:
        rows = store.conn.execute(
            "SELECT files.path, group_concat(chunks.text, '\n') FROM files LEFT JOIN chunks ON chunks.file_id = files.id "
            "GROUP BY files.path"
        )
        return {path: text or "" for path, text in rows}
    finally:
        store.close()


@pytest.fixture
def small(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "keep.py").write_text("def keep():\n    return 1\n")
    (root / "target.py").write_text("def target():\n    return 2\n")
    return root


def test_file_deleted_after_discovery_is_skipped_as_vanished(small: Path) -> None:
    report = sync_with_change(small, (small / "target.py").unlink)
    assert report.skipped == {"vanished": 1}
    assert set(indexed_paths(small)) == {"keep.py"}


def test_file_rewritten_after_discovery_ends_up_indexed_as_it_is(small: Path) -> None:
    def rewrite() -> None:
        (small / "target.py").write_text("def rewritten_target(longer_name):\n    return longer_name\n")

    assert sync_with_change(small, rewrite).skipped == {}
    sync(small)
    assert "rewritten_target" in indexed_paths(small)["target.py"]


def test_file_turned_binary_after_discovery_loses_its_chunks(small: Path) -> None:
    sync(small)
    os.utime(small / "target.py", ns=(0, 0))
    report = sync_with_change(small, lambda: (small / "target.py").write_bytes(b"\0\1\2 binary now"))
    assert report.skipped == {"binary": 1}
    assert indexed_paths(small)["target.py"] == ""  # remembered without chunks, not read again until it changes


def test_file_swapped_for_a_fifo_after_discovery_is_skipped_not_waited_on(small: Path) -> None:
    fifo = small / "target.py"

    def swap() -> None:
        fifo.unlink()
        os.mkfifo(fifo)
        threading.Thread(target=feed_fifo, args=(fifo, time.monotonic() + 5), daemon=True).start()

    report = sync_with_change(small, swap)
    assert report.skipped == {"not a regular file": 1}
    assert set(indexed_paths(small)) == {"keep.py"}


def test_file_swapped_for_a_symlink_leaving_root_after_discovery_is_not_read(small: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.py"
    secret.parent.mkdir()
    secret.write_text("def outside_secret():\n    return 'password'\n")

    def swap() -> None:
        (small / "target.py").unlink()
        (small / "target.py").symlink_to(secret)

    report = sync_with_change(small, swap)
    assert report.skipped == {"symlink leaving root": 1}
    assert "outside_secret" not in "".join(indexed_paths(small).values())


def feed_fifo(fifo: Path, deadline: float) -> None:
    """Write into `fifo` as soon as someone opens it for reading (which would be the bug), until `deadline`."""
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.01)
            continue
        os.write(fd, b"def read_from_fifo():\n    return 1\n")
        os.close(fd)
        return


def test_files_churning_during_sync_never_break_it(small: Path) -> None:
    stop = threading.Event()
    churn = threading.Thread(target=churn_files, args=(small, stop), daemon=True)
    churn.start()
    try:
        reports = [sync(small) for _ in range(5)]
    finally:
        stop.set()
        churn.join()
    assert all(isinstance(report, SyncReport) for report in reports)
    sync(small)
    binary = {path.name: b"\0" in path.read_bytes() for path in small.glob("*.py")}
    indexed = indexed_paths(small)
    assert set(indexed) == set(binary)
    assert all(indexed[name] == "" for name, is_binary in binary.items() if is_binary)


def churn_files(root: Path, stop: threading.Event) -> None:
    """Create, grow, truncate, delete and turn binary a handful of files until `stop`."""
    step = 0
    while not stop.is_set():
        path = root / f"churn{step % 7}.py"
        action = step % 4
        if action == 0:
            path.write_text("".join(f"def churn_{step}_{i}():\n    return {i}\n\n" for i in range(50)))
        elif action == 1:
            path.write_text("")
        elif action == 2:
            path.write_bytes(b"\0binary")
        else:
            path.unlink(missing_ok=True)
        step += 1
