"""Which language a file is written in, from its name or, for scripts, its shebang; a `.h`
header's content says whether it is C or C++ (`content_language`).

Everything is a table so that adding a language is one line. A file whose language is
None is not indexed: data (JSON, CSV, lock files), media, archives and unknown formats.
The first 13 languages have tree-sitter grammars; the rest are indexed as text.
"""

from __future__ import annotations

import os
import re

_EXTENSIONS: dict[str, tuple[str, ...]] = {
    # Languages with a grammar.
    "python": (".py", ".pyi", ".pyw"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".mts", ".cts"),
    "tsx": (".tsx",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "c": (".c", ".h"),
    # CUDA is close enough to C++ for the C++ grammar to find its functions.
    "cpp": (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp", ".inl", ".cu", ".cuh"),
    "csharp": (".cs", ".csx"),
    "ruby": (".rb", ".rake", ".gemspec", ".ru"),
    "php": (".php", ".phtml"),
    "bash": (".sh", ".bash", ".zsh", ".ksh"),
    # Text-like languages, chunked by headings or line windows.
    "markdown": (".md", ".markdown", ".mdx"),
    "rst": (".rst",),
    "asciidoc": (".adoc", ".asciidoc"),
    "text": (".txt",),
    "latex": (".tex",),
    "yaml": (".yaml", ".yml"),
    "toml": (".toml",),
    "ini": (".ini", ".cfg", ".conf"),
    "sql": (".sql",),
    "kotlin": (".kt", ".kts"),
    "swift": (".swift",),
    "scala": (".scala", ".sc"),
    "groovy": (".groovy", ".gradle"),
    "lua": (".lua",),
    "perl": (".pl", ".pm"),
    "r": (".r",),
    "julia": (".jl",),
    "dart": (".dart",),
    "zig": (".zig",),
    "nim": (".nim",),
    "elixir": (".ex", ".exs"),
    "erlang": (".erl", ".hrl"),
    "haskell": (".hs", ".lhs"),
    "ocaml": (".ml", ".mli"),
    "fsharp": (".fs", ".fsi", ".fsx"),
    "clojure": (".clj", ".cljs", ".cljc", ".edn"),
    "elisp": (".el",),
    "scheme": (".scm", ".ss"),
    "racket": (".rkt",),
    "lisp": (".lisp", ".lsp"),
    # .m is Objective-C here, not MATLAB: the far more common meaning in source trees.
    "objc": (".m", ".mm"),
    "powershell": (".ps1", ".psm1", ".psd1"),
    "batch": (".bat", ".cmd"),
    "fish": (".fish",),
    "awk": (".awk",),
    "tcl": (".tcl",),
    "vim": (".vim",),
    "html": (".html", ".htm"),
    "css": (".css",),
    "scss": (".scss",),
    "sass": (".sass",),
    "less": (".less",),
    "vue": (".vue",),
    "svelte": (".svelte",),
    "astro": (".astro",),
    "dockerfile": (".dockerfile",),
    "makefile": (".mk", ".mak"),
    "cmake": (".cmake",),
    "proto": (".proto",),
    "thrift": (".thrift",),
    "graphql": (".graphql", ".gql"),
    "hcl": (".tf", ".tfvars", ".hcl"),
    "nix": (".nix",),
    "starlark": (".bzl", ".star"),
    "solidity": (".sol",),
    "asm": (".s", ".asm"),
    "devicetree": (".dts", ".dtsi"),
    "fortran": (".f", ".f90", ".f95", ".f03", ".f08"),
    "verilog": (".sv", ".svh"),
    "vhdl": (".vhd", ".vhdl"),
    "crystal": (".cr",),
    "coffeescript": (".coffee",),
    "elm": (".elm",),
    "jinja": (".jinja", ".jinja2", ".j2"),
}

_FILENAMES: dict[str, str] = {
    "Dockerfile": "dockerfile",
    "Containerfile": "dockerfile",
    "Makefile": "makefile",
    "makefile": "makefile",
    "GNUmakefile": "makefile",
    "Kbuild": "makefile",
    "Kconfig": "kconfig",
    "CMakeLists.txt": "cmake",
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "Guardfile": "ruby",
    "Podfile": "ruby",
    "Vagrantfile": "ruby",
    "Brewfile": "ruby",
    "Jenkinsfile": "groovy",
    "PKGBUILD": "bash",
    ".bashrc": "bash",
    ".bash_profile": "bash",
    ".bash_aliases": "bash",
    ".profile": "bash",
    ".zshrc": "bash",
    ".zprofile": "bash",
    "BUILD.bazel": "starlark",
    "WORKSPACE": "starlark",
    "README": "text",
}

# Names such as Dockerfile.dev, Makefile.am, Kconfig.debug.
_FILENAME_PREFIXES: dict[str, str] = {
    "Dockerfile.": "dockerfile",
    "Containerfile.": "dockerfile",
    "Makefile.": "makefile",
    "Kconfig.": "kconfig",
}

# Interpreter names after version digits are stripped (python3.11 -> python).
_INTERPRETERS: dict[str, str] = {
    "python": "python",
    "pypy": "python",
    "node": "javascript",
    "nodejs": "javascript",
    "bun": "javascript",
    "deno": "typescript",
    "ts-node": "typescript",
    "tsx": "typescript",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "dash": "bash",
    "ksh": "bash",
    "ash": "bash",
    "mksh": "bash",
    "ruby": "ruby",
    "php": "php",
    "perl": "perl",
    "lua": "lua",
    "luajit": "lua",
    "rscript": "r",
    "julia": "julia",
    "pwsh": "powershell",
    "elixir": "elixir",
    "escript": "erlang",
    "runghc": "haskell",
    "runhaskell": "haskell",
    "groovy": "groovy",
    "scala": "scala",
    "swift": "swift",
    "make": "makefile",
    "awk": "awk",
    "gawk": "awk",
    "mawk": "awk",
    "tclsh": "tcl",
    "fish": "fish",
}

_BY_EXTENSION: dict[str, str] = {ext: lang for lang, exts in _EXTENSIONS.items() for ext in exts}

ALL_LANGUAGES: frozenset[str] = frozenset(
    [*_EXTENSIONS, *_FILENAMES.values(), *_FILENAME_PREFIXES.values(), *_INTERPRETERS.values()]
)

_ALIASES: dict[str, str] = {
    "py": "python", "js": "javascript", "node": "javascript", "ts": "typescript", "golang": "go",
    "rs": "rust", "c++": "cpp", "cxx": "cpp", "cuda": "cpp", "c#": "csharp", "cs": "csharp",
    "rb": "ruby", "sh": "bash", "shell": "bash", "zsh": "bash", "md": "markdown", "kt": "kotlin",
    "yml": "yaml", "objective-c": "objc", "ps1": "powershell", "docker": "dockerfile", "make": "makefile",
}
"""Names people type for a language besides its own: file extensions and common spellings."""

_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def canonical_language(name: str) -> str:
    """The language `name` means, in any case and by alias (`Python`, `py`, `C++`); ValueError
    naming the known ones when there is none."""
    key = name.strip().lower()
    language = _ALIASES.get(key, key)
    if language not in ALL_LANGUAGES:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(sorted(ALL_LANGUAGES))}")
    return language


def detect_language(path: str, head: bytes | None = None) -> str | None:
    """The language of `path` by name, else by the shebang in `head` (the file's first bytes)."""
    name = os.path.basename(path)
    language = _by_name(name)
    if language is None and head is not None:
        language = _by_shebang(head)
    return language


_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:namespace[ \t]+[\w:]*[ \t]*\{|template[ \t]*<|class[ \t]+\w+[^;\n]*$|(?:public|private|protected)[ \t]*:)"
    rb"|^[ \t]*#[ \t]*include[ \t]*<[a-z_]+>|\bstd::\w",
    re.MULTILINE,
)
"""What only C++ says: namespaces, templates, classes, access labels, the standard library's
headers (without `.h`) and names."""


