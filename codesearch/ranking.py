"""The ranking stage after retrieval: small named signals that reorder the fused candidates.

Retrieval (dense + BM25, fused in `searcher.fuse`) finds the right code but often not first:
tests outrank the code they test, a name's uses outrank its definition, a README outranks the
code it describes, and one long file fills the list. `rerank` scores each candidate as
(fused score + bonuses) x factors (one of them for a byte-identical copy deeper than another
candidate, `deeper_copies`), lifts each file's best chunk by the file's evidence, then spreads
the list over files. The searcher adds the chunks that define a one-identifier query,
or a capitalized name in a sentence, to the candidates even when retrieval missed them
(`asked_identifier`, `subject_names`).

Each signal's docstring gives its measured effect as what the whole stage loses without it, on
`benchmarks/peer.py` (the public half of the semble benchmark, NDCG@10 over 32 repositories:
0.677 with every signal off, 0.883 with the stage) and on `benchmarks/quality.py`'s sets (with
the stage: MRR@10 doc-python 0.576, doc-js 0.579, doc-go 0.689, CoSQA nDCG@10 0.494, Java->C#
R@1 0.973; with every signal off 0.577, 0.466, 0.632, 0.496, 0.973). Where a docstring names no
set, those sets did not move. "When added" figures are from the day the signal came, against
the stage as it was then. A signal stays when the peer benchmark needs it
and none of the other sets ends more than 0.01 below where it stood without the stage, and the
static model's target of a hybrid MRR@10 on doc-python 1.30 times BM25's (0.442) still holds.
Settings were chosen on these public sets only, with the 37 grammars of 2026-12-02; 2-core dev
machine; leave-one-out figures measured again on the final stage that evening (0.881), and on
2026-12-03's (0.883) for what came that day: the implementations a query asks for
(`_IMPLEMENTED`), initials of a part of a name (`_initialled`) and `code_folder_bonus`.

Tried and left out: adding a tenth to a quarter of the file's other candidates' scores lowered
both benchmarks; weighting dense and lexical by the query's kind (a lexical-heavier fusion for
one-identifier queries) gained 0.001; a dense weight of 0.6 instead of 0.8 gained 0.015 but cost
doc-python 0.021; reciprocal rank fusion (k = 60, dense weight 0.5) instead of min-max fusion
gained 0.016 before this stage but cost CoSQA 0.07 and doc-python 0.08; a bonus for chunks
defining a CamelCase name written inside a sentence cost doc-python 0.009 and Java->C# 0.005
for +0.002 (`subject_bonus`, which asks for the file named after it, costs nothing); light
stemming (plurals, -ing, -er) of the lexical fields and queries gained 0.002 and would need
every index rebuilt; stemming the query alone into prefix terms (`"wait"*` for "waiting", no
rebuild; 2026-12-03) cost 0.0005 to 0.0015 and gained the docstring sets 0.002 to 0.007, but
BM25 alone gained more (doc-python 0.442 -> 0.472, doc-go 0.361 -> 0.499), taking the static
model's hybrid below 1.30 times BM25's; collapsing chunks of identical text to one hit cost serde 0.31 (the copy
kept was the twin); weighing down import-only module chunks moved C +0.012 and Kotlin -0.019
for nothing overall; not counting the repository's own name among the path words cost 0.008;
a candidate pool of 75 or 100 instead of `searcher.CANDIDATES` = 50 gained 0.001 and 0.003
but cost doc-python 0.012 and 0.013. Tried with the evening's stage (0.875-0.879): lifting each
file's best chunk by the cosine of the query with the mean of the file's chunk vectors gained
0.003 to 0.004 but cost doc-python 0.006 to 0.015 at every weight tried (0.05 to 0.3); a bonus
growing with the log of a file's chunk count gained 0.001 and cost doc-python 0.001 and
semantic queries 0.003; a dense weight of 0.7 gained 0.002 and cost doc-python 0.006; more file
evidence for questions starting with "how", the grandparent folder's words among the path
words, summing only a file's best two to five candidates as its evidence, `*_legacy.*` files
as legacy, preferring the first of several capitalized names, and weighing down chunks of a
language few candidates share each moved the peer benchmark by 0.0003 or less, or lowered it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from codesearch.models import Chunk
from codesearch.text import STOPWORDS, query_words, subtokens, word_parts

SUPPORT_WEIGHT = 0.6
"""Score factor for tests, examples, fixtures, benchmarks and docs, unless the query asks for them."""

_SUPPORT_DIRS = frozenset(
    "test tests testing testdata __tests__ spec specs example examples sample samples fixture fixtures "
    "benchmark benchmarks bench mock mocks docs doc".split()
)
_SUPPORT_FILE = re.compile(r"(test_.*|.*_(test|benchmark|bench|testing)\.\w+|.*_spec\.\w+|.*\.(test|spec)\.\w+|.*Tests?\.\w+|conftest\.py)")
_ASKS_FOR_SUPPORT = re.compile(r"\b(tests?|testing|spec|specs|examples?|fixtures?|benchmarks?|mocks?|docs?|documentation)\b", re.I)

PROSE_WEIGHT = 0.5
"""Score factor for prose, configuration and build files, unless the query asks for them."""

_NOT_CODE_LANGUAGES = frozenset(
    "markdown rst asciidoc text yaml toml ini json css scss less html makefile cmake dockerfile starlark".split()
)
_ASKS_FOR_NOT_CODE = re.compile(
    r"\b(docs?|documentation|readme|guides?|changelog|config|configuration|settings|yaml|toml|json|builds?"
    r"|workflows?|ci|makefile|docker|dockerfile|bazel|cmake|css|styles?)\b",
    re.I,
)


def prose_factor(query: str, chunk: Chunk) -> float:
    """PROSE_WEIGHT for a chunk of prose (README, AGENTS.md, guides) or of a configuration or
    build file (a workflow, BUILD.bazel, a stylesheet), unless the query asks for such files.

    A README or an agent's instructions describe every feature in the words people ask with,
    so they outrank the code that does it (nvm: AGENTS.md and CLAUDE.md above nvm.sh for "how
    nvm resolves an alias"); a build target or a CI label is named after the library it
    builds (abseil: BUILD.bazel's `flat_hash_map` above flat_hash_map.h). Peer benchmark
    without it: 0.881 -> 0.876 (Bash 0.964 -> 0.942, Go 0.889 -> 0.875; when added, 0.3 to 0.7
    were within 0.002, and prose alone gave all but 0.003 of it); the docstring sets and CoSQA
    hold neither.
    """
    if chunk.language in _NOT_CODE_LANGUAGES and not _ASKS_FOR_NOT_CODE.search(query):
        return PROSE_WEIGHT
    return 1.0


LEGACY_WEIGHT = 0.3
"""Score factor for a copy of code that people do not mean when they ask (kept for
compatibility, an older version, a private or Windows twin), unless the query names its folder."""

_LEGACY_DIRS = frozenset("compat _compat legacy deprecated".split())
_VERSION_DIR = re.compile(r"v(\d+)")
_SIDE_DIRS = frozenset("internal _internal private _private win win32 windows".split())
"""Folders that hold a second copy of what a file elsewhere is about: implementation details
behind a public module, or a Windows port beside the POSIX one."""


def legacy_folders(paths: Iterable[str]) -> frozenset[str]:
    """The folders among `paths` that hold code people do not mean when another copy is among
    them: an older version of an API kept beside a newer one (`src/v3` where the candidates
    also come from `src/v4`), and a side folder (`internal/`, `_internal/`, `win/`, a `vN/`)
    holding a file whose namesake, leading underscores aside, is among `paths` outside any
    side folder (`_internal/_fields.py` and `fields.py`, `win/tcp.c` and `unix/tcp.c`,
    `v1/main.py` and `main.py`)."""
    paths = set(paths)
    return _older_versions(paths) | _twin_folders(paths)


def _older_versions(paths: set[str]) -> set[str]:
    versions: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for path in paths:
        folders = path.split("/")[:-1]
        for depth, folder in enumerate(folders):
            if match := _VERSION_DIR.fullmatch(folder):
                versions[tuple(folders[:depth])].add(int(match.group(1)))
    return {"/".join((*parent, f"v{n}")) for parent, ns in versions.items() for n in ns if n < max(ns)}


def _twin_folders(paths: set[str]) -> set[str]:
    side = {path: _side_folder(path) for path in paths}
    read = {_twin_name(path) for path, folder in side.items() if folder is None}
    return {folder for path, folder in side.items() if folder is not None and _twin_name(path) in read}


def _side_folder(path: str) -> str | None:
    """The path of the first side folder (`_SIDE_DIRS` or a `vN`) a file sits in, or None."""
    folders = path.split("/")[:-1]
    for depth, folder in enumerate(folders):
        if folder.lower() in _SIDE_DIRS or _VERSION_DIR.fullmatch(folder):
            return "/".join(folders[: depth + 1])
    return None


def _twin_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].lstrip("_")


def legacy_factor(query: str, legacy: frozenset[str], chunk: Chunk) -> float:
    """LEGACY_WEIGHT for a chunk under a `compat`, `legacy` or `deprecated` folder, or under a
    `legacy_folders` one, unless the query names that folder ("v3 compatibility errors",
    "the internal field collection").

    A library that keeps its previous major version beside the current one (zod's src/v3 beside
    src/v4) answers every question twice, and the old copy's simpler code often matches better;
    so do a public module and its private implementation (pydantic's fields.py and
    _internal/_fields.py), the POSIX and Windows ports of a file (libuv's unix/tcp.c and
    win/tcp.c), and a package and the frozen copy of its previous version inside it (pydantic's
    v1/). Without it: peer benchmark 0.881 -> 0.869 (TypeScript 0.584 -> 0.469, C 0.844 ->
    0.780, Python 0.872 -> 0.854); without the side folders' twins alone, 0.881 -> 0.873. When
    added, 0.6 gave 0.003 less; the compat, legacy and deprecated folders alone changed no
    figure by 0.001. The side folders' twins, added later: 0.858 -> 0.867 (C 0.772 ->
    0.831, Python 0.845 -> 0.869, C++ 0.898 -> 0.913), the other sets unchanged; weighing down
    only the twin files rather than their whole folders gave 0.001 less, and a side folder
    weighed down with no twin in sight gave pydantic 0.02 more but would also weigh down
    libraries whose `internal/` holds the code people ask about.
    """
    folders = chunk.path.split("/")[:-1]
    for depth, folder in enumerate(folders):
        if folder.lower() in _LEGACY_DIRS or "/".join(folders[:depth + 1]) in legacy:
            return 1.0 if _names_folder(query, folder) else LEGACY_WEIGHT
    return 1.0


_SAID_AS = {"win": "windows", "win32": "windows"}
"""Folder names a query says in full."""


def _names_folder(query: str, folder: str) -> bool:
    """Whether the query says a folder's name (`windows` for `win/`)."""
    name = folder.lower().lstrip("_")
    return _SAID_AS.get(name, name) in _words(query)


DEFINITION_BONUS = 2.0
"""Added to the fused score (0..1) of a chunk that defines the identifier a query consists of:
a definition retrieval missed (fused 0) still outranks the best of the name's uses."""
FILE_NAME_BONUS = 1.0
"""Added to each chunk of the file named after the identifier a query consists of."""

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*")
_SYMBOL_PARTS = re.compile(r"\.|::|#|->")


def is_support(path: str) -> bool:
    """Code that exercises or documents the real code rather than being it, told by its path
    (a folder's leading underscores ignored: Go's `_examples/` is skipped by the go tool).
    Counting `_examples/` too: peer benchmark 0.850 -> 0.850 (Go 0.854 -> 0.859); then files
    named `*_benchmark.*`, `*_bench.*` and `*_testing.*` (abseil's hash_benchmark.cc): C++ 0.861
    -> 0.863."""
    *folders, name = path.split("/")
    return any(folder.lower().lstrip("_") in _SUPPORT_DIRS for folder in folders) or bool(_SUPPORT_FILE.fullmatch(name))


def support_factor(query: str, chunk: Chunk) -> float:
    """SUPPORT_WEIGHT for a test, example or doc chunk, unless the query names such code.

    A question about behaviour is answered by the implementation, but its tests repeat the
    behaviour's words (`test_digest_auth_...`) and outrank it. A query saying "documentation"
    asks for doc code as one saying "docs" does (cobra's doc/man_docs.go: Go 0.859 -> 0.861).
    Peer benchmark without it: 0.881 -> 0.873 (Bash 0.964 -> 0.883, TypeScript 0.584 -> 0.558;
    when added, weights 0.3 to 0.6 were within 0.002).
    """
    if is_support(chunk.path) and not _ASKS_FOR_SUPPORT.search(query):
        return SUPPORT_WEIGHT
    return 1.0


def definition_bonus(query: str, exact_found: bool, chunk: Chunk) -> float:
    """DEFINITION_BONUS when the query is one identifier (`HTTPException`, `Foo::bar`,
    `res.render`) and the chunk defines it (its symbol's last part, case and all); half of it
    when only the case differs (`basemodel`) and no candidate defines it as written
    (`exact_found`: `Serialize` is serde's trait, not every `serialize` method).

    Every file that imports `HTTPException` says it more often than the class does, so
    retrieval ranks the uses with the definition. Without it: peer benchmark symbol queries
    0.974 -> 0.909, overall 0.881 -> 0.868 (Rust 0.807 -> 0.697). When added, a bonus of 1.0
    instead: symbol 0.005 less (3.0: 0.005 more, and more uses of a name pushed out). No half
    bonus where the name is defined as written: symbol 0.956 -> 0.960 (Rust 0.678 -> 0.688).
    """
    wanted = asked_identifier(query)
    if wanted is None or not chunk.symbol:
        return 0.0
    defined = _defined_name(chunk.symbol)
    if defined == wanted:
        return DEFINITION_BONUS
    return DEFINITION_BONUS / 2 if not exact_found and defined.lower() == wanted.lower() else 0.0


def file_name_bonus(query: str, chunk: Chunk) -> float:
    """FILE_NAME_BONUS when the query is one identifier and the chunk's file is named after it
    (`Table` -> `Table.kt`, `Semaphore` -> `semaphore.rs`, `field_info` -> `FieldInfo.java`).

    Where no grammar names the definition or the class is split into parts, the file that holds
    it still comes first. Without it: peer benchmark symbol queries 0.974 -> 0.949, overall
    0.881 -> 0.877. When added, without the definitions found by name (`asked_identifier`)
    instead: symbol 0.025 less.
    """
    wanted = asked_identifier(query)
    if wanted is None:
        return 0.0
    return FILE_NAME_BONUS if _plain(_stem(chunk.path)) == _plain(wanted) else 0.0


SUBJECT_BONUS = 1.5
"""Added to a chunk that defines a name the query writes with a capital, in the file named
after it or in its module's own file, for a query of words."""
_CAPITALIZED = re.compile(r"\b[A-Z][A-Za-z0-9_]*\b")
NAMESPACE_SHARE = 0.5
"""A capitalized name that begins more than this share of the candidates' symbols is the
namespace they live in (`Phoenix` of `Phoenix.Router.match`), not the query's subject."""
_INDEX_FILES = frozenset({"mod", "lib", "index", "init"})
"""A module's own file (`ser/mod.rs`, `src/lib.rs`, `index.ts`, `__init__.py`), spelled as `_plain`
spells it: named for no definition, it holds what its module is about (serde's `Serialize`
trait is in ser/mod.rs)."""


def subject_names(query: str, candidates: Iterable[Chunk] = ()) -> frozenset[str]:
    """The names a query of words writes with a capital (`Request`, `SqlExpressionBuilder`,
    `Ecto.Query` -> `Ecto`, `Query`), less the namespace that begins most `candidates`' symbols."""
    names = _capitalized(query)
    firsts = [_SYMBOL_PARTS.split(c.symbol, 1)[0] for c in candidates if c.symbol]
    limit = NAMESPACE_SHARE * len(firsts)
    return frozenset(n for n in names if not firsts or sum(f == n for f in firsts) <= limit)


def subject_bonus(subjects: frozenset[str], chunk: Chunk) -> float:
    """SUBJECT_BONUS when the chunk defines one of `subjects` (case and all) in the file named
    after it or in its module's own file (`_INDEX_FILES`): "Request type and HTTP request
    representation" is `Request` in Request.swift, "Op and SqlExpressionBuilder for composing
    WHERE conditions" `Op` in Op.kt, "MapAccess and SeqAccess" serde's de/mod.rs.

    People name the type they ask about, capitalized as the code spells it, inside a sentence;
    retrieval ranks every chunk that uses the type beside the one that defines it, and
    `path_words_bonus` favours long file names that hold several of the query's words. The
    file's name must be the type's so that a class merely named in passing is not lifted.
    Without it: peer benchmark 0.881 -> 0.869 (Kotlin 0.788 -> 0.726, Swift 0.864 -> 0.801,
    Rust 0.807 -> 0.736, semantic 0.883 -> 0.873). When added (0.829 -> 0.838), 1.0 gave 0.001
    less and 2.0 the same; without the namespace rule, Phoenix's `Phoenix` module (phoenix.ex)
    came first for every "how Phoenix ..." question (Elixir 0.864 instead of 0.882). Module
    files, added later: 0.843 -> 0.845 (Rust 0.639 -> 0.672). A third of the bonus for a
    definition in any other file cost doc-python 0.007 (0.75 of it: 0.025) and gained nothing.
    """
    if not chunk.symbol:
        return 0.0
    defined = _defined_name(chunk.symbol)
    file_name = _plain(_stem(chunk.path))
    if defined in subjects and (file_name == _plain(defined) or file_name in _INDEX_FILES):
        return SUBJECT_BONUS
    return 0.0


_IMPLEMENTED = re.compile(r"\b([A-Z]\w*)\s+(?i:impls?|implementations?)\b|\b(?i:impls?|implementations?)\s+of\s+([A-Z]\w*)")
"""A name the query asks for the implementations of: "standard library type Serialize
implementations" asks for serde's `impl Serialize for ...` blocks (ser/impls.rs), not for the
trait. Without it: peer benchmark 0.8834 -> 0.8828 (serde 0.863 -> 0.845), the other sets
unchanged. "instances" as well gained aeson 0.03 ("FromJSON and ToJSON instances" are Haskell's
instance declarations) but would take the class away from "how Session instances are closed"."""


@lru_cache(maxsize=64)
def _capitalized(query: str) -> frozenset[str]:
    """A query of words' capitalized names, less those it asks the implementations of; none for
    a one-identifier query, which `definition_bonus` and `file_name_bonus` serve."""
    if asked_identifier(query) is not None:
        return frozenset()
    implemented = {name for pair in _IMPLEMENTED.findall(query) for name in pair if name}
    return frozenset(_CAPITALIZED.findall(query)) - implemented


CODE_NAME_BONUS = 1.0
"""Added to a chunk that defines a snake_case name written inside a query of words."""
_SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b")


def code_name_bonus(query: str, chunk: Chunk) -> float:
    """CODE_NAME_BONUS when the chunk defines a snake_case name the query writes among its
    words ("how bats_pipe chains commands", "has_many belongs_to and many-to-many
    association definitions"), in whatever file.

    No English word has an underscore, so such a name is the code the question is about, and
    retrieval ranks its callers beside it. Without it: peer benchmark 0.881 -> 0.878 (Bash
    0.964 -> 0.937, Elixir 0.911 -> 0.891), MRR@10 doc-python 0.576 -> 0.577. When added, 0.875
    -> 0.879 (Rust 0.794 -> 0.803), the other sets unchanged; 0.3 and 0.6 gained 0.003 and
    0.002 less. camelCase names as well gained 0.001 less and cost doc-js 0.014 and Java->C#
    R@1 0.016: docs name the function another is like (`_.pullAll`), and Java code is all
    camelCase names. Adding the definitions retrieval missed to the candidates, as for
    capitalized names, changed nothing.
    """
    if not chunk.symbol or asked_identifier(query) is not None:
        return 0.0
    return CODE_NAME_BONUS if _defined_name(chunk.symbol) in _snake_names(query) else 0.0


@lru_cache(maxsize=64)
def _snake_names(query: str) -> frozenset[str]:
    return frozenset(_SNAKE_CASE.findall(query))


CODE_FOLDER_BONUS = 1.0
"""Added to a chunk under a folder whose name is a snake_case name written in a query of words."""


def code_folder_bonus(query: str, chunk: Chunk) -> float:
    """CODE_FOLDER_BONUS when one of the folders above the chunk's file, at any depth, is named
    exactly as a snake_case name the query writes ("serde_derive Container Variant and Field AST
    types" is serde_derive/src/internals/ast.rs, not its copy in serde_derive_internals/src).

    Such a name is a package or a crate the question is about, and a tree that vendors or
    copies a package holds its files twice. Without it: peer benchmark 0.8834 -> 0.8823 (serde
    0.863 -> 0.830), the other sets unchanged; 0.3 and 0.5 gained half as much when added.
    """
    names = _snake_names(query)
    if not names or asked_identifier(query) is not None:
        return 0.0
    return CODE_FOLDER_BONUS if not names.isdisjoint(chunk.path.split("/")[:-1]) else 0.0


NAME_WORDS_BONUS = 0.7
"""Added, in proportion to the query words a chunk's symbol spells, for a query of several words."""


def name_words_bonus(query: str, chunk: Chunk) -> float:
    """NAME_WORDS_BONUS times the share of the query's words that the chunk's symbol is made of
    (`parse config` -> `parseConfig`, `ConfigParser.parse`), for a code chunk and a query of two
    words or more; a word matches a part with up to three letters more or less at its end
    (`creates` -> `create_review`, `strips tags` -> `strip_tags`).

    A name says what code is for; a body full of the same words may only use it. Without it:
    peer benchmark 0.881 -> 0.877 (though Elixir 0.911 -> 0.932 and architecture 0.811 ->
    0.816), MRR@10 doc-python 0.576 -> 0.563, doc-js 0.578 -> 0.543, doc-go 0.689 -> 0.619,
    CoSQA nDCG@10 0.494 -> 0.496. When added, a bonus of 1.0 gained 0.006 more but cost CoSQA
    0.017, past the 0.01 the other sets may lose; 0.7 instead of 0.6, chosen again with the
    later signals, gained 0.003 with file evidence at 0.22. Words matched by their ends as well as exactly, added later:
    MRR@10 doc-go 0.642 -> 0.692, doc-js 0.568 -> 0.578, doc-python 0.576 -> 0.579, CoSQA
    0.488 -> 0.494, peer benchmark 0.868 -> 0.869. A prose section's heading is not a name:
    counting headings too gave 0.0004 less.
    """
    words = _words(query)
    if len(words) < 2 or not chunk.symbol or chunk.language in _NOT_CODE_LANGUAGES or asked_identifier(query) is not None:
        return 0.0
    named = set(subtokens(chunk.symbol))
    found = sum(any(word == name or _near(word, name) for name in named) for word in words)
    return NAME_WORDS_BONUS * found / len(words)


PATH_WORDS_BONUS = 1.5
"""Added, in proportion to the query words its file's or folder's name spells, to a chunk, for
a query of words rather than one identifier."""

_SHORTEST_STEM = 3


def path_words_bonus(query: str, chunk: Chunk) -> float:
    """PATH_WORDS_BONUS times the share of the query's words (three letters or more) that
    the chunk's file name or folder name holds, a word matching when one starts with the other
    (`dependency` matches `dependencies.py`, `route` matches `routing/`), and a run of words
    when their initials are the name (`_initialled`).

    People name files after what they do, so "how redirects are followed" is answered in
    `redirects.py` even where its chunks say `location` and `history`. Without it: peer
    benchmark 0.881 -> 0.860 (semantic 0.883 -> 0.846), MRR@10 doc-js 0.578 -> 0.545,
    doc-python 0.576 -> 0.580. When added, a bonus of 1.0 gained 0.003 less; 2.0, tried later,
    0.005 less.
    """
    words = _long_words(query)
    if not words or asked_identifier(query) is not None:
        return 0.0
    named = _path_words(chunk.path)
    found = {w for w in words if any(_stem_match(w, n) for n in named)} | (_initialled(query, chunk.path) & words)
    return PATH_WORDS_BONUS * len(found) / len(words)


_INITIALS = range(2, 5)
"""The lengths of a file or folder name that may be a run of the query's words' initials."""


def _initialled(query: str, path: str) -> set[str]:
    """The query's runs of words (three letters or more each) whose initials spell the chunk's
    file or folder name, or a part of it: `fs.c` for "file system", `TH.hs` for "Template
    Haskell", `hf.py` for "HuggingFace Hub", `async_fd.rs` for "file descriptor". Peer benchmark
    0.867 -> 0.868 when added (Haskell 0.887 -> 0.904, C 0.831 -> 0.840), MRR@10 doc-js 0.568 ->
    0.567, the other sets unchanged. Without the parts of names, added later: 0.8834 -> 0.8828
    (tokio 0.820 -> 0.802: "a non-async file descriptor" is async_fd.rs, not fs/file.rs) and
    MRR@10 doc-js 0.579 -> 0.578; a part that is a stopword is no initials (`EnumAsStringFormatter`'s `as` took
    "are serialized": messagepack-csharp 0.867 -> 0.860)."""
    parts = _ordered_words(query)
    found: set[str] = set()
    for name in _initial_names(path):
        if len(name) not in _INITIALS or not name.isalpha():
            continue
        for start in range(len(parts) - len(name) + 1):
            run = parts[start:start + len(name)]
            if "".join(w[0] for w in run) == name and all(len(w) >= _SHORTEST_STEM for w in run):
                found.update(run)
    return found


@lru_cache(maxsize=64)
def _ordered_words(query: str) -> tuple[str, ...]:
    return tuple(word_parts(query))


@lru_cache(maxsize=4096)
def _initial_names(path: str) -> frozenset[str]:
    """A file's and its folder's names, lowered, and those names' parts that are not stopwords."""
    names = _file_and_folder(path)
    return frozenset({name.lower() for name in names} | {p for p in word_parts(" ".join(names)) if p not in STOPWORDS})


@lru_cache(maxsize=4096)
def _path_words(path: str) -> frozenset[str]:
    """The words of a file's name (without extension) and of the folder it is in; cached, as
    a long-lived searcher meets the same files query after query."""
    return frozenset(subtokens(" ".join(_file_and_folder(path))))


@lru_cache(maxsize=4096)
def _file_and_folder(path: str) -> tuple[str, str]:
    """A file's name without extension and the name of the folder it is in ("" at the root):
    the names the path signals match the query against."""
    folders = path.split("/")[:-1]
    return _stem(path), folders[-1] if folders else ""


_SHORTEST_ROOT = 4
_NOUN_ENDINGS = ("ities", "ity", "ies", "es", "s")
"""Plural and -ity endings, the first that leaves a root of _SHORTEST_ROOT letters is taken
off. Path words matched by root as well as by prefix: peer benchmark 0.838 -> 0.843 (Elixir
0.882 -> 0.892, Kotlin 0.754 -> 0.788: "how SQL queries are built" is Query.kt, "SchemaUtils
for creating tables" SchemaUtilityApi.kt), MRR@10 doc-js 0.564 -> 0.566, doc-go 0.641 ->
0.640, the others unchanged. Verb endings as well (-ing, -er, -ed, -ation) gave 0.842 but cost
doc-python 0.002."""


@lru_cache(maxsize=65536)
def _stem_match(word: str, named: str) -> bool:
    """One word starts with the other (three letters or more), or their roots do (four or
    more): `utility` and `utils` are both `util`, `properties` and `property` `propert`.
    Cached, as is `_near`: a query's words meet the same names candidate after candidate (on
    the Linux kernel's index the stage took 9.2 ms a query without the caches, 7.2-8.4 ms with
    them, 5.6-7.4 ms before name words were matched this way; 2-core machine, 2026-12-02)."""
    if _prefixed(word, named, _SHORTEST_STEM):
        return True
    return _prefixed(_root(word), _root(named), _SHORTEST_ROOT)


def _prefixed(a: str, b: str, least: int) -> bool:
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= least and longer.startswith(shorter)


_SAME_ROOT = {
    # What a helpers file goes by besides `util`: "system property helpers" is SystemUtils.java.
    # Peer benchmark 0.851 -> 0.852 (Java 0.841 -> 0.871), the other sets unchanged.
    "helper": "util", "helpers": "util", "tool": "util", "tools": "util",
    # Abbreviations code names files with: "positional argument validators" is cobra's args.go.
    # Peer benchmark 0.857 -> 0.858 (Go 0.862 -> 0.871, C++ 0.906 -> 0.898: "format_arg argument
    # storage" now also finds fmt's args.h), the other sets unchanged.
    "args": "argument", "arg": "argument", "params": "parameter", "param": "parameter", "opts": "option", "opt": "option",
    "msg": "message", "msgs": "message", "req": "request", "res": "response", "resp": "response", "ctx": "context",
    "cmd": "command", "cmds": "command", "pkg": "package", "err": "error", "errs": "error", "db": "database",
    "fmt": "format", "str": "string", "num": "number", "val": "value", "vals": "value", "src": "source",
    "dst": "destination", "cfg": "config", "conf": "config", "addr": "address", "conn": "connection",
    "proc": "process", "sig": "signal", "buf": "buffer", "tmpl": "template", "dir": "directory", "dirs": "directory",
}
"""Words that stand for another in file and folder names: their root is that word's."""


@lru_cache(maxsize=65536)
def _root(word: str) -> str:
    word = _SAME_ROOT.get(word, word)
    for ending in _NOUN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _SHORTEST_ROOT:
            return word[: -len(ending)]
    return word


NAMED_FOR_QUERY_BONUS = 0.25
"""Added to a chunk whose file's name is made only of the query's words, for a query of words."""

_NEAR_ENDING = 3


def named_for_query_bonus(query: str, chunk: Chunk) -> float:
    """NAMED_FOR_QUERY_BONUS when every word of the chunk's file name (less its extension) is a
    word of the query, or one with an ending of up to three letters more or less
    (`Response.swift` for "Response type and HTTP response construction", `Sessions.swift`
    for "session storage").

    `path_words_bonus` counts the query's words a path holds, so a long name that holds two of
    them (`HTTPServerResponseEncoder.swift`) outranks the short one that is all about the
    subject; this one rewards the name that says nothing else. The ending is bounded, unlike
    `path_words_bonus`'s prefixes, so that "cache" does not name all of `cacheutils.py`.
    Without it: peer benchmark 0.881 -> 0.867 (architecture 0.811 -> 0.799, Swift 0.864 ->
    0.832), MRR@10 doc-js 0.578 -> 0.566, doc-go 0.689 -> 0.695. When added, 0.5 gave 0.005
    less, and prefixes of any length cost doc-python 0.014.
    """
    words = _long_words(query)
    if not words or asked_identifier(query) is not None:
        return 0.0
    parts = word_parts(_stem(chunk.path))
    if not parts or not all(any(_near(word, part) for word in words) for part in parts):
        return 0.0
    return NAMED_FOR_QUERY_BONUS


@lru_cache(maxsize=65536)
def _near(word: str, part: str) -> bool:
    return _stem_match(word, part) and abs(len(word) - len(part)) <= _NEAR_ENDING


FILE_EVIDENCE = 0.22
"""Added to each file's best chunk, times the file's share of the candidates' summed score
(that of the file with the largest sum being 1), in units of the best score."""


def file_evidence(scored: list[tuple[int, float]], chunks: dict[int, Chunk]) -> list[tuple[int, float]]:
    """`scored` with each file's best chunk raised by FILE_EVIDENCE in proportion to the score
    all the file's candidates sum to.

    A file where many chunks match is where a behaviour lives ("how persistent flags are
    inherited" is command.go, whose every method mentions flags), while a lone strong chunk
    elsewhere may only mention it. Without it: peer benchmark 0.881 -> 0.863 (architecture
    0.811 -> 0.796, symbol 0.974 -> 0.958), MRR@10 doc-python 0.576 -> 0.585, doc-js 0.578 ->
    0.568, doc-go 0.689 -> 0.699. With the afternoon's signals, 0.25 gave 0.857 with doc-python
    0.574 (below 1.30 times BM25's), 0.3 gave 0.856 with 0.570: the docstring sets' answers are
    single functions in files of many, where the file's sum favours long files.
    """
    if not scored:
        return scored
    sums: dict[str, float] = defaultdict(float)
    best: dict[str, int] = {}
    for cid, score in scored:
        path = chunks[cid].path
        sums[path] += score
        best.setdefault(path, cid)  # `scored` is best first
    unit = FILE_EVIDENCE * scored[0][1] / max(sums.values())
    lifted = {cid: unit * sums[path] for path, cid in best.items()}
    return _best_first([(cid, score + lifted.get(cid, 0.0)) for cid, score in scored])


FILE_CHUNKS_FREE = 1
REPEAT_WEIGHT = 0.88
"""Score factor for each chunk of a file beyond its best FILE_CHUNKS_FREE in the ranking,
compounding (the second x0.88, the third x0.77, ...)."""


def spread_over_files(scored: list[tuple[int, float]], chunks: dict[int, Chunk]) -> list[tuple[int, float]]:
    """`scored`, best first, with each file's chunks past its best FILE_CHUNKS_FREE weighed down
    by REPEAT_WEIGHT each, then sorted again.

    Ten results that name more files find more of what answers a question, while a file's
    next chunk keeps its place when it is truly next best: the function asked for is often
    next to a near namesake. Without it: peer benchmark 0.881 -> 0.865 (architecture 0.811 ->
    0.788), MRR@10 doc-python 0.576 -> 0.581, doc-go 0.689 -> 0.699. The second at x0.85 or
    x0.8 gave 0.858 and 0.861 with the signals of that day, but doc-python 0.571 and 0.568, below
    1.30 times BM25's 0.442 (x0.7 and x0.5 earlier: 0.560 and 0.536). Chosen again with the
    side-copy, initials and snake_case signals: x0.88 instead of x0.9 gave 0.879 -> 0.881 with
    doc-python 0.578 -> 0.576 (1.303 times BM25's); x0.87 and x0.85 gave 0.882 and 0.883 but
    doc-python 0.575 and 0.574, at and below the 1.30 (x0.85 with 2026-12-03's signals: 0.885,
    doc-python 0.574). Weighing down only a file's third chunk
    and later ones, or only past the first few ranks, cost doc-python more for each gain.
    """
    seen: dict[str, int] = {}
    spread = []
    for cid, score in scored:
        path = chunks[cid].path
        spread.append((cid, score * REPEAT_WEIGHT ** max(0, seen.get(path, 0) - FILE_CHUNKS_FREE + 1)))
        seen[path] = seen.get(path, 0) + 1
    return _best_first(spread)


def rerank(query: str, ranked: list[tuple[int, float]], chunks: dict[int, Chunk]) -> list[tuple[int, float]]:
    """`ranked` (chunk id, fused score; each id's chunk in `chunks`) reordered by the signals."""
    wanted = asked_identifier(query)
    context = _Context(
        subject_names(query, (chunks[cid] for cid, _ in ranked)), legacy_folders(chunks[cid].path for cid, _ in ranked),
        wanted is not None and any(_defined_name(chunks[cid].symbol) == wanted for cid, _ in ranked if chunks[cid].symbol),
    )
    copies = deeper_copies(ranked, chunks)
    scored = _best_first([
        (cid, _score(query, context, score, chunks[cid]) * (COPY_WEIGHT if cid in copies else 1.0)) for cid, score in ranked
    ])
    return spread_over_files(file_evidence(scored, chunks), chunks)


COPY_WEIGHT = 0.5
"""Score factor for a chunk whose text, byte for byte, another candidate has at a shallower path."""


def deeper_copies(ranked: list[tuple[int, float]], chunks: dict[int, Chunk]) -> frozenset[int]:
    """The candidates whose text, byte for byte, another candidate has in a file with fewer
    folders above it.

    A vendored or copied tree repeats its original, and the copy lives inside what vendors it,
    deeper than the original (serde's tree holds serde_core/src again as serde/src/core, where
    upstream has a symlink). Both copies score alike, so the copy took a rank beside or above
    every answer. Without it: peer benchmark 0.881 -> 0.875 (symbol 0.974 -> 0.960). When added,
    0.869 -> 0.875 (serde 0.589 -> 0.793, Rust 0.689 -> 0.794), the other sets unchanged; 0.3 and 0.7 gave 0.0001 and 0.0003 less, dropping the copies
    instead of weighing them down 0.0004 less, and keeping the copy ranked first, as collapsing
    did, cost serde 0.31. Copies at the same depth are left alone, as nothing tells which is the
    original: preferring the shorter path gained the peer benchmark 0.0003 and cost doc-python
    0.001 (boltons' urlutils.py carries a copy of dictutils.py's OrderedMultiDict).
    """
    shallowest: dict[str, int] = {}
    for cid, _ in ranked:
        chunk = chunks[cid]
        shallowest[chunk.text] = min(shallowest.get(chunk.text, chunk.path.count("/")), chunk.path.count("/"))
    return frozenset(cid for cid, _ in ranked if chunks[cid].path.count("/") > shallowest[chunks[cid].text])


@lru_cache(maxsize=64)
def asked_identifier(query: str) -> str | None:
    """The name a query consisting of one identifier asks for (`Foo::bar` -> `bar`), else None:
    the searcher adds the chunks that define it to the candidates, found or not (`defines`)."""
    return _SYMBOL_PARTS.split(query)[-1] if _IDENTIFIER.fullmatch(query) else None


def defines(symbol: str, name: str) -> bool:
    """Whether a chunk's symbol (`Outer.Inner.name`) defines `name`, in any case."""
    return _defined_name(symbol).lower() == name.lower()


def _defined_name(symbol: str) -> str:
    return _SYMBOL_PARTS.split(symbol)[-1]


@lru_cache(maxsize=64)
def _words(query: str) -> frozenset[str]:
    """The query's words (`query_words`), found once per query rather than once per candidate."""
    return frozenset(query_words(query))


@lru_cache(maxsize=64)
def _long_words(query: str) -> frozenset[str]:
    """The query's words of three letters or more, those a file name is matched against."""
    return frozenset(w for w in _words(query) if len(w) >= _SHORTEST_STEM)


def _stem(path: str) -> str:
    """A file's name without its extension: `src/Response.swift` -> `Response`."""
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _best_first(scored: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return sorted(scored, key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class _Context:
    """What the signals learn from all of a query's candidates at once."""

    subjects: frozenset[str]
    legacy: frozenset[str]
    exact_found: bool
    """Whether a candidate defines the identifier the query consists of, case and all."""


def _score(query: str, context: _Context, fused: float, chunk: Chunk) -> float:
    bonus = (
        definition_bonus(query, context.exact_found, chunk) + file_name_bonus(query, chunk) + subject_bonus(context.subjects, chunk)
        + code_name_bonus(query, chunk) + code_folder_bonus(query, chunk) + name_words_bonus(query, chunk)
        + path_words_bonus(query, chunk) + named_for_query_bonus(query, chunk)
    )
    factor = support_factor(query, chunk) * prose_factor(query, chunk) * legacy_factor(query, context.legacy, chunk)
    return (fused + bonus) * factor


def _plain(name: str) -> str:
    """`snake_case`, `kebab-case` and `CamelCase` spelled alike."""
    return re.sub(r"[^0-9a-z]", "", name.lower())
