"""Mine (summary, code) pairs from the fetched packages with the project's own chunker.

    python training/mine.py [--data /work/data] [--jobs 2]

For each function or method chunk with a doc comment or docstring: the summary is the first
sentence of the doc; the code is the chunk with the doc removed, behind the same one-line
header the indexer embeds (`language kind symbol`). Pairs are dropped when:
- the package licence is not permissive (the lock file records every licence);
- the function matches (hash of whitespace-free, lower-cased code, whole or body only) a
  function of CPython's standard library (this interpreter's Lib dir), of the evaluation sets in
  ../shared/benchmarks (CoSQA, Java -> C#), or of the held-out evaluation packages;
- the summary equals a CoSQA function's docstring summary;
- it repeats a code hash already kept (duplicates across vendored copies), or its summary already
  appears 3 times.
Writes DATA/pairs.jsonl and training/packages.lock (ecosystem, name, version, licence, pairs).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import sysconfig
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.datasets import SHARED, first_sentence, iter_archive  # noqa: E402
from benchmarks.heldout import HELD_OUT  # noqa: E402
from codesearch.chunker import chunk_source  # noqa: E402
from codesearch.languages import detect_language  # noqa: E402
from codesearch.text import plain_prose  # noqa: E402

LANGS = {"python", "javascript", "typescript", "go", "rust", "ruby", "php"}
MAX_SOURCE_BYTES = 6_000_000  # per package, so a few giants do not drown the rest
MAX_CODE_CHARS = 3000
MAX_REST_CHARS = 600  # the doc after its first sentence, kept for training-time augmentation
PERMISSIVE = re.compile(r"\b(MIT|Expat|BSD|Apache|ISC|PSF|Python Software|Zlib|Unlicense|0BSD|CC0|Public.Domain|HPND|Ruby|Artistic|X11|Boost|BlueOak|WTFPL|Historical Permission)", re.I)
COPYLEFT = re.compile(r"\b(A?GPL|LGPL|MPL|Mozilla|EPL|Eclipse|CDDL|SSPL|EUPL|OSL|Commons Clause)", re.I)
SKIP_PATH = re.compile(r"(^|/)(tests?|testing|testdata|__tests__|spec|specs|fixtures|examples?|benchmarks?|docs?|vendor|_vendor|node_modules|third_party|dist/.*\.min)/|\.min\.js$|_test\.go$|_pb2\.py$|\.pb\.go$|\.d\.ts$", re.I)


# ------------------------------------------------------------------ normalisation and hashing

def norm_hash(code: str) -> str:
    return hashlib.blake2b(re.sub(r"\s+", "", code).lower().encode("utf-8", "replace"), digest_size=12).hexdigest()


def code_hashes(code: str) -> list[str]:
    """Whole-function hash, plus a body-only hash (renamed copies) when the body is substantial."""
    lines = [l for l in code.strip().splitlines() if l.strip()]
    out = [norm_hash("\n".join(lines))]
    body = "\n".join(lines[1:])
    if len(re.sub(r"\s+", "", body)) >= 60:
        out.append("b" + norm_hash(body))
    return out


def norm_summary(s: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


_PY_DOC = re.compile(r'^(?P<indent>[ \t]*)[rRuUbB]{0,2}(?P<q>"""|\'\'\'|"|\')(?P<doc>.*?)(?P=q)[ \t]*\n?', re.S | re.M)
_PY_DEF = re.compile(r"^[ \t]*(async[ \t]+)?def[ \t]", re.M)


def split_python(text: str) -> tuple[str, str] | None:
    """(docstring, code without it) for a Python function chunk; None when it has none."""
    m = _PY_DEF.search(text)
    if not m:
        return None
    # the docstring is the first statement after the signature's closing colon
    depth = 0
    i = m.end()
    while i < len(text):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ":" and depth == 0:
            break
        i += 1
    rest = text[i + 1 :]
    nl = rest.find("\n")
    if nl < 0 or rest[:nl].strip():
        return None
    body = rest[nl + 1 :]
    dm = _PY_DOC.match(body)
    if not dm:
        # skip blank lines / comments before the docstring? keep it simple: none
        return None
    doc = dm.group("doc")
    code = text[: i + 1 + nl + 1] + body[dm.end() :]
    return doc, code


_COMMENT_LINE = {
    "ruby": re.compile(r"^\s*#(?!\[)"),
    "default": re.compile(r"^\s*(//|/\*|\*|\*/)"),
}


def split_comment(text: str, language: str) -> tuple[str, str] | None:
    """(doc comment, code without it) for chunks whose doc comment sits above the definition."""
    lines = text.splitlines()
    pat = _COMMENT_LINE["ruby" if language == "ruby" else "default"]
    doc_lines: list[str] = []
    code_lines: list[str] = []
    i = 0
    while i < len(lines) and (pat.match(lines[i]) or not lines[i].strip()):
        doc_lines.append(lines[i])
        i += 1
    if not doc_lines:
        return None
    code_lines = lines[i:]
    if not code_lines:
        return None
    cleaned = []
    for line in doc_lines:
        s = line.strip()
        s = re.sub(r"^(///?!?|/\*\*?|\*/|\*|#+)", "", s).strip()
        s = s.removesuffix("*/").strip()
        if s.startswith("@"):
            break  # JSDoc / PHPDoc / YARD tags end the prose
        cleaned.append(s)
    return "\n".join(cleaned), "\n".join(code_lines) + "\n"


