"""Split a source file into retrieval chunks.

Grammar languages are parsed with tree-sitter; `grammars/<language>.scm` (after a family's shared
file: JavaScript and TypeScript read `grammars/ecmascript.scm` first) names the definitions
(`@definition.function`, `@definition.method`, `@definition.class`/`.struct`/`.interface`/...,
each with `@name`, optionally `@body` and `@scope`; `@definition.clause` is one clause of a function
whose consecutive clauses of one name make one definition, as Haskell equations and Elixir
heads do) and `@leading`, what besides comments documents the definition after it (Haskell's
type signature, Elixir's `@doc`). Everything else is generic and table-driven:
nesting of the captured nodes gives qualified symbols, top-level code between definitions becomes
"module" chunks, oversized chunks are split at statement boundaries with their signature repeated.
Markdown is cut at headings and any other text into line windows.

All positions are byte offsets into the original bytes, so line numbers stay right whatever the
encoding, line endings or stray bytes; text is decoded only at the very end.
"""

from __future__ import annotations

import ctypes
import importlib
import re
import threading
import warnings
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Range

from codesearch import embedded
from codesearch.models import Chunk


class _Grammar(NamedTuple):
    module: str  # the tree-sitter wheel, imported on first use
    factory: str  # its function returning the language pointer
    query: str  # grammars/<query>.scm
    shared: str = ""  # grammars/<shared>.scm first: patterns languages of one family share


_GRAMMARS: dict[str, _Grammar] = {
    "python": _Grammar("tree_sitter_python", "language", "python"),
    "javascript": _Grammar("tree_sitter_javascript", "language", "javascript", "ecmascript"),
    "typescript": _Grammar("tree_sitter_typescript", "language_typescript", "typescript", "ecmascript"),
    "tsx": _Grammar("tree_sitter_typescript", "language_tsx", "typescript", "ecmascript"),
    "go": _Grammar("tree_sitter_go", "language", "go"),
    "rust": _Grammar("tree_sitter_rust", "language", "rust"),
    "java": _Grammar("tree_sitter_java", "language", "java"),
    "c": _Grammar("tree_sitter_c", "language", "c"),
    "cpp": _Grammar("tree_sitter_cpp", "language", "cpp"),
    "csharp": _Grammar("tree_sitter_c_sharp", "language", "csharp"),
    "ruby": _Grammar("tree_sitter_ruby", "language", "ruby"),
    "php": _Grammar("tree_sitter_php", "language_php", "php"),
    "bash": _Grammar("tree_sitter_bash", "language", "bash"),
    "kotlin": _Grammar("tree_sitter_kotlin", "language", "kotlin"),
    "swift": _Grammar("tree_sitter_swift", "language", "swift"),
    "scala": _Grammar("tree_sitter_scala", "language", "scala"),
    "elixir": _Grammar("tree_sitter_elixir", "language", "elixir"),
    "haskell": _Grammar("tree_sitter_haskell", "language", "haskell"),
    "lua": _Grammar("tree_sitter_lua", "language", "lua"),
    "zig": _Grammar("tree_sitter_zig", "language", "zig"),
    "dart": _Grammar("tree_sitter_dart", "language", "dart"),
    "sql": _Grammar("tree_sitter_sql", "language", "sql"),
    "hcl": _Grammar("tree_sitter_hcl", "language", "hcl"),
    "yaml": _Grammar("tree_sitter_yaml", "language", "yaml"),
    "toml": _Grammar("tree_sitter_toml", "language", "toml"),
    "julia": _Grammar("tree_sitter_julia", "language", "julia"),
    "ocaml": _Grammar("tree_sitter_ocaml", "language_ocaml", "ocaml"),  # .mli too: it reads interfaces
    "perl": _Grammar("tree_sitter_perl", "language", "perl"),
    "powershell": _Grammar("tree_sitter_powershell", "language", "powershell"),
    "solidity": _Grammar("tree_sitter_solidity", "language", "solidity"),
    "objc": _Grammar("tree_sitter_objc", "language", "objc", "c"),  # .m/.mm: C's functions and types too
    "groovy": _Grammar("dekobon_tree_sitter_groovy", "language", "groovy"),  # a fork: see pyproject.toml
    "starlark": _Grammar("tree_sitter_starlark", "language", "starlark"),
    "makefile": _Grammar("tree_sitter_make", "language", "makefile"),
    "nix": _Grammar("tree_sitter_nix", "language", "nix"),
    "fortran": _Grammar("tree_sitter_fortran", "language", "fortran"),
    "css": _Grammar("tree_sitter_css", "language", "css"),
}

GRAMMAR_LANGUAGES: frozenset[str] = frozenset(_GRAMMARS)

# Next to this module, not via importlib.resources: that fails on editable namespace installs.
_GRAMMAR_DIR = Path(__file__).with_name("grammars")

