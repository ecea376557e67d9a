"""A tree of hostile files, and what indexing each one must do.

Shared by tests/test_bad_input.py and benchmarks/faults.py: `write_nasty_tree(root)` writes
the files and returns relpath -> Nasty. Every entry is either indexed (and then each symbol
in `symbols` must come back at exactly those lines, counted from the file's bytes the way
git and grep count them: a line ends at "\\n") or skipped with `skip` as its reason in the
sync report. Symbols are qualified as the chunker names them.
"""

from __future__ import annotations

import codecs
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

BIG_BYTES = 10 * 1024 * 1024
LONG_LINES = 50_000
DEPTH = 10_000

# A command prefix under which chmod 000 locks a process out: root needs the capabilities
# that override file permissions dropped for that (setpriv, util-linux).
_SETPRIV = shutil.which("setpriv")
LOCKOUT_PREFIX: list[str] | None = (
    [] if os.geteuid() != 0 else [_SETPRIV, "--bounding-set=-dac_override,-dac_read_search"] if _SETPRIV else None
)


@dataclass(frozen=True)
class Nasty:
    """What indexing one entry must do: skipped with reason `skip`, or indexed with `symbols`
    (qualified symbol -> (start line, end line))."""

    skip: str | None = None
    symbols: dict[str, tuple[int, int]] = field(default_factory=dict)


def write_nasty_tree(root: Path, *, locked: bool = True) -> dict[str, Nasty]:
    """Write every hostile case under `root` (created if missing); `locked` adds the chmod 000
    file and directory, which only lock out a process run under LOCKOUT_PREFIX."""
    root.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Nasty] = {}
    for writer in (_encodings, _line_endings, _empties, _nul_bytes, _sizes, _nesting, _names, _links):
        cases.update(writer(root))
    if locked:
        cases.update(_locked(root))
    return cases


def unlock_tree(root: Path) -> None:
    """Give back the permissions _locked took, so the tree can be deleted by anyone."""
    for relpath in ("locked/secret.py", "locked_dir"):
        path = root / relpath
        if path.exists():
            path.chmod(stat.S_IRWXU)


def lines_of(data: bytes, first: bytes, last: bytes) -> tuple[int, int]:
    """The 1-based lines of the first `first` and of the `last` after it ("\\n" ends a line)."""
    start = data.index(first)
    end = data.index(last, start)
    return data.count(b"\n", 0, start) + 1, data.count(b"\n", 0, end) + 1


def _put(root: Path, relpath: str | bytes, data: bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(relpath))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _function(root: Path, relpath: str, data: bytes, symbol: str, first: bytes, last: bytes) -> dict[str, Nasty]:
    """One indexed file whose `symbol` spans the lines from `first` to `last`."""
    _put(root, relpath, data)
    return {relpath: Nasty(symbols={symbol: lines_of(data, first, last)})}


def _encodings(root: Path) -> dict[str, Nasty]:
    invalid = b'"""Bad bytes: \xff\xfe\xc3\x28."""\n\n\ndef after_bad_bytes(x):\n    return x  # \xed\xa0\x80\n'
    mixed = (
        b"# caf\xe9 in Latin-1, \x93quoted\x94 in cp1252\n"
        b"NAME = 'caf\xc3\xa9'  # UTF-8\n\n"
        b"def mixed_encodings():\n    return 'na\xefve'\n"
    )
    bom8 = codecs.BOM_UTF8 + b"def after_utf8_bom():\n    return 1\n"
    utf16 = "import os\n\n\ndef after_utf16_bom():\n    return 'h\u00e9'\n"
    cases = {
        **_function(root, "encoding/invalid_utf8.py", invalid, "after_bad_bytes", b"def after", b"return x"),
        **_function(root, "encoding/mixed.py", mixed, "mixed_encodings", b"def mixed", b"return"),
        **_function(root, "encoding/bom_utf8.py", bom8, "after_utf8_bom", b"def after", b"return"),
    }
    lines = lines_of(utf16.encode(), b"def after", b"return")
    for name, codec in (("bom_utf16_le.py", "utf-16-le"), ("bom_utf16_be.py", "utf-16-be")):
        _put(root, f"encoding/{name}", "\ufeff".encode(codec) + utf16.encode(codec))
        cases[f"encoding/{name}"] = Nasty(symbols={"after_utf16_bom": lines})
    return cases


def _line_endings(root: Path) -> dict[str, Nasty]:
    crlf = b"import os\r\n\r\n\r\ndef crlf_function(a):\r\n    return a\r\n"
    # A lone CR ends no line (as in git and grep): the whole file is line 1.
    lone_cr = b"x = 1\rdef lone_cr_function():\r    return 3\r"
    mixed = b"let a = 1;\r\nfunction mixedEndings(x) {\r  const y = x;\n  return y;\r\n}\n"
    return {
        **_function(root, "endings/crlf.py", crlf, "crlf_function", b"def crlf", b"return"),
        **_function(root, "endings/lone_cr.py", lone_cr, "lone_cr_function", b"def lone", b"return"),
        **_function(root, "endings/mixed.js", mixed, "mixedEndings", b"function", b"}"),
    }


