"""Plain records shared by every stage of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """One unit of retrieval: a definition, a stretch of top-level code, or a text window.

    `path` is POSIX and relative to the indexed root; lines are 1-based and inclusive.
    `kind` is one of: function, method, class, module (top-level code), section (Markdown
    heading), window (line window of a file without a grammar).
    """

    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    text: str
    repo: str = ""
    """The repository, in a store that holds several (`stores.postgres`); empty in a local index."""


@dataclass(frozen=True)
class Hit:
    """A ranked search result."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    score: float
    text: str
    repo: str = ""

    def to_dict(self) -> dict:
        """The JSON of a hit; `repo` only where the store holds several repositories."""
        fields = dict(self.__dict__)
        if not self.repo:
            del fields["repo"]
        return fields
