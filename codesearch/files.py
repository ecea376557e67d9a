"""Find the files worth indexing under a root, and read them safely.

`discover` walks with os.scandir in path order, never enters an ignored directory, and reads
nothing but the first bytes of extensionless files (for a shebang), so it stays fast on trees
the size of the Linux kernel.

Ignore rules follow git: a pattern in a `.gitignore` is relative to the directory holding it,
deeper files take precedence over shallower ones, the last matching pattern wins, and nothing
inside an ignored directory can be re-included. From lowest to highest precedence the layers
are: DEFAULT_IGNORES, `.git/info/exclude`, every `.gitignore` from the top of the work tree
down, every `.codesearchignore` from the root down. So a `.codesearchignore` can ignore more
than git does, and `!pattern` in it re-includes what git ignores, defaults such as `vendor/`
included. ALWAYS_PRUNED names, the index directory and generated directories are never
entered at all.

Git's own files (`.gitignore`, `.git/info/exclude`) count only inside a git work tree, as in
ripgrep: where the root, or the directory holding the `.gitignore`, has a `.git` (a directory,
or the file of a worktree or submodule) in itself or an ancestor. An unpacked source package
keeps the `.gitignore` of the repository it was cut from, such as Debian's `/*` and
`!/debian/`, which would leave out all its source. `.codesearchignore`, the configured
`ignore` patterns and DEFAULT_IGNORES apply everywhere: copying a `.gitignore` to a
`.codesearchignore` applies git's rules outside a repository.

A cloned repository is untrusted input, so every ignore file (`.git/info/exclude` too) is read
as git reads a `.gitignore` since 2.32: a symlinked one is not read, nor a FIFO or a device, so
one linked to /dev/zero or /dev/stdin costs nothing. Of a file over a MiB only the whole lines
in its first MiB count: its lines are independent, and the walk never fails for a file (git
drops a file over 100 MiB whole, with a warning this library would have no one to tell).

The walk tells `on_ignore` which line left out each directory it does not enter and each
file with a language it passes over, so that an index left empty can say why; matching again
only what was left out costs nothing on a tree that is mostly indexed.

Patterns are compiled here rather than matched with pathspec: its per-pattern matching costs
about 30 microseconds per path against the kernel's 100-line .gitignore (seconds per walk),
and it matches a path through its ancestors, which a walk that prunes must not do.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from codesearch.languages import detect_language, needs_head

DEFAULT_MAX_BYTES = 1 << 20
BINARY_PROBE_BYTES = 8192
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
HEAD_BYTES = 256

# Never entered, whatever the ignore files say: version control data and the index.
ALWAYS_PRUNED = frozenset({".git", ".hg", ".svn", ".codesearch"})

# A directory holding one of these is generated: a virtualenv, a tagged cache such as Cargo's
# target/ (https://bford.info/cachedir/), a CMake build tree. Never entered.
GENERATED_DIR_MARKERS = ("pyvenv.cfg", "CACHEDIR.TAG", "CMakeCache.txt")

# build/, dist/ and target/ are never entered next to the manifest of a tool that writes them,
# and indexed elsewhere: the Linux kernel keeps real source in drivers/target/ and tools/build/.
BUILD_OUTPUT_DIRS: dict[str, tuple[str, ...]] = {
    "build": ("setup.py", "pyproject.toml", "package.json", "build.gradle", "build.gradle.kts"),
    "dist": ("setup.py", "pyproject.toml", "package.json"),
    "target": ("Cargo.toml", "pom.xml", "build.sbt", "build.gradle", "build.gradle.kts"),
}

# Minified bundles and source maps by name. Left out like DEFAULT_IGNORES (which holds them),
# but reported as skipped "minified", since their names say what they are.
MINIFIED_NAMES = ("*.min.js", "*.min.css", "*.bundle.js", "*.map")

# The lowest-precedence ignore layer, in gitignore syntax: dependencies, caches, editor state,
# lock files and minified bundles. vendor/ is third-party code (Go, PHP, Ruby) that would crowd
# search results; `!vendor/` in a .codesearchignore brings it back.
DEFAULT_IGNORES = (
    "node_modules/", "bower_components/", "vendor/", "__pycache__/", ".venv/", "venv/",
    ".tox/", ".nox/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/",
    ".eggs/", "*.egg-info/", ".idea/", ".vscode/", ".vs/", ".gradle/", ".next/", ".nuxt/",
    ".svelte-kit/", ".parcel-cache/", ".terraform/", ".cache/",
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock",
    "poetry.lock", "Pipfile.lock", "composer.lock", "Gemfile.lock", "go.sum", "uv.lock",
    *MINIFIED_NAMES,
)
DEFAULTS_SOURCE = "default ignores"
"""The `file` of an IgnoreRule from DEFAULT_IGNORES."""
SETTING_SOURCE = "ignore setting"
"""The `file` of an IgnoreRule from the configured `ignore` patterns."""


@dataclass(frozen=True)
class SourceFile:
    """A file to index: `path` is POSIX and relative to the root, `abspath` opens it."""

    path: str
    abspath: Path
    language: str
    size: int
    mtime_ns: int


class SkipFile(Exception):
    """A discovered file that cannot be indexed after all; str(exc) is the reason."""


class IgnoreRule(NamedTuple):
    """The ignore line that left a path out, for telling people why an index holds little.

    `file` is the ignore file's path relative to the root (`../.gitignore` above it), or
    DEFAULTS_SOURCE or SETTING_SOURCE, which have no `line`; `line` counts from 1.
    """

    file: str
    line: int | None
    pattern: str


def discover(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    index_dir: Path | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    ignore: Iterable[str] = (),
    languages: Collection[str] | None = None,
    on_ignore: Callable[[IgnoreRule, bool], None] | None = None,
) -> Iterator[SourceFile]:
    """Yield the indexable files under `root`, sorted by path.

    `ignore` holds extra gitignore-style patterns (see IgnoreRules); `languages`, when given,
    are the only languages indexed. Files without a language (or in a language not chosen)
    are left out silently. Ignored ones are told to `on_ignore(rule, is_dir)`: each directory
    an ignore rule keeps the walk out of, and each file with a language (known by name) an
    ignore rule leaves out. Anything else left out is reported through
    `on_skip(relpath, reason)`, reason one of: "too large", "minified" (a bundle or source
    map by the name DEFAULT_IGNORES gives it), "vanished", "unreadable", "broken symlink",
    "not a regular file", "undecodable name", "symlink leaving root", "symlink loop",
    "symlink to indexed directory" (its files are indexed under their real path), "directory
    seen twice". Never raises for a file or directory; a missing root is reported as
    (".", "vanished").
    """
    walk = _new_walk(root, max_bytes, index_dir, on_skip, ignore, languages, on_ignore)
    yield from walk.directory(walk.root, "")


def discover_paths(
    root: Path,
    paths: Iterable[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    index_dir: Path | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    ignore: Iterable[str] = (),
    languages: Collection[str] | None = None,
) -> list[SourceFile]:
    """The indexable files at `paths` (relative POSIX; a directory stands for all below it).

    What a watcher needs: no walk of the whole tree, yet each file is judged exactly as
    `discover` judges it, since each parent directory is scanned once by the same walk.
    """
    walk = _new_walk(root, max_bytes, index_dir, on_skip, ignore, languages)
    wanted: dict[str, set[str]] = {}
    for path in paths:
        parent, _, name = path.rpartition("/")
        wanted.setdefault(parent, set()).add(name)
    found: dict[str, SourceFile] = {}
    for parent, names in wanted.items():
        if not (parent and walk.rules.is_ignored(parent, is_dir=True)):
            found.update((source.path, source) for source in walk.entries(parent, names))
    return sorted(found.values(), key=lambda source: source.path)


def _new_walk(
    root: Path, max_bytes: int, index_dir: Path | None, on_skip: Callable[[str, str], None] | None,
    ignore: Iterable[str], languages: Collection[str] | None,
    on_ignore: Callable[[IgnoreRule, bool], None] | None = None,
) -> _Walk:
    """discover and discover_paths judge files by the same rules, limits and reporting."""
    absolute = Path(os.path.abspath(root))
    rules = IgnoreRules(absolute, index_dir, ignore)
    chosen = None if languages is None else frozenset(languages)
    return _Walk(absolute, rules, max_bytes, on_skip or _unreported, chosen, on_ignore or _unnoticed)


def read_source(file: SourceFile, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The file's bytes (UTF-16 turned into UTF-8); raises SkipFile when it vanished, is
    unreadable, is no longer a regular file, grew too large or is binary.

    Binary means a NUL byte in the first 8 KiB, the test git and grep use.
    """
    try:
        data = _read_regular(_real_path_inside_root(file), max_bytes + 1)
    except OSError as exc:
        raise SkipFile(_reason(exc)) from exc
    if len(data) > max_bytes:
        raise SkipFile("too large")
    data = _utf16_as_utf8(data)
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        raise SkipFile("binary")
    return data


