"""Evaluation sets for benchmarks/quality.py, each laid out as a directory of source files.

Every builder returns a `Dataset`: a corpus directory to index and queries, each with the set
of relevant (path, symbol-or-None) keys. A hit is relevant when its path matches and, where a
symbol is given, its chunk symbol matches too.

- cosqa: CoSQA test-500 (../shared/benchmarks/cosqa), one function per file.
- java-cs: CodeXGLUE Java -> C# test pairs; C# methods wrapped in classes, one per file.
- doc-python / doc-js / doc-go: docstring -> function sets from packages held out of training
  (benchmarks/heldout.py). Doc comments are stripped from the indexed copy; the query is the
  first sentence (Go: without the leading function name, which Go style puts first).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import random
import re
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from training.registries import download_command

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
if not SHARED.exists():
    SHARED = Path("/work/shared/benchmarks")
MAX_QUERIES = 500


@dataclass
class Query:
    text: str
    relevant: set[tuple[str, str | None]]


@dataclass
class Dataset:
    name: str
    corpus: Path
    task: str | None
    queries: list[Query] = field(default_factory=list)


def _write_once(root: Path, files: dict[str, str]) -> None:
    """Write the corpus unless an identical one is there (same fingerprint), so caches stay valid."""
    digest = hashlib.blake2b(json.dumps(sorted(files.items())).encode(), digest_size=16).hexdigest()
    stamp = root / ".corpus-digest"
    if stamp.exists() and stamp.read_text() == digest:
        return
    if root.exists():
        import shutil

        shutil.rmtree(root)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    stamp.write_text(digest)


def cosqa(work: Path) -> Dataset:
    code_map = json.loads((SHARED / "cosqa" / "code_idx_map.txt").read_text())
    files = {f"f{idx:05d}.py": code + "\n" for code, idx in code_map.items()}
    root = work / "cosqa" / "corpus"
    _write_once(root, files)
    data = json.loads((SHARED / "cosqa" / "cosqa-retrieval-test-500.json").read_text())
    queries = [Query(q["doc"], {(f"f{q['retrieval_idx']:05d}.py", None)}) for q in data]
    return Dataset("cosqa", root, "nl2code", queries)


def java_cs(work: Path) -> Dataset:
    java = (SHARED / "java-cs" / "test.java-cs.txt.java").read_text().splitlines()
    cs = (SHARED / "java-cs" / "test.java-cs.txt.cs").read_text().splitlines()
    files = {f"m{i:04d}.cs": f"public class C{i:04d}\n{{\n{line}\n}}\n" for i, line in enumerate(cs)}
    root = work / "java-cs" / "corpus"
    _write_once(root, files)
    queries = [Query(line, {(f"m{i:04d}.cs", None)}) for i, line in enumerate(java)]
    return Dataset("java-cs", root, "code2code", queries)


# ---------------------------------------------------------------- docstring -> function sets

def first_sentence(doc: str) -> str:
    """The summary line of a docstring or doc comment: up to the first blank line or '. '."""
    para = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    para = " ".join(para.split())
    m = re.search(r"(?<=[.!?])\s", para)
    sentence = para[: m.start()] if m else para
    return sentence.strip()


def _usable(query: str) -> bool:
    words = re.findall(r"[A-Za-z]+", query)
    return len(words) >= 3 and not query.lower().startswith(("see ", "deprecated", "todo", "alias", "this is"))


def _strip_python(source: str) -> tuple[str, list[tuple[int, str, str]]] | None:
    """Remove the docstrings of module-level functions and methods; return (new source, targets).

    Each target is (new def line, qualified name, docstring).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.splitlines()
    found: list[tuple[ast.AST, str]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((node, node.name))
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append((sub, f"{node.name}.{sub.name}"))
    edits: list[tuple[int, int, str | None]] = []  # 1-based inclusive line ranges to replace
    targets = []
    for node, qual in found:
        doc = ast.get_docstring(node, clean=True)
        first = node.body[0]
        if not doc or not isinstance(first, ast.Expr):
            continue
        if first.lineno == node.lineno or first.end_lineno is None:
            continue  # one-line def with docstring on the same line
        if lines[first.lineno - 1][: first.col_offset].strip() or lines[first.end_lineno - 1][first.end_col_offset :].strip():
            continue
        repl = (" " * first.col_offset + "pass") if len(node.body) == 1 else None
        edits.append((first.lineno, first.end_lineno, repl))
        targets.append((node.lineno, qual, doc))
    if not targets:
        return None
    removed_before = []
    out: list[str] = []
    edit_at = {start: (end, repl) for start, end, repl in edits}
    i = 1
    shift = 0
    shifts: list[tuple[int, int]] = []  # (old line, lines removed before it)
    while i <= len(lines):
        if i in edit_at:
            end, repl = edit_at[i]
            n = end - i + 1
            if repl is not None:
                out.append(repl)
                n -= 1
            shift += n
            shifts.append((end, shift))
            i = end + 1
            continue
        out.append(lines[i - 1])
        i += 1
    del removed_before

    def new_line(old: int) -> int:
        s = 0
        for end, total in shifts:
            if end < old:
                s = total
        return old - s

    return "\n".join(out) + "\n", [(new_line(line), qual, doc) for line, qual, doc in targets]


_JSDOC_FN = re.compile(r"^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(")


def _strip_js(source: str) -> tuple[str, list[tuple[int, str, str]]] | None:
    """Remove /** ... */ blocks directly above `function name(`; targets as in _strip_python."""
    lines = source.splitlines()
    out: list[str] = []
    targets = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("/**"):
            j = i
            while j < len(lines) and "*/" not in lines[j]:
                j += 1
            if j + 1 < len(lines):
                m = _JSDOC_FN.match(lines[j + 1])
                if m:
                    block = "\n".join(lines[i : j + 1])
                    body = re.sub(r"^\s*/\*\*|\*/\s*$", "", block.strip())
                    doc = "\n".join(re.sub(r"^\s*\* ?", "", l) for l in body.splitlines())
                    doc = doc.split("\n@", 1)[0]
                    doc = re.split(r"(?m)^\s*@", doc, maxsplit=1)[0]
                    targets.append((len(out) + 1, m.group(1), doc))
                    i = j + 1
                    continue
            out.extend(lines[i : j + 1])
            i = j + 1
            continue
        out.append(line)
        i += 1
    if not targets:
        return None
    return "\n".join(out) + "\n", targets


_GO_FN = re.compile(r"^func\s+(?:\(\s*\w*\s*\*?\s*(\w+)(?:\[[^\]]*\])?\s*\)\s*)?(\w+)\s*[\[(]")


def _strip_go(source: str) -> tuple[str, list[tuple[int, str, str]]] | None:
    """Remove the // doc comment directly above each top-level func."""
    lines = source.splitlines()
    out: list[str] = []
    targets = []
    pending: list[str] = []
    for line in lines:
        if line.startswith("//") and not line.startswith("//go:"):
            pending.append(line)
            continue
        m = _GO_FN.match(line)
        if m and pending:
            doc = "\n".join(re.sub(r"^//\s?", "", p) for p in pending)
            name = m.group(2)
            qual = f"{m.group(1)}.{name}" if m.group(1) else name
            targets.append((len(out) + 1, qual, doc))
            pending = []
        else:
            out.extend(pending)
            pending = []
        out.append(line)
    out.extend(pending)
    if not targets:
        return None
    return "\n".join(out) + "\n", targets


def _go_query(doc: str, qual: str) -> str:
    sentence = first_sentence(doc)
    name = qual.rsplit(".", 1)[-1]
    words = sentence.split(" ", 1)
    if len(words) == 2 and words[0] == name:
        sentence = words[1]
    return sentence


STRIPPERS = {"python": (".py", _strip_python), "javascript": (".js", _strip_js), "go": (".go", _strip_go)}


EXCLUDE_FILES = (
    r"(^|/)(tests?|testdata|vendor|examples?|fp)/|_test\.go$|\.min\.js$"
    r"|accessors\.go$"  # go-github: thousands of generated one-line getters
    r"|^package/(lodash|core|fp)\.js$"  # lodash: monolithic copies of the per-function modules
)


def _package_files(eco: str, name: str, suffix: str, cache: Path) -> dict[str, str]:
    """Fetch the held-out package by name and return its source files {relative path: text}."""
    dest = cache / "pkgs" / f"{eco}-{name}"
    dest.mkdir(parents=True, exist_ok=True)
    if not any(dest.iterdir()):
        subprocess.run(download_command(eco, name, str(dest)), cwd=dest, check=True, capture_output=True)
    files: dict[str, str] = {}
    for archive in sorted(dest.iterdir()):
        for rel, data in iter_archive(archive):
            if rel.endswith(suffix) and not re.search(EXCLUDE_FILES, rel):
                try:
                    files[rel] = data.decode("utf-8")
                except UnicodeDecodeError:
                    pass
    return files


def iter_archive(archive: Path):
    """(relative path, bytes) of every regular file in a wheel, sdist, npm tarball or .deb."""
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, zf.read(info)
    elif name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        with tarfile.open(archive) as tf:
            for member in tf:
                if member.isfile():
                    f = tf.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    elif name.endswith(".deb"):
        yield from _deb_members(archive)


def _deb_members(archive: Path):
    """A .deb is an ar archive holding data.tar.*; read it without dpkg."""
    raw = archive.read_bytes()
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        ident = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = raw[pos + 60 : pos + 60 + size]
        if ident.startswith("data.tar"):
            mode = "r:*"
            if ident.endswith(".zst"):
                import zstandard  # pragma: no cover - bookworm uses xz

                body = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 31)
                mode = "r:"
            with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as tf:
                for member in tf:
                    if member.isfile():
                        f = tf.extractfile(member)
                        if f is not None:
                            yield member.name.lstrip("./"), f.read()
        pos += 60 + size + (size & 1)


