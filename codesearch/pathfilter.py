"""`--path` filters as people type them: globs, directories, bare file names and `!` exclusions.

A pattern with a slash inside is anchored where the user stands (`src/lib`, `src/*.py`,
`./cli`, `..`), one that starts with `/` at the indexed root; one without matches a file or
directory name at any depth (`sessions.py`, `*.py`, `tests`, `src/`). A pattern names
everything below a directory it matches, so `src`, `src/` and `src/*` agree. `*` also crosses
`/`, as it always has in `--path`. Several patterns: a path passes when it matches any
inclusion (or there is none) and no exclusion.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pattern:
    """One pattern: `glob` against the whole root-relative path when `anchored`, else against
    each of its names."""

    glob: str
    anchored: bool

    def matches(self, path: str) -> bool:
        if self.anchored:
            return fnmatch.fnmatchcase(path, self.glob) or fnmatch.fnmatchcase(path, self.glob + "/*")
        return any(fnmatch.fnmatchcase(part, self.glob) for part in path.split("/"))


def path_matcher(patterns: str | Iterable[str] | None, here: str = "") -> Callable[[str], bool] | None:
    """A test for root-relative POSIX paths, or None when no pattern was given.

    `here` is the directory, relative to the indexed root, that anchored patterns start from
    (the user's working directory when it lies inside the root; "" for the root).
    """
    given = [patterns] if isinstance(patterns, str) else list(patterns or ())
    included: list[_Pattern] = []
    excluded: list[_Pattern] = []
    for text in given:
        negated = text.startswith("!")
        (excluded if negated else included).append(_parse(text[1:] if negated else text, here))
    if not included and not excluded:
        return None

    def allowed(path: str) -> bool:
        return (not included or any(p.matches(path) for p in included)) and not any(p.matches(path) for p in excluded)

    return allowed


def _parse(text: str, here: str) -> _Pattern:
    """Anchored at `here` when the pattern holds an inner slash or is `.`/`..`; at the root
    when it starts with `/`; otherwise a name at any depth."""
    text = text.strip()
    rooted = text.startswith("/")
    text = text.strip("/")
    if not rooted and "/" not in text and text not in (".", ".."):
        return _Pattern(text or "*", anchored=False)
    joined = posixpath.normpath(posixpath.join("" if rooted else here, text))
    return _Pattern("*" if joined == "." else joined, anchored=True)
