"""Chunker: exact chunks per grammar fixture, splitting, fallbacks and hostile bytes."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tree_sitter import Parser

from codesearch import chunker
from codesearch.chunker import GRAMMAR_LANGUAGES, chunk_source
from codesearch.embedded import EMBEDDED_LANGUAGES
from codesearch.models import Chunk

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_LANGUAGES = GRAMMAR_LANGUAGES | EMBEDDED_LANGUAGES


def expected_chunks(language: str) -> list[tuple[str, str, int, int]]:
    """The fixture's `chunks.tsv`: kind, symbol, first and last line of each chunk, in order."""
    rows = (FIXTURES / language / "chunks.tsv").read_text(encoding="utf-8").splitlines()
    fields = (row.split("\t") for row in rows if not row.startswith("#"))
    return [(kind, symbol, int(start), int(end)) for kind, symbol, start, end in fields]


# (language, class symbol, class start line, signature kept in the class chunk, body line left out)
CLASS_SUMMARIES = [
    ("python", "Item", 9, "def total(self, quantity: int) -> float: ...", "return self.price * quantity"),
    ("javascript", "Cart", 5, "add(item, quantity = 1) { ... }", "this.items.push({ item, quantity });"),
    ("typescript", "JobQueue", 14, "async drain(): Promise<number> { ... }", "await job.run();"),
    ("tsx", "CounterStore", 7, "increment(): number { ... }", "this.value += STEP;"),
    ("rust", "Rect", 16, "pub fn scale(&mut self, factor: f64) { ... }", "self.width *= factor;"),
    ("java", "Account", 7, "public void deposit(BigDecimal amount) { ... }", "history.add(amount);"),
    ("cpp", "Matrix", 8, "double& at(int r, int c) { ... }", "return data_[r * cols_ + c];"),
    ("csharp", "Shelf", 11, "public void Add(string title)", "_titles.Add(title);"),
    ("ruby", "Billing.Invoice", 6, "def add(description, amount) ... end", "self\n"),
    ("php", "Cart", 14, "public function add(string $name, float $price): void", "$this->items[$name] = $price;"),
    ("kotlin", "Inventory", 7, "fun add(sku: String, count: Int = 1) { ... }", "items[sku] = (items[sku] ?: 0) + count"),
    ("swift", "Playlist", 15, "public func append(_ track: Track) { ... }", "tracks.append(track)"),
    ("scala", "Ledger", 8, "def book(entry: Entry): Long = { ... }", "balances(entry.account) = updated"),
    ("elixir", "Shop.Cart", 1, "cart, product, quantity \\\\ 1) ...", "%{cart | items: items}"),
    ("zig", "Ring", 9, "pub fn push(self: *Ring, byte: u8) RingError!void { ... }", "self.len += 1;"),
    ("dart", "Cart", 30, "int total(Payment payment) { ... }", "return payment == Payment.voucher"),
    ("julia", "Shapes.Polygon", 20, "function Polygon(vertices::Vector{NTuple{2,T}}) where {T<:Real} ...",
     "new{T}(vertices)"),
    ("ocaml", "Ledger", 35, "let record owner e = ...", "Hashtbl.replace table owner"),
    ("perl", "Inventory.Alert", 45, "sub format_line { ... }", 'return "reorder $sku";'),
    ("powershell", "BackupJob", 29, "[void] Run([string] $destination) { ... }", "Copy-Item $this.Source"),
]


def fixture_path(language: str) -> Path:
    (path,) = (p for p in (FIXTURES / language).iterdir() if p.name != "chunks.tsv")
    return path


def chunk_fixture(language: str) -> list[Chunk]:
    path = fixture_path(language)
    return chunk_source(path.relative_to(FIXTURES).as_posix(), language, path.read_bytes())


def triples(chunks: list[Chunk]) -> list[tuple[str, str, int, int]]:
    return [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks]


def file_lines(source: bytes, start: int, end: int) -> str:
    """Lines start..end (1-based, inclusive) of the source, as the chunker would decode them."""
    return "\n".join(source.decode("utf-8", errors="replace").split("\n")[start - 1 : end])


def test_every_grammar_language_has_a_fixture_and_its_chunks() -> None:
    assert FIXTURE_LANGUAGES == {p.parent.name for p in FIXTURES.glob("*/chunks.tsv")}
    for language in FIXTURE_LANGUAGES:
        assert fixture_path(language).stat().st_size > 0


@pytest.mark.parametrize("language", sorted(FIXTURE_LANGUAGES))
def test_fixture_chunks_are_exact(language: str) -> None:
    assert triples(chunk_fixture(language)) == expected_chunks(language)