def _real_path_inside_root(file: SourceFile) -> str:
    """The file's real path, checked again at read time.

    Discovery leaves out symlinks that lead out of the root, but a file can be swapped for one
    after discovery: what it resolves to now must still lie inside the root.
    """
    path = str(file.abspath)
    real = os.path.realpath(path)
    if not real.startswith(_real_prefix(path[: len(path) - len(file.path)])):
        raise SkipFile("symlink leaving root")
    return real


@lru_cache(maxsize=16)
def _real_prefix(root: str) -> str:
    """The root's real path with one trailing separator (also when the root is `/`)."""
    return os.path.join(os.path.realpath(root), "")


def _read_regular(path: str, limit: int) -> bytes:
    """Up to `limit` bytes of the regular file at `path`.

    Opened without blocking and without following a symlink, and judged by what was opened: a
    file swapped for a FIFO, a device or a link since discovery or since its real path was
    checked must cost a skip, never a read that waits forever or leaves the root.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkipFile("not a regular file")
        return _read_to_end(fd, min(limit, info.st_size + 1), limit)
    finally:
        os.close(fd)


def _read_to_end(fd: int, first: int, limit: int) -> bytes:
    """Up to `limit` bytes, asking first for `first` (the size the file had, plus one), and
    reading on while a growing file delivers more. A first buffer of the limit's size (1 MiB)
    made reading a small file cost 37 µs instead of 11 (linux/fs)."""
    parts = [os.read(fd, first)]
    got = len(parts[0])
    while parts[-1] and got < limit:
        parts.append(os.read(fd, limit - got))
        got += len(parts[-1])
    return b"".join(parts)


def _utf16_as_utf8(data: bytes) -> bytes:
    """UTF-16 with a byte order mark (what Windows tools write) as UTF-8; anything else as it is.

    Every newline stays one newline, so line numbers hold. UTF-32 stays binary.
    """
    if not data.startswith(_UTF16_BOMS) or data.startswith(_UTF32_BOMS):
        return data
    return data.decode("utf-16", errors="replace").encode("utf-8")


class IgnoreRules:
    """What the walk leaves out; the file watcher asks the same object about single paths.

    Ignore files are read once and cached per directory: build a new IgnoreRules when one
    of them changes. `extra` patterns (the configured `ignore`) act as the first lines of the
    root's `.codesearchignore`: above git's rules, below every `.codesearchignore` file.
    """

    def __init__(self, root: Path, index_dir: Path | None = None, extra: Iterable[str] = ()) -> None:
        self.root = os.path.abspath(root)
        self._index_relpath = relative_inside(self.root, index_dir) if index_dir else None
        self._top = _work_tree_top(self.root)
        self._base = (_Layer("", DEFAULT_IGNORES, DEFAULTS_SOURCE, numbered=False), *_outer_layers(self.root, self._top))
        configured = _Layer("", extra, SETTING_SOURCE, numbered=False)
        self._configured = () if configured.empty else (configured,)
        self._chains: dict[str, _Chain] = {}

    def is_ignored(self, relpath: str, is_dir: bool) -> bool:
        """Whether `relpath` (relative to the root) is left out, itself or through a parent."""
        parts = [part for part in relpath.replace(os.sep, "/").split("/") if part not in ("", ".")]
        if any(self.prunes_dir("/".join(parts[:depth])) for depth in range(1, len(parts))):
            return True
        path = "/".join(parts)
        return self.prunes_dir(path) if is_dir else self.ignores_file(path)

    def prunes_dir(self, reldir: str) -> bool:
        """Whether the walk must not enter `reldir`, given that it entered its parent."""
        if not reldir:
            return False
        parent, _, name = reldir.rpartition("/")
        return (
            self.always_pruned(reldir)
            or self.excluding(reldir, is_dir=True) is not None
            or _is_generated(self.root, parent, name)
        )

    def always_pruned(self, reldir: str) -> bool:
        """Version control data and the index: never entered, whatever the ignore files say."""
        return reldir.rpartition("/")[2] in ALWAYS_PRUNED or reldir == self._index_relpath

    def ignores_file(self, relpath: str) -> bool:
        """Whether the walk leaves out the file `relpath`, given that it entered its parent."""
        return self.excluding(relpath, is_dir=False) is not None

    def excluding(self, relpath: str, is_dir: bool) -> IgnoreRule | None:
        """The line that leaves out `relpath` (its parent entered): the last matching line of the
        highest-precedence layer with one, when it ignores; None when `relpath` is not ignored."""
        parent, _, name = relpath.rpartition("/")
        for layer in reversed(self._chain(parent).layers):
            pattern = layer.match(relpath, name, is_dir)
            if pattern is not None:
                return layer.rule(pattern) if pattern.ignore else None
        return None

    def _chain(self, reldir: str) -> _Chain:
        """The layers that apply inside `reldir`, built from its parent's and cached. A
        `.gitignore` counts inside a work tree only, and one can start below the root."""
        chain = self._chains.get(reldir)
        if chain is None:
            parent = self._chain(reldir.rpartition("/")[0]) if reldir else _Chain((), self._configured, (), self._top is not None)
            prefix = reldir + "/" if reldir else ""
            directory = os.path.join(self.root, reldir)
            in_git = parent.in_git or os.path.lexists(os.path.join(directory, ".git"))
            gitignore = _load_layer(os.path.join(directory, ".gitignore"), prefix, prefix + ".gitignore") if in_git else ()
            git = parent.git + gitignore
            ours = parent.ours + _load_layer(os.path.join(directory, ".codesearchignore"), prefix, prefix + ".codesearchignore")
            chain = self._chains[reldir] = _Chain(git, ours, self._base + git + ours, in_git)
        return chain


def _work_tree_top(path: str) -> str | None:
    """The nearest directory at or above `path` with a `.git` (a directory, or the file of a
    worktree or submodule): the top of the work tree `path` lies in, None outside any. A few
    lstat calls, where asking git would start a process."""
    while not os.path.lexists(os.path.join(path, ".git")):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return path


def _outer_layers(root: str, top: str | None) -> tuple[_Layer, ...]:
    """Git's rules from at or above the root: the work tree's `.git/info/exclude` and each
    `.gitignore` from its top down to the root's parent, as git applies them in a subdirectory.
    Each matches paths from where it lies, so the root's own place in the tree leads them."""
    if top is None:
        return ()
    parts = [] if top == root else os.path.relpath(root, top).split(os.sep)
    leads = ["".join(part + "/" for part in parts[depth:]) for depth in range(len(parts))]
    exclude = os.path.join(top, ".git", "info", "exclude")
    layers = _load_layer(exclude, "", os.path.relpath(exclude, root), leads[0] if leads else "")
    for depth, lead in enumerate(leads):
        gitignore = os.path.join(top, *parts[:depth], ".gitignore")
        layers += _load_layer(gitignore, "", os.path.relpath(gitignore, root), lead)
    return layers