_CLAUSE = "definition.clause"
_KINDS = {"definition.function": "function", "definition.method": "method", _CLAUSE: "function"}  # others: class

# Siblings that document the definition right after them: comments, and the attributes and
# decorators that some grammars (Rust, TypeScript class bodies) put beside it rather than in it.
_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "multiline_comment", "haddock"})
_LEADING_TYPES = _COMMENT_TYPES | {"attribute_item", "decorator"}
_INNER_DOC = "inner_doc_comment_marker"  # Rust `//!`, `/*!`: documents the item it sits in
# `/**` (JSDoc, Javadoc, KDoc, Scaladoc, Doxygen, PHPDoc), `///` (C#, Rust, Swift, Zig, Doxygen),
# not `/**/` or `////`; Haddock's `-- |` and `{- |`; LuaDoc's `---`, not `----`.
_DOC_COMMENT = re.compile(rb"/\*\*(?![/*])|///(?!/)|--[ \t]*\||\{-[ \t]*\||---(?!-)")

_NEWLINE_BYTE = ord("\n")
_WORDY = re.compile(rb"\w")
_NON_SPACE = re.compile(rb"\S")
_BLANK_LINES = re.compile(rb"(?:[ \t\r\f\v]*\n)*")
_PARAGRAPH = re.compile(rb"\n[ \t\r\f\v]*\n")
_HEADING = re.compile(rb" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?\n?")
_FENCE = re.compile(rb" {0,3}(`{3,}|~{3,})")

_BOM = b"\xef\xbb\xbf"
_NUL_AS_SPACE = b" " + bytes(range(1, 256))
_ASCII_ONLY = b" " + bytes(range(1, 128)) + b"_" * 128
_ASCII_PARSE = frozenset({"bash"})  # grammars whose scanners misread non-ASCII input (_parse_input)

_local = threading.local()
_LOAD_LOCK = threading.Lock()

_SHALLOW_DEPTH = 3
"""How deep the first query pass starts matches: methods sit at depth 3 in most grammars
(module, class, class body, method), top-level functions at 1 or 2 (C's #ifdef blocks)."""
MATCH_LIMIT = 1024
"""Matches a query cursor keeps in progress at once (see `bounded_cursor`)."""

MAX_LINES = 120
"""A chunk longer than this many lines is split at statement boundaries (`chunk_size` in the configuration)."""


class _Limits(NamedTuple):
    lines: int
    chars: int


class _Span(NamedTuple):
    kind: str
    symbol: str
    start: int  # byte offsets, end exclusive
    end: int
    text: bytes


class _Piece(NamedTuple):
    """A stretch [start, end) of the file; `text` replaces the bytes when it is not None."""

    start: int
    end: int
    text: bytes | None


class _Part(NamedTuple):
    """Resolved text and the real byte range [start, end) it stands for."""

    start: int
    end: int
    text: bytes


_Ranges = frozenset[tuple[int, int]]
"""(start, end) byte ranges of nodes, to tell whether a node is one of them."""


class _Capture(NamedTuple):
    node: Node
    kind: str
    name: Node
    scope: Node | None
    body: Node | None
    clause: bool  # `@definition.clause`: joins the same-named clauses right before it


class _Found(NamedTuple):
    """What the query found in a file: the definitions, and the byte ranges of `@leading` nodes."""

    captures: list[_Capture]
    leading: _Ranges


@dataclass(eq=False)
class _Def:
    node: Node
    kind: str
    symbol: str
    body: Node | None
    parent: _Def | None
    clause: bool
    tail: int  # end byte of its node without trailing space, or of its last clause
    lead: int = 0  # start byte including the doc comments right above
    start: int = 0  # the chunk's byte range once placed among its siblings
    end: int = 0
    children: list[_Def] = field(default_factory=list)


class _Doc:
    """The file's bytes plus a newline index for byte -> line lookups."""

    __slots__ = ("src", "newlines")

    def __init__(self, src: bytes) -> None:
        self.src = src
        self.newlines: list[int] = np.flatnonzero(np.frombuffer(src, dtype=np.uint8) == _NEWLINE_BYTE).tolist()

    def line_of(self, pos: int) -> int:
        """1-based line holding byte `pos` (a newline belongs to the line it ends)."""
        return bisect_left(self.newlines, pos) + 1

    def line_start(self, pos: int) -> int:
        i = bisect_left(self.newlines, pos)
        return self.newlines[i - 1] + 1 if i else 0

    def line_end(self, pos: int) -> int:
        """Offset just past the newline ending the line of `pos` (or the end of the file)."""
        i = bisect_left(self.newlines, pos)
        return self.newlines[i] + 1 if i < len(self.newlines) else len(self.src)

    def text(self, piece: _Piece) -> bytes:
        return self.src[piece.start : piece.end] if piece.text is None else piece.text


