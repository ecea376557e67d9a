"""Concurrency: `watch` syncing a stream of edits, `index` attempts and eight `ask` loops at once.

No query may fail or answer with text that no version of its file held, an `index` attempt
runs or says clearly that a writer is busy, and the index is consistent afterwards
(tests/concurrent_run.py does the work and describes each failure). CI runs it for a few
seconds; `pytest -m slow` for the full minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from concurrent_run import READERS, run_concurrently


@pytest.mark.parametrize("seconds", [pytest.param(8, id="8s"), pytest.param(60, id="60s", marks=pytest.mark.slow)])
def test_readers_writers_and_index_together_lose_nothing(seconds: int, tmp_path: Path) -> None:
    outcome = run_concurrently(tmp_path, seconds)
    assert outcome.failures == []
    assert outcome.queries >= READERS * 4
    assert outcome.edits >= seconds * 5
    assert outcome.index_attempts >= 1