# Directories are matched as their name plus NUL, a character no file name holds, so that
# one regex serves files and directories: `dir/` patterns end in a required NUL.
_DIR_MARK = "\0"
_NOT_SLASH = "[^/\0]"
_NOT_MARK = "[^\0]"


class _Pattern(NamedTuple):
    """One gitignore line (`line` from 1, `text` as written): `regex` matches a whole name, or
    a whole path when `anchored`."""

    line: int
    regex: str
    ignore: bool
    anchored: bool
    text: str


class _Layer:
    """One ignore file, its patterns joined into one regex for names and one for paths,
    so a path costs two matches, not one per pattern. `prefix` is the file's directory
    relative to the root ("" or "a/b/"); for a file above the root, `lead` is the root
    relative to the file's directory ("a/b/"). `source` names the file in an IgnoreRule;
    `numbered` is False for patterns that come from no file.
    """

    def __init__(self, prefix: str, lines: Iterable[str], source: str, lead: str = "", *, numbered: bool = True) -> None:
        patterns = [p for p in (_parse(line, text) for line, text in enumerate(lines, 1)) if p]
        self.prefix, self.lead, self.source, self.numbered = prefix, lead, source, numbered
        self.empty = not patterns
        self._by_name = _compile([p for p in patterns if not p.anchored])
        self._by_path = _compile([p for p in patterns if p.anchored])

    def match(self, relpath: str, name: str, is_dir: bool) -> _Pattern | None:
        """The last line matching `relpath` (below `prefix`), ignoring or re-including; None when none does."""
        mark = _DIR_MARK if is_dir else ""
        by_name = _last_match(self._by_name, name + mark)
        by_path = _last_match(self._by_path, self.lead + relpath[len(self.prefix):] + mark)
        found = [pattern for pattern in (by_name, by_path) if pattern]
        return max(found) if found else None

    def rule(self, pattern: _Pattern) -> IgnoreRule:
        """`pattern`, one of this layer's, as people are told about it."""
        return IgnoreRule(self.source, pattern.line if self.numbered else None, pattern.text)