def chunk_source(
    path: str, language: str, source: bytes, *, max_lines: int = MAX_LINES, max_chars: int = 6000
) -> list[Chunk]:
    """Chunks of one file, in file order; never raises on any content."""
    if (component := embedded.component_chunks(path, language, source, max_lines, max_chars)) is not None:
        return component
    if not source.strip():
        return []
    doc = _Doc(source)
    limits = _Limits(max(1, max_lines), max(16, max_chars))
    spans: list[_Span] | None = None
    try:
        if language in _GRAMMARS:
            spans = _code_spans(doc, language, limits)
        elif language == "markdown":
            spans = _markdown_spans(doc, limits)
    except Exception:  # a grammar or query surprise must cost chunk quality, never the file
        spans = None
    if spans is None:
        spans = _window_spans(doc, limits)
    chunks = (_to_chunk(doc, path, language, span) for span in spans)
    return [chunk for chunk in chunks if chunk.text.strip()]  # a lone BOM is no content


def _to_chunk(doc: _Doc, path: str, language: str, span: _Span) -> Chunk:
    text = span.text.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return Chunk(
        path=path,
        language=language,
        kind=span.kind,
        symbol=span.symbol,
        start_line=doc.line_of(span.start),
        end_line=doc.line_of(span.end - 1),
        text=text,
    )


# --- tree-sitter plumbing ---------------------------------------------------------------------


@cache
def _compiled(language: str) -> tuple[Language, Query]:
    """Language and chunk query, built once per process (the wheel is imported here, lazily)."""
    grammar = _GRAMMARS[language]
    lang = wheel_language(grammar.module, grammar.factory)
    names = [name for name in (grammar.shared, grammar.query) if name]
    source = "\n".join((_GRAMMAR_DIR / f"{name}.scm").read_text(encoding="utf-8") for name in names)
    return lang, Query(lang, source)


def wheel_language(module: str, factory: str = "language") -> Language:
    """The grammar a wheel's `factory` makes. Some wheels (Perl, Solidity) still return the
    grammar's address as an int, a form py-tree-sitter deprecated for a capsule: it is wrapped
    in one, so that those grammars keep loading when the int form goes."""
    made = getattr(importlib.import_module(module), factory)()
    return Language(_NEW_CAPSULE(made, _CAPSULE_NAME, None) if isinstance(made, int) else made)


_CAPSULE_NAME = b"tree_sitter.Language"
"""The name py-tree-sitter checks a grammar capsule for; a capsule keeps a pointer to it, so it
lives as long as the module."""
_NEW_CAPSULE = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)(
    ("PyCapsule_New", ctypes.pythonapi)
)


def _loaded(language: str) -> tuple[Language, Query] | None:
    """`_compiled(language)`, or None when the grammar cannot load (a missing wheel, an ABI
    mismatch, a bad query): its files then fall back to line windows, and the broken install
    is told once, not hidden like a single file's parse surprise."""
    with _LOAD_LOCK:  # two threads must not both try, and both warn
        return _load_once(language)