DOC_SETS = {
    "doc-python": ("pypi", "boltons", "python"),
    "doc-js": ("npm", "lodash", "javascript"),
    "doc-go": ("deb", "golang-github-google-go-github-dev", "go"),
}


def docstring_set(name: str, work: Path, seed: int = 0) -> Dataset:
    eco, package, language = DOC_SETS[name]
    suffix, strip = STRIPPERS[language]
    sources = _package_files(eco, package, suffix, work)
    files: dict[str, str] = {}
    candidates: list[tuple[str, int, str, str]] = []
    for rel, text in sorted(sources.items()):
        stripped = strip(text)
        files[rel] = stripped[0] if stripped else text
        if stripped:
            for line, qual, doc in stripped[1]:
                query = _go_query(doc, qual) if language == "go" else first_sentence(doc)
                if _usable(query):
                    candidates.append((rel, line, qual, query))
    root = work / name / "corpus"
    _write_once(root, files)
    # Map each target's def line to the chunk symbol the engine gives it (innermost function chunk).
    from codesearch.chunker import chunk_source

    by_file: dict[str, list] = {rel: chunk_source(rel, language, text.encode("utf-8")) for rel, text in files.items() if rel.endswith(suffix)}
    # Packages vendor copies of their own functions (boltons' urlutils repeats dictutils'
    # OrderedMultiDict): every chunk with the same code as the target counts as relevant.
    copies: dict[str, set[tuple[str, str]]] = {}
    for rel, chunks in by_file.items():
        for c in chunks:
            copies.setdefault(_code_key(c.text), set()).add((rel, c.symbol))
    queries: list[Query] = []
    seen_queries: set[str] = set()
    for rel, line, qual, query in candidates:
        spans = [c for c in by_file[rel] if c.kind in ("function", "method") and c.start_line <= line <= c.end_line]
        if not spans:
            continue
        best = min(spans, key=lambda c: c.end_line - c.start_line)
        if query.lower() in seen_queries:
            continue  # identical summaries (overloads, wrappers) are ambiguous queries
        seen_queries.add(query.lower())
        queries.append(Query(query, {(rel, best.symbol)} | copies.get(_code_key(best.text), set())))
    rng = random.Random(seed)
    if len(queries) > MAX_QUERIES:
        queries = rng.sample(queries, MAX_QUERIES)
    return Dataset(name, root, "nl2code", queries)


def _code_key(text: str) -> str:
    return hashlib.blake2b(re.sub(r"\s+", "", text).encode("utf-8", "replace"), digest_size=12).hexdigest()


def load(name: str, work: Path) -> Dataset:
    if name == "cosqa":
        return cosqa(work)
    if name == "java-cs":
        return java_cs(work)
    return docstring_set(name, work)


ALL = ["cosqa", "java-cs", *DOC_SETS]