class _Chain(NamedTuple):
    """The ignore layers that apply inside one directory, lowest precedence first; `in_git`
    when the directory lies in a git work tree, where `.gitignore` files count."""

    git: tuple[_Layer, ...]
    ours: tuple[_Layer, ...]
    layers: tuple[_Layer, ...]
    in_git: bool


_Compiled = tuple[re.Pattern[str], tuple[_Pattern, ...]] | None


def _compile(patterns: list[_Pattern]) -> _Compiled:
    """One regex over `patterns`, last line first, so the first alternative that matches is
    the last matching line. Lines git would reject (bad ranges such as `[z-a]`) are dropped.
    """
    ordered = tuple(reversed(patterns))
    if not ordered:
        return None
    try:
        return _join(ordered), ordered
    except re.error:
        valid = tuple(p for p in ordered if _compiles(p.regex))
        return (_join(valid), valid) if valid else None


def _join(patterns: tuple[_Pattern, ...]) -> re.Pattern[str]:
    """The patterns as alternatives, each one capturing group (their own groups never capture)."""
    return re.compile("|".join(f"({p.regex})" for p in patterns))


def _compiles(regex: str) -> bool:
    """Whether `regex` is valid on its own."""
    try:
        re.compile(regex)
    except re.error:
        return False
    return True