def test_a_wheel_that_returns_an_address_loads_without_the_deprecated_int_form() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # py-tree-sitter's DeprecationWarning for Language(int)
        perl = chunker.wheel_language("tree_sitter_perl")
    tree = Parser(perl).parse(b"sub greet { return 1; }\n")
    assert tree.root_node.child(0).type == "subroutine_declaration_statement" and not tree.root_node.has_error


@pytest.mark.parametrize("language", sorted(FIXTURE_LANGUAGES))
def test_fixture_chunk_text_matches_its_lines(language: str) -> None:
    source = fixture_path(language).read_bytes()
    for chunk in chunk_fixture(language):
        if chunk.kind != "class":
            assert chunk.text == file_lines(source, chunk.start_line, chunk.end_line)
        assert chunk.path == f"{language}/{fixture_path(language).name}"
        assert chunk.language == language


@pytest.mark.parametrize(("language", "symbol", "line", "kept", "dropped"), CLASS_SUMMARIES)
def test_class_chunk_keeps_signatures_not_method_bodies(
    language: str, symbol: str, line: int, kept: str, dropped: str
) -> None:
    chunks = chunk_fixture(language)
    (cls,) = [c for c in chunks if c.kind == "class" and c.symbol == symbol and c.start_line == line]
    assert kept in cls.text
    assert dropped not in cls.text
    assert any(dropped in c.text for c in chunks if c.kind == "method")


LEADING = {
    "typescript": (
        b"import x from 'y';\n\n/** A panel. */\n@Component({})\nexport class Panel {\n  show() {}\n}\n"
    ),
    "rust": b"use std::io;\n\n/// Checks it.\n#[test]\nfn checks() {\n    run();\n}\n",
    "python": b"import os\n\n# Caches it.\n@cache\ndef load():\n    return 1\n",
}


@pytest.mark.parametrize("language", sorted(LEADING))
def test_doc_comments_and_decorators_belong_to_the_definition(language: str) -> None:
    module, definition = chunk_source("f", language, LEADING[language])[:2]
    assert (module.kind, module.start_line, module.end_line) == ("module", 1, 1)
    assert definition.kind in {"class", "function"}
    assert definition.start_line == 3


def test_comment_after_blank_line_stays_module_code() -> None:
    source = b"# Section header.\n\ndef f():\n    return 1\n"
    expected = [("module", "", 1, 1), ("function", "f", 3, 4)]
    assert triples(chunk_source("f.py", "python", source)) == expected


CLAUSES = {
    "haskell": (
        b"-- | Length.\n\nlen :: [a] -> Int\nlen [] = 0\n-- the rest\nlen (_ : xs) = 1 + len xs\n"
        b"isNil [] = True\nisNil _ = False\n\nlen = 3\n",
        [("function", "len", 1, 6), ("function", "isNil", 7, 8), ("function", "len", 10, 10)],
    ),
    "elixir": (
        b"defmodule M do\n  @doc false\n  def f(0), do: 1\n  def f(n), do: n\n  def g(0), do: 2\n  def f(1), do: 3\nend\n",
        [("class", "M", 1, 7), ("method", "M.f", 2, 4), ("method", "M.g", 5, 5), ("method", "M.f", 6, 6)],
    ),
}


@pytest.mark.parametrize("language", sorted(CLAUSES))
def test_consecutive_clauses_of_one_function_are_one_chunk_with_what_leads_them(language: str) -> None:
    source, expected = CLAUSES[language]
    assert triples(chunk_source("f", language, source)) == expected


def big_function(language: str, statements: int) -> bytes:
    if language == "python":
        body = "".join(f"    total += step({i})\n" for i in range(statements))
        return f"import os\n\n\ndef accumulate(step):\n    total = 0\n{body}    return total\n".encode()
    body = "".join(f"  total += step({i});\n" for i in range(statements))
    head = "import os from 'os';\n\n\nfunction accumulate(step) {\n  let total = 0;\n"
    return f"{head}{body}  return total;\n}}\n".encode()


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_oversized_function_is_split_with_signature_repeated(language: str) -> None:
    source = big_function(language, 40)
    signature = source.decode().split("\n")[3]
    parts = [c for c in chunk_source("big", language, source, max_lines=12) if c.kind == "function"]
    assert len(parts) > 3
    assert {c.symbol for c in parts} == {"accumulate"}
    assert parts[0].start_line == 4
    assert parts[-1].end_line == source.count(b"\n")
    for before, after in zip(parts, parts[1:]):
        assert after.start_line == before.end_line + 1
    for part in parts:
        lines = part.text.split("\n")
        assert len(lines) <= 12
        assert lines[0] == signature
        own = lines if part is parts[0] else lines[1:]
        assert "\n".join(own) == file_lines(source, part.start_line, part.end_line)