def _empties(root: Path) -> dict[str, Nasty]:
    cases = {}
    for relpath, data in (("empty/empty.py", b""), ("empty/blank.go", b"\n \t\r\n\n"), ("empty/bom_only.md", codecs.BOM_UTF8)):
        _put(root, relpath, data)
        cases[relpath] = Nasty()
    return cases


def _nul_bytes(root: Path) -> dict[str, Nasty]:
    _put(root, "nul/early.c", b"int x;\0\1\2\nint main(void) { return 0; }\n")
    # Past the 8 KiB probe, in a file whose lines stay short on average (not minified).
    late = b"// " + b"x" * 9000 + b"\0\n" + b"// filler\n" * 10 + b"\nfunction afterLateNul() {\n  return 1;\n}\n"
    return {
        "nul/early.c": Nasty(skip="binary"),
        **_function(root, "nul/late.js", late, "afterLateNul", b"function", b"}"),
    }


def _sizes(root: Path) -> dict[str, Nasty]:
    statement = b"function(x){return x+1};"
    _put(root, "big/minified.js", b"var a=" + statement * (BIG_BYTES // len(statement)))
    body = b"".join(b"def f%d(a):\n    return a + %d\n\n" % (i, i) for i in range((LONG_LINES - 3) // 3))
    tail = b"def last_function(a):\n    return a\n"
    long_file = body + b"\n" * (LONG_LINES - body.count(b"\n") - 2) + tail
    return {
        "big/minified.js": Nasty(skip="too large"),
        **_function(root, "big/long.py", long_file, "last_function", b"def last_function", b"return a\n"),
    }


def _nesting(root: Path) -> dict[str, Nasty]:
    """DEPTH nested brackets in front of a definition whose lines must still come out right."""
    cases = {}
    for relpath, opener, closer, tail, symbol in (
        ("deep/parens.py", b"(", b")", b"\n\n\ndef after_parens():\n    return 1\n", "after_parens"),
        ("deep/brackets.js", b"[", b"]", b";\n\nfunction afterBrackets() {\n  return 1;\n}\n", "afterBrackets"),
        ("deep/braces.c", b"{", b"}", b";\n\nint after_braces(void) {\n  return 1;\n}\n", "after_braces"),
    ):
        data = b"x = " + _wrapped(opener * DEPTH) + b"1" + _wrapped(closer * DEPTH) + tail
        cases.update(_function(root, relpath, data, symbol, symbol.encode(), b"}" if b"}" in tail else b"return"))
    nested = b"".join(b"    " * i + b"def level%d():\n" % i for i in range(200)) + b"    " * 200 + b"return 0\n"
    cases.update(_function(root, "deep/nested_defs.py", nested, "level0", b"def level0", b"return 0"))
    return cases


def _wrapped(run: bytes, width: int = 100) -> bytes:
    """`run` broken into lines of `width` bytes: deep nesting, not a one-line (minified) file."""
    return b"\n".join(run[start : start + width] for start in range(0, len(run), width))


def _names(root: Path) -> dict[str, Nasty]:
    cases = {}
    for relpath, symbol in (
        ("names/with space.py", "spaced_name"),
        ("names/\u00fcn\u00efc\u00f6d\u00e9 \u540d\u524d.py", "unicode_name"),
        ("names/new\nline.py", "newline_name"),
        ("names/$(touch pwned) `id`;.py", "shell_name"),
        ("names/-dash --json.py", "dash_name"),
        ("names/[/]markup[bold].py", "markup_name"),
    ):
        data = b"# %s\n\ndef %s():\n    return 1\n" % (relpath.encode(), symbol.encode())
        cases.update(_function(root, relpath, data, symbol, b"def", b"return"))
    _put(root, b"names/\xff\xfe.py", b"def undecodable():\n    return 1\n")
    cases[os.fsdecode(b"names/\xff\xfe.py")] = Nasty(skip="undecodable name")
    return cases


def _links(root: Path) -> dict[str, Nasty]:
    links = root / "links"
    links.mkdir(parents=True, exist_ok=True)
    (links / "ancestor").symlink_to("..")
    (links / "self.py").symlink_to("self.py")
    (links / "broken.py").symlink_to("missing.py")
    (links / "outside").symlink_to(Path(os.path.abspath(os.sep)))
    os.mkfifo(links / "pipe.py")
    return {
        "links/ancestor": Nasty(skip="symlink loop"),
        "links/self.py": Nasty(skip="symlink loop"),
        "links/broken.py": Nasty(skip="broken symlink"),
        "links/outside": Nasty(skip="symlink leaving root"),
        "links/pipe.py": Nasty(skip="not a regular file"),
    }


def _locked(root: Path) -> dict[str, Nasty]:
    secret = _put(root, "locked/secret.py", b"def locked_secret():\n    return 1\n")
    secret.chmod(0)
    _put(root, "locked_dir/inside.py", b"def inside_locked_dir():\n    return 1\n").parent.chmod(0)
    return {"locked/secret.py": Nasty(skip="unreadable"), "locked_dir": Nasty(skip="unreadable")}