def _last_match(compiled: _Compiled, text: str) -> _Pattern | None:
    """The last pattern, in file order, that matches all of `text`."""
    if compiled is None:
        return None
    regex, patterns = compiled
    match = regex.fullmatch(text)
    return patterns[match.lastindex - 1] if match and match.lastindex else None


def _parse(line: int, text: str) -> _Pattern | None:
    """A gitignore line as a pattern; None for blanks and comments."""
    text = written = _strip_trailing_spaces(text)
    if not text or text.startswith("#"):
        return None
    ignore = not text.startswith("!")
    text = text if ignore else text[1:]
    dir_only = text.endswith("/")
    text = text.rstrip("/")
    anchored = "/" in text
    text = text.removeprefix("/")
    if not text:
        return None
    regex = (_path_regex(text) if anchored else _name_regex(text)) + (_DIR_MARK if dir_only else _DIR_MARK + "?")
    return _Pattern(line, regex, ignore, anchored, written)


def _strip_trailing_spaces(text: str) -> str:
    """Git drops trailing spaces unless the last one is escaped with a backslash."""
    stripped = text.rstrip(" ")
    return stripped + " " if stripped.endswith("\\") and stripped != text else stripped


def _path_regex(pattern: str) -> str:
    """A pattern with a slash: `**/` spans any directories, a trailing `/**` everything inside."""
    segments = pattern.split("/")
    last = len(segments) - 1
    parts = []
    for index, segment in enumerate(segments):
        if segment == "**":
            parts.append(f"(?:{_NOT_MARK}*/)?" if index < last else _NOT_MARK + "+")
        else:
            parts.append(_name_regex(segment) + ("/" if index < last else ""))
    return "".join(parts)