def test_oversized_function_respects_max_chars() -> None:
    source = big_function("python", 40)
    parts = [c for c in chunk_source("big.py", "python", source, max_chars=300) if c.kind == "function"]
    assert len(parts) > 3
    assert all(len(c.text) <= 300 and c.text.startswith("def accumulate(step):") for c in parts)


def test_single_huge_statement_is_cut_by_lines() -> None:
    items = "".join(f"        {i},\n" for i in range(50))
    source = f"def table():\n    return [\n{items}    ]\n".encode()
    parts = chunk_source("t.py", "python", source, max_lines=10)
    assert len(parts) >= 6
    assert all(len(c.text.split("\n")) <= 10 for c in parts)
    assert (parts[0].start_line, parts[-1].end_line) == (1, 53)


def test_overlong_line_is_cut_by_chars() -> None:
    source = b"var data = [" + b"1, " * 5000 + b"];\n"
    chunks = chunk_source("min.js", "javascript", source, max_chars=1000)
    assert len(chunks) >= 15
    assert all(len(c.text) <= 1000 and c.start_line == c.end_line == 1 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == source.decode().strip().replace(" ", "")


def test_definitions_sharing_a_line_do_not_repeat_it() -> None:
    source = b"function a(){return 1}function b(){return 2}class C{m(){return 3}}\n"
    chunks = chunk_source("min.js", "javascript", source)
    assert [(c.symbol, c.text) for c in chunks] == [
        ("a", "function a(){return 1}"),
        ("b", "function b(){return 2}"),
        ("C", "class C{m(){ ... }}"),
        ("C.m", "m(){return 3}"),
    ]


DEEP = {
    "c": (
        b"#ifdef A\n#ifdef B\n#ifdef C\n#ifdef D\nstruct deep { int x; };\nint deep_f(void)\n{\n\treturn 1;\n}\n"
        b"#endif\n#endif\n#endif\n#endif\n",
        ["deep", "deep_f"],
    ),
    "python": (
        b"class A:\n    class B:\n        class C:\n            def m(self):\n                return 1\n",
        ["A", "A.B", "A.B.C", "A.B.C.m"],
    ),
}


@pytest.mark.parametrize("language", sorted(DEEP))
def test_definitions_deeper_than_the_first_query_pass_are_found(language: str) -> None:
    source, symbols = DEEP[language]
    assert [c.symbol for c in chunk_source("f", language, source) if c.kind != "module"] == symbols


def test_items_inside_macro_bodies_within_macro_bodies_are_chunked() -> None:
    source = (
        b"cfg_rt! {\n    pin_project! {\n        /// Runs local tasks.\n        pub struct LocalSet {\n"
        b"            tick: u8,\n        }\n    }\n\n    impl LocalSet {\n        pub fn run(&self) {\n"
        b"            self.tick();\n        }\n    }\n}\n\nvec![1, 2, 3];\nformat_args! { \"{}\", x };\n"
    )
    named = [(c.symbol, c.start_line, c.end_line) for c in chunk_source("local.rs", "rust", source) if c.symbol]
    assert named == [("LocalSet", 3, 6), ("LocalSet", 9, 13), ("LocalSet.run", 10, 12)]


def test_definitions_inside_a_function_stay_in_its_chunk() -> None:
    source = b"def outer():\n    class Inner:\n        def m(self):\n            return 1\n    return Inner\n"
    (chunk,) = chunk_source("f.py", "python", source)
    assert (chunk.symbol, chunk.start_line, chunk.end_line) == ("outer", 1, 5)


MARKDOWN = b"""Intro before any heading.

# Install

Run the installer.

```sh
# not a heading, a shell comment
pip install codesearch
```

## Usage ##

Ask a question.
"""


def test_markdown_splits_at_headings() -> None:
    chunks = chunk_source("README.md", "markdown", MARKDOWN)
    assert triples(chunks) == [
        ("section", "", 1, 1),
        ("section", "Install", 3, 10),
        ("section", "Usage", 12, 14),
    ]
    assert chunks[1].text.startswith("# Install\n")


def test_long_markdown_section_is_windowed_under_its_heading() -> None:
    source = b"# Notes\n" + b"".join(b"note %d\n" % i for i in range(50))
    chunks = chunk_source("NOTES.md", "markdown", source, max_lines=20)
    assert len(chunks) >= 3
    assert all(c.kind == "section" and c.symbol == "Notes" for c in chunks)
    assert all(c.text.startswith("# Notes\n") and len(c.text.split("\n")) <= 20 for c in chunks)
    assert (chunks[0].start_line, chunks[-1].end_line) == (1, 51)


@pytest.mark.parametrize("language", ["rst", "text", "ini"])
def test_text_without_grammar_is_cut_into_half_size_windows(language: str) -> None:
    source = b"".join(b"key%d: value\n" % i for i in range(130))
    chunks = chunk_source("config", language, source)
    assert triples(chunks) == [("window", "", 1, 60), ("window", "", 61, 120), ("window", "", 121, 130)]


BROKEN = {
    "python": b"def ok(x):\n    return x\n\ndef broken(:\n    pass\n\nclass K:\n    def m(self):\n        return 1\n",
    "javascript": b"function ok() { return 1; }\n\nfunction broken( {\n\nclass K {\n  m() { return 2; }\n}\n",
    "java": b"class K {\n  void ok() { run(); }\n  void broken( { \n}\n",
}


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_syntax_errors_still_yield_definitions(language: str) -> None:
    chunks = chunk_source("broken", language, BROKEN[language])
    assert chunks
    assert any(c.kind in {"function", "method"} for c in chunks)


CLEAN = {
    "python": b"import os\n\nNAME = 'x'\n\ndef f():\n    return 1\n\nclass A:\n    def m(self):\n        return 2\n",
    "javascript": (
        b"import os from 'os';\n\nconst NAME = 'x';\n\n"
        b"function f() {\n  return 1;\n}\n\nclass A {\n  m() { return 2; }\n}\n"
    ),
}

HOSTILE = {
    "bom": lambda s: b"\xef\xbb\xbf" + s,
    "crlf": lambda s: s.replace(b"\n", b"\r\n"),
    "invalid_utf8": lambda s: s.replace(b"'x'", b"'\xff\xfe\xc3'"),
    "nul": lambda s: s.replace(b"'x'", b"'\x00x'"),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE))