@cache
def _load_once(language: str) -> tuple[Language, Query] | None:
    try:
        return _compiled(language)
    except Exception as error:  # whatever the wheel or query raise, the language degrades
        warnings.warn(
            f"codesearch: the {language} grammar did not load ({type(error).__name__}: {error}); "
            f"{language} files are cut into line windows",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def _parser(language: str) -> Parser:
    return thread_parser(language, lambda: _compiled(language)[0])


def thread_parser(key: str, language: Callable[[], Language]) -> Parser:
    """This thread's parser for `key`, made from `language()` on first use: parsers are cheap to
    keep but not thread-safe, so each thread has one per language."""
    parsers: dict[str, Parser] = _local.__dict__.setdefault("parsers", {})
    if key not in parsers:
        parsers[key] = Parser(language())
    return parsers[key]


def _parse_input(src: bytes, language: str) -> bytes:
    """The bytes the grammar parses: as long as `src`, so every offset stays valid.

    Scanners read NUL as end of input, so NUL becomes a space. tree-sitter-bash's scanner passes
    the code point after `{` to isdigit(), which indexes a 256-entry table: a non-ASCII
    character there reads far outside it and can crash the process (found by
    tests/test_chunker_properties.py), so bash sees every non-ASCII byte as `_`, a word
    character, and a leading BOM as spaces.
    """
    if language not in _ASCII_PARSE:
        return src.translate(_NUL_AS_SPACE)
    if src.startswith(_BOM):
        src = b" " * len(_BOM) + src[len(_BOM) :]
    return src.translate(_ASCII_ONLY)


def _code_spans(doc: _Doc, language: str, limits: _Limits) -> list[_Span] | None:
    """Definition and module chunks; None when the language's grammar is unavailable."""
    grammar = _loaded(language)
    if grammar is None:
        return None
    source = _parse_input(doc.src, language)
    root = _parser(language).parse(source).root_node
    defs = _definitions(doc, grammar[1], root)
    for inner in _macro_item_roots(language, source, root):
        defs += _definitions(doc, grammar[1], inner)
    defs.sort(key=lambda d: d.node.start_byte)
    top = [d for d in defs if d.parent is None]
    _place(doc, top, 0, len(doc.src))
    for d in defs:
        _place(doc, d.children, d.node.start_byte + 1, d.tail)
    spans: list[_Span] = []
    gap_start = 0
    for d in top:
        spans += _gap_spans(doc, gap_start, d.start, limits)
        gap_start = d.end
    spans += _gap_spans(doc, gap_start, len(doc.src), limits)
    for d in defs:
        spans += _def_spans(doc, d, limits)
    spans.sort(key=lambda s: s.start)
    return spans


_ITEM_MACROS = {"rust": "macro_invocation"}
"""Per language, the node of a macro call whose `{...}` body the grammar leaves unparsed though
it holds ordinary items: Rust's `cfg_rt! { pub fn spawn(...) ... }`, around most of tokio."""
_ITEM_START = re.compile(
    rb"\s*(?://|/\*|#!?\[|[A-Za-z_]\w*!|(?:pub|fn|struct|enum|union|impl|trait|mod|use|const|static|type|unsafe|async|extern)\b)"
)
_MACRO_DEPTH = 3
"""Macro bodies within macro bodies parsed again (`cfg_rt! { pin_project! { struct ... } }`)."""


def _macro_item_roots(language: str, source: bytes, root: Node) -> Iterator[Node]:
    """Roots of the item-holding macro bodies of the file (`_ITEM_MACROS`), parsed as the
    language in place: a parser given the bodies as its included ranges keeps every byte offset,
    so their definitions chunk, and report lines, like any other."""
    macro = _ITEM_MACROS.get(language)
    ranges = _item_bodies(source, root, macro) if macro else []
    for _ in range(_MACRO_DEPTH):
        if not ranges:
            return
        parser = thread_parser(f"{language}:macros", lambda: _compiled(language)[0])
        parser.included_ranges = ranges
        inner = parser.parse(source).root_node
        yield inner
        ranges = _item_bodies(source, inner, macro)


def _item_bodies(source: bytes, root: Node, macro: str) -> list[Range]:
    """The insides of the `{...}` bodies of `macro` calls among `root`'s items (and those of the
    impl, trait and mod bodies in it) that start like an item."""
    bodies = []
    pending = [root]
    while pending:
        for node in pending.pop().named_children:
            if node.type == "declaration_list":
                pending.append(node)
            elif node.type in ("impl_item", "trait_item", "mod_item") and (body := node.child_by_field_name("body")):
                pending.append(body)
            elif node.type == macro and (inside := _item_body(source, node)) is not None:
                bodies.append(inside)
    return sorted(bodies, key=lambda r: r.start_byte)


def _item_body(source: bytes, call: Node) -> Range | None:
    """What lies between the braces of a macro call's `{...}` token tree, when it starts like an item."""
    tree = call.named_children[-1] if call.named_children else None
    if tree is None or tree.type != "token_tree" or tree.end_byte - tree.start_byte <= 2:
        return None
    if source[tree.start_byte] != ord("{") or not _ITEM_START.match(source, tree.start_byte + 1):
        return None
    start, end = tree.start_point, tree.end_point
    return Range((start.row, start.column + 1), (end.row, end.column - 1), tree.start_byte + 1, tree.end_byte - 1)


def _definitions(doc: _Doc, query: Query, root: Node) -> list[_Def]:
    """Emitted definitions in file order, each linked to its class-like parent.

    Anything nested in a function stays part of that function's chunk; a clause continuing the
    one emitted last (`_continues`) extends it instead of starting a definition.
    """
    emitted: list[_Def] = []
    stack: list[tuple[int, _Def | None]] = []  # end bytes of open definitions; None = absorbed
    found = _captures(doc, query, root)
    for capture in found.captures:
        while stack and stack[-1][0] <= capture.node.start_byte:
            stack.pop()
        parent = stack[-1][1] if stack else None
        if stack and (parent is None or parent.kind != "class"):
            stack.append((capture.node.end_byte, None))
            continue
        d = _new_def(doc, capture, parent, found.leading)
        if d is None:
            continue
        if emitted and _continues(doc, emitted[-1], d):
            emitted[-1].tail = d.tail
            emitted[-1].body = None  # the first clause's body no longer ends the definition
            stack.append((d.tail, emitted[-1]))
            continue
        stack.append((d.tail, d))
        if parent is not None:
            parent.children.append(d)
        emitted.append(d)
    return emitted


def _continues(doc: _Doc, prev: _Def, d: _Def) -> bool:
    """Whether clause `d` belongs to the same function as `prev`: same name and place, and only
    space between them (its comments and `@leading` nodes are part of `d`)."""
    return (
        prev.clause
        and d.clause
        and prev.symbol == d.symbol
        and prev.parent is d.parent
        and prev.tail <= d.lead
        and _NON_SPACE.search(doc.src, prev.tail, d.lead) is None
    )


def bounded_cursor(query: Query) -> QueryCursor:
    """A cursor that keeps at most MATCH_LIMIT matches in progress. Unbounded (tree-sitter's
    default), a Kotlin file of recombined fragments made the query hold 13.8 GB and run for 20
    minutes in a property test; real files keep a few dozen in progress."""
    return QueryCursor(query, match_limit=MATCH_LIMIT)


def _captures(doc: _Doc, query: Query, root: Node) -> _Found:
    """One capture per definition, outermost match per name, in file order; none are looked for
    inside a function, where `_definitions` would absorb them anyway.

    A name captured twice (a decorated or templated definition and the bare one inside) keeps
    the larger node, so decorators and template headers belong to the chunk. Walking every node
    of every function body cost the query a third of the parse (linux/fs): the shallow levels
    are searched first, then everything outside the functions found there, at any depth.
    """
    by_name: dict[tuple[int, int], _Capture] = {}
    leading: set[tuple[int, int]] = set()
    shallow = bounded_cursor(query)
    shallow.set_max_start_depth(_SHALLOW_DEPTH)
    _collect(shallow.matches(root), by_name, leading)
    deep = bounded_cursor(query)
    for start, end in _outside(_function_spans(doc, by_name.values()), root.start_byte, root.end_byte):
        deep.set_byte_range(start, end)
        _collect(deep.matches(root), by_name, leading)
    captures = sorted(by_name.values(), key=lambda c: (c.node.start_byte, -c.node.end_byte))
    return _Found(captures, frozenset(leading))


def _collect(
    matches: list[tuple[int, dict[str, list[Node]]]],
    by_name: dict[tuple[int, int], _Capture],
    leading: set[tuple[int, int]],
) -> None:
    """Add the matches' definitions to `by_name`, keeping the larger node for a name seen before
    (of equal ones, one with a `@scope`: a pattern for a receiver refines a plainer one), and
    their `@leading` nodes to `leading`."""
    for _, caps in matches:
        leading.update((node.start_byte, node.end_byte) for node in caps.get("leading", ()))
        label = next((k for k in caps if k.startswith("definition.")), None)
        if label is None or "name" not in caps:
            continue
        node, name = caps[label][0], caps["name"][0]
        if node.end_byte <= node.start_byte:
            continue
        key = (name.start_byte, name.end_byte)
        old = by_name.get(key)
        scope = caps["scope"][0] if "scope" in caps else None
        if old is None or _weight(node, scope) > _weight(old.node, old.scope):
            body = caps["body"][0] if "body" in caps else None
            by_name[key] = _Capture(node, _KINDS.get(label, "class"), name, scope, body, label == _CLAUSE)


def _weight(node: Node, scope: Node | None) -> tuple[int, bool]:
    """What decides between two captures of one name: size, then having a `@scope`."""
    return node.end_byte - node.start_byte, scope is not None


def _function_spans(doc: _Doc, captures: Iterable[_Capture]) -> list[tuple[int, int]]:
    """Byte ranges of the functions that absorb what they contain: named ones (`_new_def`)."""
    return sorted(
        (c.node.start_byte, c.node.end_byte) for c in captures if c.kind != "class" and _node_text(doc, c.name)
    )


def _outside(spans: list[tuple[int, int]], start: int, end: int) -> Iterator[tuple[int, int]]:
    """The parts of [start, end) that no span (sorted, possibly nested) covers."""
    for span_start, span_end in spans:
        if span_start > start:
            yield start, span_start
        start = max(start, span_end)
    if start < end:
        yield start, end


def _new_def(doc: _Doc, capture: _Capture, parent: _Def | None, leading: _Ranges) -> _Def | None:
    """Qualify the name (`Outer.Inner.m`, receiver `T.m`, `Foo::bar` -> `Foo.bar`) and set the kind:
    a function directly in a class, or with a receiver or qualified name, is a method."""
    own = _node_text(doc, capture.name)
    if not own:
        return None
    if capture.scope is not None:
        own = f"{_node_text(doc, capture.scope)}.{own}"
    symbol = f"{parent.symbol}.{own}" if parent is not None else own
    kind = capture.kind
    if kind == "function" and (parent is not None or "." in own):
        kind = "method"
    node = capture.node
    d = _Def(node, kind, symbol, capture.body, parent, capture.clause, _content_end(doc, node))
    d.lead = _lead(doc, node, parent.node.start_byte if parent is not None else -1, leading)
    return d


def _content_end(doc: _Doc, node: Node) -> int:
    """End of `node` without trailing whitespace, which an indentation-based grammar (Scala 3)
    may count up to the next line's indent, that is into the next definition."""
    return _space_before(doc, node.end_byte, node.start_byte)


def _space_before(doc: _Doc, pos: int, floor: int) -> int:
    """`pos` moved back over whitespace, not below `floor`."""
    while pos > floor and doc.src[pos - 1 : pos].isspace():
        pos -= 1
    return pos


def _node_text(doc: _Doc, node: Node) -> str:
    raw = doc.src[node.start_byte : node.end_byte].decode("utf-8", errors="replace")
    return " ".join(raw.split()).replace("::", ".")


def _lead(doc: _Doc, node: Node, floor: int, leading: _Ranges) -> int:
    """Start of the definition including the comments, attributes and `@leading` nodes directly
    above it, and a doc comment one blank line above it or them (`_is_doc_comment`).

    The comment is often a sibling of a wrapper (`export`, Go `type`, Ruby body) that starts on
    the same line with the definition as its first part, so climb through such wrappers first
    (never up to the enclosing definition).
    """
    anchor = node
    while (up := anchor.parent) is not None and up.parent is not None and up.start_byte > floor:
        first = up.named_child(0)
        same_line = up.start_point.row == anchor.start_point.row
        if not same_line or first is None or first.start_byte != anchor.start_byte:
            break
        anchor = up
    start, edge = node.start_byte, anchor.start_byte
    loose = True  # no comment taken yet: a doc comment may still stand a blank line above
    sib = _previous(anchor, floor, leading)
    while sib is not None and _leads(sib, leading) and sib.start_byte > floor:
        blank_lines = doc.line_of(edge) - doc.line_of(sib.end_byte - 1) - 1
        if blank_lines > (loose and _is_doc_comment(doc, sib)):
            break
        before = _previous(sib, floor, leading)
        if before is not None and before.end_byte > doc.line_start(sib.start_byte):
            break
        start = edge = sib.start_byte
        loose = loose and sib.type not in _COMMENT_TYPES
        sib = before
    return start


def _previous(node: Node, floor: int, leading: _Ranges) -> Node | None:
    """The node before `node`: its previous sibling, or its wrapper's when it opens a wrapper
    that starts with it (a Haskell class body starts at its first member, and the comment above
    that member sits beside the body); a sibling that ends with a comment gives the comment."""
    while node.prev_sibling is None and (up := node.parent) is not None and floor < up.start_byte == node.start_byte:
        node = up
    sib = node.prev_sibling
    if sib is None or _leads(sib, leading):
        return sib
    return _trailing_comment(sib, node.start_point.column) or sib


def _trailing_comment(node: Node, column: int) -> Node | None:
    """The comment `node` ends with, which a grammar may have put there rather than beside what
    follows (Haskell's imports keep the comment on the first declaration), unless it is
    indented deeper than `column`: then it is the end of a block."""
    last: Node | None = node
    while last is not None and last.child_count and last.type not in _COMMENT_TYPES:
        last = last.child(last.child_count - 1)
    if last is not None and last.type in _COMMENT_TYPES and last.start_point.column <= column:
        return last
    return None


def _leads(node: Node, leading: _Ranges) -> bool:
    """Whether `node` may document the definition after it: a comment, attribute or decorator,
    or what the query captured as `@leading`; an inner doc comment documents the item around
    it instead."""
    if (node.start_byte, node.end_byte) in leading:
        return True
    return node.type in _LEADING_TYPES and not any(child.type == _INNER_DOC for child in node.children)


def _is_doc_comment(doc: _Doc, node: Node) -> bool:
    """A comment in doc syntax (`/**`, `///`), which documents the next definition even across
    one blank line (express: `/** ... */`, blank line, `function`), as JSDoc, rustdoc and
    Doxygen read it. A plain comment (`//`, `#`, `/*`) needs to touch the definition: after a
    blank line it is as likely a section note, and Go and Ruby doc tools read it so too."""
    return _DOC_COMMENT.match(doc.src, node.start_byte) is not None


def _place(doc: _Doc, defs: Sequence[_Def], low: int, high: int) -> None:
    """Give sibling definitions disjoint byte ranges, widened to whole lines where no neighbour
    shares the line (minified code keeps tight ranges instead of repeating the line)."""
    for i, d in enumerate(defs):
        start = max(d.lead, low)
        line_start = doc.line_start(start)
        d.start = line_start if line_start >= low else start
        limit = defs[i + 1].lead if i + 1 < len(defs) else high
        # a node may run into the next one's leading comment (YAML and TOML nest it in the
        # previous block): the definition ends before that comment
        end = max(_space_before(doc, min(d.tail, limit), d.start), d.start + 1)
        line_end = doc.line_end(end - 1)
        d.end = line_end if line_end <= max(limit, end) else end
        low = d.end


# --- definition chunks ------------------------------------------------------------------------


def _def_spans(doc: _Doc, d: _Def, limits: _Limits) -> list[_Span]:
    """A definition's parts: members shown as signatures, split at statements when too big."""
    members = [_Piece(c.start, c.end, _summary(doc, c)) for c in d.children]
    pieces = _interleave(d.start, d.end, (), members)
    if not _fits(doc, pieces, limits):
        pieces = _interleave(d.start, d.end, _statement_cuts(doc, d), members)
    return _spans(d.kind, d.symbol, _pack(doc, pieces, _signature(doc, d), limits))


def _signature(doc: _Doc, d: _Def) -> bytes:
    """Header line(s) of a definition: from its first line up to its body (with an opening `{`)."""
    start = max(d.start, doc.line_start(d.node.start_byte))
    body = d.body
    if body is None or body.start_byte <= start:
        return doc.src[start : doc.line_end(d.node.start_byte)].rstrip()
    end = body.start_byte + (doc.src[body.start_byte : body.start_byte + 1] == b"{")
    return doc.src[start:end].rstrip()


def _summary(doc: _Doc, d: _Def) -> bytes:
    """What a member contributes to its class chunk: its signature and an elided body."""
    sig = _signature(doc, d)
    close = b"}" if sig.endswith(b"{") else b""
    if d.body is not None:
        close += doc.src[d.body.end_byte : d.node.end_byte].strip()
    text = (sig + b" ... " + close).rstrip()
    return text + b"\n" if doc.src[d.end - 1 : d.end] == b"\n" else text


def _statement_cuts(doc: _Doc, d: _Def) -> list[int]:
    """Line starts of the body's statements, where a too-big definition may be split."""
    body = d.body
    if body is None:
        return []
    while body.named_child_count == 1:  # Go's block wraps a statement_list
        body = body.named_children[0]
    cuts: list[int] = []
    prev_end = d.start
    for child in body.named_children:
        line_start = doc.line_start(child.start_byte)
        if line_start >= prev_end and (not cuts or line_start > cuts[-1]):
            cuts.append(line_start)
        prev_end = max(prev_end, child.end_byte)
    return cuts


def _interleave(
    start: int, end: int, cuts: Sequence[int], members: Sequence[_Piece]
) -> list[_Piece]:
    """Cover [start, end) with plain pieces cut at `cuts`, and the members' replacement pieces."""
    member_at = {m.start: m for m in members}
    pieces: list[_Piece] = []
    pos = start
    for stop in sorted({*cuts, *member_at, end}):
        if pos < stop <= end:
            pieces.append(_Piece(pos, stop, None))
            pos = stop
        if stop == pos and stop in member_at:
            pieces.append(member_at[stop])
            pos = member_at[stop].end
    return pieces


# --- module code, Markdown and windows --------------------------------------------------------


def _gap_spans(doc: _Doc, start: int, end: int, limits: _Limits) -> list[_Span]:
    """Top-level code between definitions; punctuation-only gaps (`}`, `;`) are dropped."""
    if start >= end or not _WORDY.search(doc.src, start, end):
        return []
    return _spans("module", "", _pack(doc, _paragraphs(doc, start, end), b"", limits))


def _paragraphs(doc: _Doc, start: int, end: int) -> list[_Piece]:
    """[start, end) cut after each blank-line run: the statement boundary text without a tree."""
    pieces: list[_Piece] = []
    pos = start
    for m in _PARAGRAPH.finditer(doc.src, start, end):
        pieces.append(_Piece(pos, m.end(), None))
        pos = m.end()
    if pos < end:
        pieces.append(_Piece(pos, end, None))
    return pieces


def _markdown_spans(doc: _Doc, limits: _Limits) -> list[_Span]:
    """One section per ATX heading (symbol = heading text), plus the text before the first."""
    heads = [(0, "", b"")] + _headings(doc)
    spans: list[_Span] = []
    for i, (start, title, line) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(doc.src)
        if start < end:
            parts = _pack(doc, _paragraphs(doc, start, end), line, limits)
            spans += _spans("section", title, parts)
    return spans


def _headings(doc: _Doc) -> list[tuple[int, str, bytes]]:
    """(offset, title, heading line) of each ATX heading outside fenced code blocks."""
    found: list[tuple[int, str, bytes]] = []
    fence = b""
    pos, size = 0, len(doc.src)
    while pos < size:
        end = doc.line_end(pos)
        line = doc.src[pos:end]
        marker = m.group(1) if (m := _FENCE.match(line)) else b""
        if marker and (not fence or marker[:1] == fence[:1] and len(marker) >= len(fence)):
            fence = b"" if fence else marker
        elif not fence and (heading := _HEADING.fullmatch(line)):
            title = (heading.group(2) or b"").decode("utf-8", errors="replace").strip()
            found.append((pos, title, line.rstrip()))
        pos = end
    return found


def _window_spans(doc: _Doc, limits: _Limits) -> list[_Span]:
    """Windows of max_lines / 2 lines for text without structure (and as the safe fallback)."""
    size = max(1, limits.lines // 2)
    window = _Limits(size, limits.chars)
    starts = [0] + [nl + 1 for nl in doc.newlines[size - 1 :: size] if nl + 1 < len(doc.src)]
    spans: list[_Span] = []
    for start, end in zip(starts, starts[1:] + [len(doc.src)]):
        spans += _spans("window", "", _pack(doc, [_Piece(start, end, None)], b"", window))
    return spans


# --- packing pieces into chunks that respect the limits ---------------------------------------


def _spans(kind: str, symbol: str, parts: Sequence[_Part]) -> list[_Span]:
    return [_Span(kind, symbol, part.start, part.end, part.text) for part in parts]


def _line_count(text: bytes) -> int:
    return text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)


def _fits(doc: _Doc, pieces: Sequence[_Piece], limits: _Limits) -> bool:
    """Whether the pieces joined stay within the limits, without joining them."""
    newlines = chars = 0
    for piece in pieces:
        if piece.text is None:
            newlines += doc.src.count(b"\n", piece.start, piece.end)
            chars += piece.end - piece.start
        else:
            newlines += piece.text.count(b"\n")
            chars += len(piece.text)
    unterminated = not doc.text(pieces[-1]).endswith(b"\n") if pieces else False
    return newlines + unterminated <= limits.lines and chars <= limits.chars


def _pack(doc: _Doc, pieces: Sequence[_Piece], sig: bytes, limits: _Limits) -> list[_Part]:
    """Greedily group pieces into parts within the limits; parts after the first start with `sig`.

    Returns (start, end, text) with the real byte range of what each part holds.
    """
    if not pieces:
        return []
    if _fits(doc, pieces, limits):
        whole = b"".join(doc.text(p) for p in pieces)
        return _trimmed(doc, pieces[0].start, pieces[-1].end, whole)
    head = _repeatable(sig, limits)
    cap = _Limits(limits.lines - _line_count(head), limits.chars - len(head))
    parts: list[_Part] = []
    group: list[_Part] = []
    lines = chars = 0
    for atom in _atoms(doc, pieces, cap):
        atom_lines = _line_count(atom.text)
        if group and (lines + atom_lines > cap.lines or chars + len(atom.text) > cap.chars):
            parts += _flush(doc, group, head if parts else b"")
            group, lines, chars = [], 0, 0
        group.append(atom)
        lines, chars = lines + atom_lines, chars + len(atom.text)
    parts += _flush(doc, group, head if parts else b"")
    return parts


def _flush(doc: _Doc, group: list[_Part], head: bytes) -> list[_Part]:
    """One part from `group`; none when the group is blank, which would leave a part that is
    only the repeated signature, placed on blank lines."""
    body = b"".join(p.text for p in group)
    return _trimmed(doc, group[0].start, group[-1].end, head + body) if body.strip() else []


def _repeatable(sig: bytes, limits: _Limits) -> bytes:
    """The signature to repeat atop later parts: whole, else its first line, else nothing,
    so that at least three quarters of every part is left for the code itself."""
    for candidate in (sig, sig.split(b"\n", 1)[0]):
        head = candidate.rstrip() + b"\n"
        small = _line_count(head) * 4 <= limits.lines and len(head) * 4 <= limits.chars
        if candidate.strip() and small:
            return head
    return b""


def _atoms(doc: _Doc, pieces: Sequence[_Piece], cap: _Limits) -> Iterator[_Part]:
    """Pieces with their text resolved; one too big is cut into lines, a long line into slices."""
    for piece in pieces:
        text = doc.text(piece)
        if _line_count(text) <= cap.lines and len(text) <= cap.chars:
            yield _Part(piece.start, piece.end, text)
            continue
        offset = 0
        for line in text.splitlines(keepends=True):
            for lo, hi in _slices(line, cap.chars):
                if piece.text is None:
                    yield _Part(piece.start + offset + lo, piece.start + offset + hi, line[lo:hi])
                else:  # a replacement keeps standing for its whole range
                    yield _Part(piece.start, piece.end, line[lo:hi])
            offset += len(line)


def _slices(line: bytes, size: int) -> Iterator[tuple[int, int]]:
    """Cut a line into at most `size`-byte slices without splitting a UTF-8 sequence."""
    pos = 0
    while pos < len(line):
        end = min(pos + size, len(line))
        while pos + 1 < end < len(line) and line[end] & 0xC0 == 0x80:
            end -= 1
        yield pos, end
        pos = end


def _trimmed(doc: _Doc, start: int, end: int, text: bytes) -> list[_Part]:
    """Drop blank lines at both ends of a part, from its text and from its real line range."""
    text = text[_BLANK_LINES.match(text).end() :].rstrip()
    if not text:
        return []
    first = _NON_SPACE.search(doc.src, start, end)
    if first is not None:
        start = max(start, doc.line_start(first.start()))
        last = start + len(doc.src[start:end].rstrip()) - 1
        end = min(end, doc.line_end(last))
    return [_Part(start, end, text)]