def _name_regex(glob: str) -> str:
    """One path segment's glob: `*` and `?` never cross a slash, `\\` escapes."""
    parts = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "*":
            while index + 1 < len(glob) and glob[index + 1] == "*":
                index += 1
            parts.append(_NOT_SLASH + "*")
        elif char == "?":
            parts.append(_NOT_SLASH)
        elif char == "[":
            regex, index = _char_class(glob, index)
            parts.append(regex)
            continue
        elif char == "\\" and index + 1 < len(glob):
            index += 1
            parts.append(re.escape(glob[index]))
        else:
            parts.append(re.escape(char))
        index += 1
    return "".join(parts)


def _char_class(glob: str, start: int) -> tuple[str, int]:
    """The `[...]` at `start` as a regex class and the index after it.

    Like git, a pattern with an unclosed `[` matches nothing.
    """
    index = start + 1
    negate = index < len(glob) and glob[index] in "!^"
    index += 1 if negate else 0
    items: list[str] = []
    while index < len(glob) and (glob[index] != "]" or not items):
        char = glob[index]
        if char == "\\" and index + 1 < len(glob):
            index += 1
            items.append(re.escape(glob[index]))
        elif char == "-" and items and index + 1 < len(glob) and glob[index + 1] != "]":
            items.append("-")
        else:
            items.append(re.escape(char))
        index += 1
    if index >= len(glob):
        return "(?!)", index
    return "[" + ("^/\0" if negate else "") + "".join(items) + "]", index + 1


SETTINGS_MAX_BYTES = 1 << 20
"""The most of a settings or ignore file that is read. Real ones are a few KiB; a MiB of ignore
lines is some 30,000 patterns."""


class UnreadableFile(Exception):
    """A settings or ignore file that is not read; str(exc) says why."""