def extract(chunk) -> tuple[str, str, str] | None:
    """(summary, code, rest of the doc) of a function/method chunk, or None."""
    if chunk.kind not in ("function", "method"):
        return None
    split = split_python(chunk.text) if chunk.language == "python" else split_comment(chunk.text, chunk.language)
    if split is None:
        return None
    doc, code = split
    raw_sentence = first_sentence(doc)
    flat = " ".join(doc.split())
    rest = flat[len(raw_sentence) :].strip()[:MAX_REST_CHARS] if flat.startswith(raw_sentence) else ""
    summary = plain_prose(raw_sentence)
    if chunk.language == "go":
        name = chunk.symbol.rsplit(".", 1)[-1]
        first, _, rest = summary.partition(" ")
        if first == name and rest:
            summary = rest
    words = re.findall(r"[A-Za-z]+", summary)
    if not 3 <= len(words) <= 40 or re.search(r"copyright|licen[cs]e|generated|do not edit|deprecated|todo|fixme", summary, re.I):
        return None
    if len([l for l in code.splitlines() if l.strip()]) < 2:
        return None
    return summary, code[:MAX_CODE_CHARS], rest


# ------------------------------------------------------------------ licences and versions

def package_meta(eco: str, archive: Path, files: dict[str, bytes]) -> tuple[str, str]:
    """(version, licence) read from the package itself."""
    version, licence = "?", "?"
    if eco == "pypi":
        parts = archive.name.split("-")
        version = parts[1] if len(parts) > 1 else "?"
        for rel, data in files.items():
            if rel.endswith(".dist-info/METADATA"):
                text = data.decode("utf-8", "replace").split("\n\n", 1)[0]
                lic = re.findall(r"^License-Expression: (.+)$", text, re.M) or re.findall(r"^License: (.+)$", text, re.M)
                cls = [c.strip() for c in re.findall(r"^Classifier: License :: (.+)$", text, re.M)]  # METADATA may use CRLF
                bits = [l.strip() for l in lic if l.strip() and len(l) < 120] + cls
                licence = "; ".join(bits) or "?"
    elif eco == "npm":
        for rel, data in files.items():
            if rel == "package/package.json":
                meta = json.loads(data.decode("utf-8", "replace"))
                version = meta.get("version", "?")
                lic = meta.get("license") or meta.get("licenses") or "?"
                licence = lic if isinstance(lic, str) else json.dumps(lic)
    else:
        m = re.match(r"[^_]+_([^_]+)_", archive.name)
        version = m.group(1).replace("%3a", ":") if m else "?"
        for rel, data in files.items():
            if rel.endswith("/copyright") and "/usr/share/doc/" in "/" + rel:
                text = data.decode("utf-8", "replace")
                lic = re.findall(r"^License: *(.+)$", text, re.M)
                licence = lic[0].strip() if lic else "?"
                break
    return version, licence


def permissive(licence: str) -> bool:
    if not PERMISSIVE.search(licence):
        return False
    if COPYLEFT.search(licence):
        # "MIT or GPL-2+" style dual licences are fine; GPL-only is not
        return bool(re.search(r"\bor\b|\|", licence, re.I)) and bool(PERMISSIVE.search(licence))
    return True


# ------------------------------------------------------------------ per package

def mine_package(job: tuple[str, str, str]) -> dict:
    eco, name, pkg_dir = job
    pkg_dir = Path(pkg_dir)
    archives = [p for p in sorted(pkg_dir.iterdir()) if p.name != ".done"]
    files: dict[str, bytes] = {}
    for archive in archives:
        for rel, data in iter_archive(archive):
            files[rel] = data
    version, licence = package_meta(eco, archives[0], files) if archives else ("?", "?")
    result = {"eco": eco, "name": name, "version": version, "licence": licence, "pairs": []}
    if not permissive(licence):
        result["skipped"] = "licence"
        return result
    used = 0
    for rel in sorted(files):
        if SKIP_PATH.search(rel):
            continue
        language = detect_language(rel)
        if language not in LANGS:
            continue
        data = files[rel]
        if used > MAX_SOURCE_BYTES:
            break
        used += len(data)
        for chunk in chunk_source(rel, language, data):
            got = extract(chunk)
            if got:
                summary, code, rest = got
                header = " ".join(p for p in (chunk.language, chunk.kind, chunk.symbol) if p)
                result["pairs"].append({"lang": language, "pkg": f"{eco}:{name}", "summary": summary, "code": f"{header}\n{code}", "rest": rest, "raw": code})
    return result


