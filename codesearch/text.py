"""Code-aware word splitting, shared by lexical search and the static embedder."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_identifier(word: str) -> list[str]:
    """`parseJSON` -> [parse, json]; `read_file2` -> [read, file, 2] (lower case)."""
    parts: list[str] = []
    for piece in word.split("_"):
        parts.extend(m.group(0).lower() for m in _CAMEL.finditer(piece))
    return parts


def subtokens(text: str) -> list[str]:
    """Every identifier's parts, then the whole identifier when it has more than one part.

    `parseJSON` -> `parse json parsejson`, so both the words and the joined name match.
    """
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        parts = split_identifier(word)
        out.extend(parts)
        if len(parts) > 1:
            out.append("".join(parts))
    return out