def read_settings_file(path: str | os.PathLike[str]) -> bytes | None:
    """Up to SETTINGS_MAX_BYTES + 1 bytes of a settings or ignore file (one more tells a larger
    file), None when there is none; raises UnreadableFile.

    A cloned repository is untrusted input: its `.gitignore` or `pyproject.toml` can be a link
    to /dev/zero or /dev/stdin, or a FIFO. Read as a source file is (`_read_regular`): a
    symlink is not followed, nothing blocks, only a regular file is read and only so much.
    """
    try:
        return _read_regular(os.fspath(path), SETTINGS_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except SkipFile as exc:
        raise UnreadableFile(str(exc)) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile("a symbolic link; settings are read only from a regular file, never through a link") from exc
        raise UnreadableFile(f"cannot read it ({exc.strerror})") from exc


def _load_layer(path: str, prefix: str, source: str, lead: str = "") -> tuple[_Layer, ...]:
    """The ignore file at `path` as zero or one layer: none when missing, unreadable, a symlink,
    not a regular file, or empty."""
    try:
        data = read_settings_file(path) or b""
    except UnreadableFile:
        return ()
    text = _whole_lines(data).decode("utf-8-sig", errors="surrogateescape")
    layer = _Layer(prefix, text.splitlines(), source, lead)
    return () if layer.empty else (layer,)


def _whole_lines(data: bytes) -> bytes:
    """Of a file over SETTINGS_MAX_BYTES, the whole lines in its first SETTINGS_MAX_BYTES: a
    line cut short (`*.pyc` read as `*`) could ignore everything."""
    if len(data) <= SETTINGS_MAX_BYTES:
        return data
    return data[: data.rfind(b"\n", 0, SETTINGS_MAX_BYTES) + 1]


def _is_generated(root: str, parent: str, name: str) -> bool:
    """A virtualenv, tagged cache or build tree: told by a marker inside or a manifest beside."""
    directory = os.path.join(root, parent, name)
    if any(os.path.lexists(os.path.join(directory, marker)) for marker in GENERATED_DIR_MARKERS):
        return True
    manifests = BUILD_OUTPUT_DIRS.get(name, ())
    return any(os.path.lexists(os.path.join(root, parent, manifest)) for manifest in manifests)


def relative_inside(root: str, path: str | Path) -> str | None:
    """Where `path` really is, relative to `root` in POSIX form ("" for the root itself), or
    None when it lies outside: symlinks are resolved on both sides.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real == real_root:
        return ""
    if not real.startswith(os.path.join(real_root, "")):
        return None
    return os.path.relpath(real, real_root).replace(os.sep, "/")


def _reason(exc: OSError) -> str:
    """The skip reason for a failed file-system call."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "vanished"
    return "symlink loop" if exc.errno == errno.ELOOP else "unreadable"


def _unreported(relpath: str, reason: str) -> None:
    """on_skip when the caller passed none."""


def _unnoticed(rule: IgnoreRule, is_dir: bool) -> None:
    """on_ignore when the caller passed none."""


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """entry.is_dir(), following symlinks, False when it cannot be told."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _read_head(path: str) -> bytes:
    """The first bytes of a file, enough for a shebang line; empty when unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError:
        return b""


class _OpenDirectory(NamedTuple):
    """A directory on the walk's current path: its identity (in `_Walk.open`) and the entries
    still to judge, each at `prefix` + its name, below `base`."""

    identity: tuple[int, int]
    base: Path
    prefix: str
    entries: Iterator[os.DirEntry[str]]


class _Walk:
    """One run of discover: the rules, the limits and the directories seen so far."""

    def __init__(
        self, root: Path, rules: IgnoreRules, max_bytes: int, report: Callable[[str, str], None],
        languages: frozenset[str] | None = None, on_ignore: Callable[[IgnoreRule, bool], None] = _unnoticed,
    ) -> None:
        self.rules = rules
        self.max_bytes = max_bytes
        self.languages = languages
        self.report = report
        self.on_ignore = on_ignore
        self.root = os.fspath(root)
        self.seen: set[tuple[int, int]] = set()  # every directory entered, by device and inode
        self.open: set[tuple[int, int]] = set()  # the directories on the current path

    def directory(self, path: str, prefix: str) -> Iterator[SourceFile]:
        """The files below directory `path`, whose relative path is `prefix` ("" or "a/b/")."""
        stack: list[_OpenDirectory] = []
        self._enter(path, prefix, stack)
        yield from self._descend(stack)

    def entries(self, parent: str, names: set[str]) -> Iterator[SourceFile]:
        """The files at `names` inside directory `parent`; nothing when it is gone."""
        base = Path(self.root, parent)
        try:
            with os.scandir(base) as scan:
                chosen = [entry for entry in scan if entry.name in names]
        except OSError:
            return
        prefix = f"{parent}/" if parent else ""
        for entry in chosen:
            stack: list[_OpenDirectory] = []
            source = self._entry(entry, prefix + entry.name, base, stack)
            if source is not None:
                yield source
            yield from self._descend(stack)

    def _descend(self, stack: list[_OpenDirectory]) -> Iterator[SourceFile]:
        """The files below the directories on `stack` (the current path, deepest last), in path
        order. A loop over an explicit stack, not recursion: a cloned repository can nest
        deeper than Python's recursion limit."""
        try:
            while stack:
                current = stack[-1]
                entry = next(current.entries, None)
                if entry is None:
                    self.open.discard(stack.pop().identity)
                    continue
                source = self._entry(entry, current.prefix + entry.name, current.base, stack)
                if source is not None:
                    yield source
        finally:
            self.open.difference_update(directory.identity for directory in stack)

    def _enter(self, path: str, prefix: str, stack: list[_OpenDirectory]) -> None:
        """Push directory `path`, whose relative path is `prefix`, with its entries in path order
        (a directory sorts as `name/`); report it instead when it cannot be read or was seen."""
        relpath = prefix.rstrip("/") or "."
        try:
            info = os.stat(path)
            identity = (info.st_dev, info.st_ino)
            if identity in self.seen:
                self.report(relpath, "directory seen twice")
                return
            with os.scandir(path) as scan:
                entries = [(entry.name + "/" if _is_dir(entry) else entry.name, entry) for entry in scan]
        except OSError as exc:
            self.report(relpath, _reason(exc))
            return
        self.seen.add(identity)
        self.open.add(identity)
        entries.sort()
        stack.append(_OpenDirectory(identity, Path(path), prefix, iter([entry for _key, entry in entries])))

    def _entry(self, entry: os.DirEntry[str], relpath: str, base: Path, stack: list[_OpenDirectory]) -> SourceFile | None:
        """One directory entry, judged by the ignore rules: a file, a subtree pushed onto
        `stack`, or nothing."""
        if _is_dir(entry):
            if not self.rules.prunes_dir(relpath):
                self._subdirectory(entry, relpath, stack)
            elif not self.rules.always_pruned(relpath):
                self._left_out(relpath, self.rules.excluding(relpath, is_dir=True), is_dir=True)
            return None
        rule = self.rules.excluding(relpath, is_dir=False)
        if rule is not None:
            self._left_out(relpath, rule, is_dir=False)
            return None
        return self._source_file(entry, relpath, base)

    def _left_out(self, relpath: str, rule: IgnoreRule | None, is_dir: bool) -> None:
        """Tell which rule left out a directory, or a file with a language: the cause of an index
        that holds little. A bundle left out by its default name is a skip, "minified", to be
        counted with the bundles found by content. `rule` is None for a generated directory."""
        if rule is None or not (is_dir or self._wanted(detect_language(relpath))):
            return
        if not is_dir and rule.file == DEFAULTS_SOURCE and rule.pattern in MINIFIED_NAMES:
            self.report(relpath, "minified")
        else:
            self.on_ignore(rule, is_dir)

    def _wanted(self, language: str | None) -> bool:
        """Whether files in `language` are indexed: it is one, and one chosen."""
        return language is not None and (self.languages is None or language in self.languages)

    def _subdirectory(self, entry: os.DirEntry[str], relpath: str, stack: list[_OpenDirectory]) -> None:
        """Enter a directory; a symlinked one only when that indexes something new."""
        problem = self._link_problem(entry.path) if entry.is_symlink() else None
        if problem:
            self.report(relpath, problem)
        else:
            self._enter(entry.path, relpath + "/", stack)

    def _link_problem(self, path: str) -> str | None:
        """Why not to follow a symlinked directory: its target is outside, an ancestor, or indexed anyway."""
        target_relpath = relative_inside(self.root, path)
        if target_relpath is None:
            return "symlink leaving root"
        try:
            info = os.stat(path)
        except OSError as exc:
            return _reason(exc)
        if (info.st_dev, info.st_ino) in self.open:
            return "symlink loop"
        if not self.rules.is_ignored(target_relpath, is_dir=True):
            return "symlink to indexed directory"
        return None

    def _source_file(self, entry: os.DirEntry[str], relpath: str, base: Path) -> SourceFile | None:
        """The entry of directory `base` as a SourceFile, or None when it has no language or is
        skipped (reported).
        """
        leaves_root = entry.is_symlink() and relative_inside(self.root, entry.path) is None
        language = detect_language(relpath)
        if language is None and not leaves_root and needs_head(relpath) and entry.is_file():
            language = detect_language(relpath, _read_head(entry.path))
        if not self._wanted(language):
            return None
        problem = "symlink leaving root" if leaves_root else self._file_problem(entry, relpath)
        if problem:
            self.report(relpath, problem)
            return None
        info = entry.stat()  # cached by the DirEntry since _file_problem
        return SourceFile(relpath, base / entry.name, language, info.st_size, info.st_mtime_ns)

    def _file_problem(self, entry: os.DirEntry[str], relpath: str) -> str | None:
        """Why a file with a language is still left out, if it is."""
        try:
            info = entry.stat()
        except FileNotFoundError:
            return "broken symlink" if entry.is_symlink() else "vanished"
        except OSError as exc:
            return _reason(exc)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > self.max_bytes:
            return "too large"
        if not _encodes(relpath):
            return "undecodable name"
        return None



def _encodes(text: str) -> bool:
    """Whether a file name survives UTF-8 (the store's encoding): not undecodable bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
