"""Lines around a hit (`--context N`), from the file when it is as indexed, else from the index."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from codesearch.files import SkipFile, SourceFile, read_source
from codesearch.indexer import stat_changed
from codesearch.models import Hit
from codesearch.store import FileState, Store


@dataclass(frozen=True)
class HitContext:
    """`lines` numbered from `first_line`; `from_disk` False means the file changed or is gone,
    so the lines are the indexed chunk text alone, without surrounding lines.
    """

    hit: Hit
    first_line: int
    lines: list[str]
    from_disk: bool


def hit_contexts(store: Store, root: Path, hits: list[Hit], around: int) -> list[HitContext]:
    """`around` lines before and after each hit; each file is read once, however many hits it has."""
    states = store.file_states({hit.path for hit in hits})
    files: dict[str, list[str] | None] = {}
    contexts = []
    for hit in hits:
        if hit.path not in files:
            files[hit.path] = _unchanged_lines(root, hit, states.get(hit.path))
        lines = files[hit.path]
        if lines is None or hit.end_line > len(lines):
            contexts.append(HitContext(hit, hit.start_line, numbered_lines(hit.text), False))
            continue
        first = max(1, hit.start_line - around)
        last = min(len(lines), hit.end_line + around)
        contexts.append(HitContext(hit, first, lines[first - 1 : last], True))
    return contexts


def _unchanged_lines(root: Path, hit: Hit, state: FileState | None) -> list[str] | None:
    """The file's lines as the indexer read them, when its size and mtime are those indexed
    (the test `sync` uses); else None.
    """
    path = root / hit.path
    try:
        info = os.stat(path)
        on_disk = SourceFile(hit.path, path, hit.language, info.st_size, info.st_mtime_ns)
        if state is None or stat_changed(state, on_disk):
            return None
        data = read_source(on_disk, on_disk.size)
    except (OSError, SkipFile):
        return None
    return numbered_lines(data.decode("utf-8", errors="replace"))


def numbered_lines(text: str) -> list[str]:
    """Lines as the chunker numbers them: split at newlines only (str.splitlines also splits at
    form feeds and Unicode separators, which would shift every line number after one).
    """
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]