# ------------------------------------------------------------------ exclusions

def _py_functions(source: str) -> list[tuple[str, str | None]]:
    """(code without docstring, docstring) of every function in a Python source."""
    out = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return out
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            split = split_python(text)
            out.append((split[1], split[0]) if split else (text, None))
    return out


def exclusion_sets(cache: Path) -> tuple[set[str], set[str]]:
    """(code hashes, summary keys) that must never reach training."""
    if cache.exists():
        saved = json.loads(cache.read_text())
        return set(saved["code"]), set(saved["summary"])
    code: set[str] = set()
    summaries: set[str] = set()
    # CPython's standard library of this interpreter
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in stdlib.rglob("*.py"):
        if "site-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for fn, _doc in _py_functions(source):
            code.update(code_hashes(fn))
    # CoSQA: the corpus and every query/code pair shipped
    cosqa = SHARED / "cosqa"
    functions = list(json.loads((cosqa / "code_idx_map.txt").read_text()))
    for split in ("cosqa-retrieval-test-500.json", "cosqa-retrieval-dev-500.json"):
        functions += [q["code"] for q in json.loads((cosqa / split).read_text())]
    for fn in functions:
        for body, doc in _py_functions(fn) or [(fn, None)]:
            code.update(code_hashes(body))
            if doc:
                summaries.add(norm_summary(plain_prose(first_sentence(doc))))
    # Java -> C#: both sides
    for side in ("java", "cs"):
        for line in (SHARED / "java-cs" / f"test.java-cs.txt.{side}").read_text().splitlines():
            code.update(code_hashes(line))
    # held-out evaluation packages: every function chunk of their corpora
    from benchmarks import datasets

    for name, (eco, pkg, language) in datasets.DOC_SETS.items():
        ds = datasets.load(name, Path("/work/data/eval"))
        for path in ds.corpus.rglob("*"):
            if path.is_file() and detect_language(path.name) == language:
                for chunk in chunk_source(path.name, language, path.read_bytes()):
                    if chunk.kind in ("function", "method"):
                        split = split_python(chunk.text) if language == "python" else split_comment(chunk.text, language)
                        code.update(code_hashes(split[1] if split else chunk.text))
        # bundlers rewrite code (exceljs and dash ship lodash inside), so the docs match where hashes miss
        summaries.update(norm_summary(q.text) for q in ds.queries)
    summaries.discard("")
    cache.write_text(json.dumps({"code": sorted(code), "summary": sorted(summaries)}))
    return code, summaries


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/data"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    started = time.time()
    excl_code, excl_summary = exclusion_sets(args.data / "exclusions-v2.json")  # v2: + held-out docs
    print(f"exclusions: {len(excl_code)} code hashes, {len(excl_summary)} summaries ({time.time() - started:.0f}s)", flush=True)
    jobs = []
    for eco_dir in sorted((args.data / "pkgs").iterdir()):
        for pkg in sorted(eco_dir.iterdir()):
            if (pkg / ".done").exists() and (eco_dir.name, pkg.name) not in HELD_OUT:
                jobs.append((eco_dir.name, pkg.name.replace("__", "/"), str(pkg)))
    seen_code: set[str] = set()
    summary_count: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    lock = []
    with Pool(args.jobs) as pool, (args.data / "pairs.jsonl").open("w") as out:
        for res in pool.imap_unordered(mine_package, jobs):
            kept = 0
            for p in res["pairs"]:
                hashes = code_hashes(p.pop("raw"))
                key = norm_summary(p["summary"])
                if any(h in excl_code for h in hashes):
                    stats["excluded-code"] += 1
                    continue
                if key in excl_summary:
                    stats["excluded-summary"] += 1
                    continue
                if hashes[0] in seen_code:
                    stats["duplicate"] += 1
                    continue
                if summary_count[key] >= 3:
                    stats["summary-repeat"] += 1
                    continue
                seen_code.add(hashes[0])
                summary_count[key] += 1
                out.write(json.dumps(p) + "\n")
                kept += 1
                stats[p["lang"]] += 1
            lock.append({k: res[k] for k in ("eco", "name", "version", "licence")} | {"pairs": kept, **({"skipped": res["skipped"]} if "skipped" in res else {})})
            print(f"{res['eco']} {res['name']} {res['version']} [{res['licence'][:40]}] kept {kept}{' SKIPPED ' + res.get('skipped', '') if 'skipped' in res else ''}", flush=True)
    lock.sort(key=lambda r: (r["eco"], r["name"]))
    with (HERE / "packages.lock").open("w") as f:
        f.write("# ecosystem\tname\tversion\tlicence\tpairs kept (\"skipped\": not used)\n")
        for r in lock:
            f.write(f"{r['eco']}\t{r['name']}\t{r['version']}\t{r['licence']}\t{r.get('skipped', r['pairs'])}\n")
    print(json.dumps(dict(stats)), f"total {sum(stats[l] for l in LANGS)} in {time.time() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