def content_language(path: str, language: str, data: bytes) -> str:
    """`language` as the file's content refines it: a `.h` header written in C++ (abseil's,
    fmt's) is C++, so that its classes and templates are parsed as such rather than as C."""
    if language == "c" and path.endswith(".h") and _CPP_HEADER.search(data):
        return "cpp"
    return language


def needs_head(path: str) -> bool:
    """True when only the file's first bytes can tell its language: an extensionless script.

    Callers read the head only for these, so a walk opens few files.
    """
    name = os.path.basename(path)
    return "." not in name.lstrip(".") and _by_name(name) is None


def _by_name(name: str) -> str | None:
    """Exact file name first (CMakeLists.txt is not text), then name prefix, then extension."""
    if name in _FILENAMES:
        return _FILENAMES[name]
    for prefix, language in _FILENAME_PREFIXES.items():
        if name.startswith(prefix):
            return language
    return _BY_EXTENSION.get(os.path.splitext(name)[1].lower())


def _by_shebang(head: bytes) -> str | None:
    """`#!/usr/bin/python3`, `#!/usr/bin/env node`, `#!/usr/bin/env -S deno run` and the like."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    program = os.path.basename(words[0]) if words else ""
    if program == "env":
        # Skip env's options (-S, -i) and VAR=value assignments to reach the program.
        program = next((w for w in words[1:] if not w.startswith("-") and "=" not in w), "")
    return _INTERPRETERS.get(_VERSION_SUFFIX.sub("", program.lower()))