@pytest.mark.parametrize("language", sorted(CLEAN))
def test_hostile_bytes_keep_line_numbers(language: str, variant: str) -> None:
    clean = triples(chunk_source("f", language, CLEAN[language]))
    assert [k for k, *_ in clean] == ["module", "function", "class", "method"]
    assert triples(chunk_source("f", language, HOSTILE[variant](CLEAN[language]))) == clean


@pytest.mark.parametrize("language", ["python", "markdown", "text", "rust"])
@pytest.mark.parametrize("source", [b"", b"  \n\n\t\r\n"])
def test_empty_file_has_no_chunks(language: str, source: bytes) -> None:
    assert chunk_source("empty", language, source) == []


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_deeply_nested_expression_does_not_raise(language: str) -> None:
    source = b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n\nfunction_after = 1\n"
    chunks = chunk_source("deep", language, source)
    assert chunks[-1].end_line == 3


def test_unexpected_error_falls_back_to_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("grammar surprise")

    monkeypatch.setattr(chunker, "_code_spans", explode)
    chunks = chunk_source("f.py", "python", CLEAN["python"])
    assert triples(chunks) == [("window", "", 1, 10)]


UNLOADABLE = {
    "missing_wheel": chunker._Grammar("tree_sitter_no_such_language", "language", "python"),
    "bad_query": chunker._Grammar("tree_sitter_python", "language", "ruby"),  # Ruby's node names
}


@pytest.mark.parametrize("language", sorted(UNLOADABLE))
def test_grammar_that_cannot_load_falls_back_to_windows_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    monkeypatch.setitem(chunker._GRAMMARS, language, UNLOADABLE[language])
    with pytest.warns(RuntimeWarning, match=f"the {language} grammar did not load") as caught:
        first = chunk_source("a.x", language, CLEAN["python"])
        second = chunk_source("b.x", language, CLEAN["python"])
    assert len(caught) == 1
    assert triples(first) == triples(second) == [("window", "", 1, 10)]


@settings(max_examples=60, deadline=None)
@given(
    source=st.binary(max_size=400),
    language=st.sampled_from(["python", "c", "ruby", "markdown", "text"]),
)
def test_any_bytes_give_chunks_inside_the_file(source: bytes, language: str) -> None:
    last_line = source.count(b"\n") + 1
    for chunk in chunk_source("fuzz", language, source, max_lines=8, max_chars=120):
        assert 1 <= chunk.start_line <= chunk.end_line <= last_line
        assert chunk.text.strip()


@pytest.mark.parametrize("language", ["markdown", "text", "python"])
def test_bom_only_file_has_no_chunks(language: str) -> None:
    assert chunk_source("a", language, b"\xef\xbb\xbf\n") == []


@pytest.mark.parametrize(
    ("language", "source"),
    [("toml", b"[a]\nx = 1\n\n# About b.\n[b]\ny = 2\n"), ("yaml", b"a:\n  x: 1\n\n# About b.\nb:\n  y: 2\n")],
)
def test_a_comment_the_grammar_nests_in_the_previous_block_goes_with_the_next(language: str, source: bytes) -> None:
    assert triples(chunk_source("f", language, source)) == [("class", "a", 1, 2), ("class", "b", 4, 6)]
