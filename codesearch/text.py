"""Code-aware word splitting, shared by lexical search and the static embedder; and counts as
messages spell them."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    "the a an of to in and or is are be for on with by as at from how do does i can this that it its "
    "what which when where self return def function var let const if else end".split()
)
"""Words nearly every chunk or query has: they cost lexical search time and carry no signal."""

WORD = re.compile(r"[A-Za-z0-9_]+")
"""An identifier or number: the unit that is split into subtokens."""
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def _spaced(word: str) -> str:
    """`parseJSON` -> `parse json parsejson`: the word's parts, then the joined parts when there
    are several. `_CAMEL` never matches `_`, nor looks past one, so underscores separate parts
    without a split of their own; the parts are ASCII, so lowering the result lowers each."""
    parts = _CAMEL.findall(word)
    spaced = " ".join(parts)
    if len(parts) > 1:
        spaced = f"{spaced} {''.join(parts)}"
    return spaced.lower()


def subtokens(text: str) -> list[str]:
    """Every identifier's parts, then the whole identifier when it has more than one part.

    `parseJSON` -> `parse json parsejson`, so both the words and the joined name match.
    """
    return spaced_subtokens(text).split()


def word_parts(text: str) -> list[str]:
    """Every identifier's parts, lowered, without the joined forms `subtokens` adds:
    `HTTPServer_io` -> `http server io`."""
    return [part.lower() for word in WORD.findall(text) for part in _CAMEL.findall(word)]


class _SpacedSubtokens(dict):
    """Word -> its subtokens joined by spaces; bounded, so a long-lived worker stays small."""

    def __missing__(self, word: str) -> str:
        if len(self) >= 1 << 18:
            self.clear()
        spaced = self[word] = _spaced(word)
        return spaced


_SPACED = _SpacedSubtokens()
spaced_word = _SPACED.__getitem__
"""A word's subtokens joined by spaces, split once per process: identifiers repeat heavily
within a code base, and the lexical fields and the static embedder both ask for them."""


def spaced_subtokens(text: str, words: list[str] | None = None) -> str:
    """The subtokens as one space-separated string, for a full-text index that tokenises on
    spaces: one dict lookup per word occurrence, which is what makes indexing it cheap.
    `words`, when given, are the text's words (`WORD.findall`), found already."""
    return " ".join(map(spaced_word, WORD.findall(text) if words is None else words))


class WordedText(str):
    """A text that carries its words (`WORD.findall` of it): an indexing worker finds a chunk's
    words once, for its lexical fields and for the static embedder."""

    words: list[str]


def worded(text: str, words: list[str]) -> WordedText:
    marked = WordedText(text)
    marked.words = words
    return marked


def query_words(query: str) -> list[str]:
    """A query's subtokens without stopwords, unless stopwords are all it has."""
    words = subtokens(query)
    return [w for w in words if w not in STOPWORDS] or words


_MARKUP = (
    (re.compile(r":[a-z]+:`~?([^`]+)`"), r"\1"),  # Sphinx roles: :func:`name`
    (re.compile(r"\{@\w+\s+([^}]+)\}"), r"\1"),  # JSDoc {@link Foo}
    (re.compile(r"<[^>]+>"), " "),  # HTML tags
    (re.compile(r"``|`|\*\*"), ""),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]|\[([^\]]+)\]\([^)]*\)"), lambda m: m.group(1) or m.group(2)),  # Markdown links
)


def plain_prose(text: str) -> str:
    """Doc-comment markup removed, whitespace collapsed.

    The static model learns from doc summaries cleaned this way, so natural-language queries
    are cleaned the same way before they are embedded: a pasted Sphinx role means its target.
    """
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def plural(count: int, noun: str) -> str:
    """`1 file`, `2 files`, `1,204 files`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
