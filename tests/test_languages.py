"""Language detection: by file name, by extension, by shebang for extensionless scripts, and by
content for C++ written in `.h` headers."""

from __future__ import annotations

import pytest

from codesearch.chunker import GRAMMAR_LANGUAGES
from codesearch.languages import ALL_LANGUAGES, content_language, detect_language, needs_head
from conftest import ask_json, write_repo


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a.py", "python"), ("stubs/a.pyi", "python"), ("gui.pyw", "python"),
        ("a.js", "javascript"), ("a.mjs", "javascript"), ("a.cjs", "javascript"), ("a.jsx", "javascript"),
        ("a.ts", "typescript"), ("a.mts", "typescript"), ("a.cts", "typescript"), ("types.d.ts", "typescript"),
        ("a.tsx", "tsx"), ("a.go", "go"), ("a.rs", "rust"), ("A.java", "java"),
        ("a.c", "c"), ("a.h", "c"),
        ("a.hpp", "cpp"), ("a.hh", "cpp"), ("a.hxx", "cpp"), ("a.cc", "cpp"), ("a.cpp", "cpp"),
        ("a.cxx", "cpp"), ("a.c++", "cpp"),
        ("a.cs", "csharp"), ("a.rb", "ruby"), ("tasks.rake", "ruby"), ("x.gemspec", "ruby"),
        ("a.php", "php"), ("a.phtml", "php"), ("a.sh", "bash"), ("a.bash", "bash"), ("a.zsh", "bash"),
        ("README.md", "markdown"), ("index.rst", "rst"), ("notes.txt", "text"),
        ("ci.yaml", "yaml"), ("ci.yml", "yaml"), ("pyproject.toml", "toml"), ("schema.sql", "sql"),
        ("A.kt", "kotlin"), ("a.swift", "swift"), ("a.scala", "scala"), ("a.lua", "lua"),
        ("a.pl", "perl"), ("a.R", "r"), ("a.html", "html"), ("a.css", "css"), ("a.scss", "scss"),
        ("App.vue", "vue"), ("App.svelte", "svelte"), ("api.proto", "proto"), ("q.graphql", "graphql"),
        ("setup.cfg", "ini"), ("tox.ini", "ini"), ("a.ex", "elixir"), ("a.erl", "erlang"),
        ("a.hs", "haskell"), ("a.ml", "ocaml"), ("a.clj", "clojure"), ("a.dart", "dart"),
        ("a.zig", "zig"), ("a.nim", "nim"), ("a.jl", "julia"), ("a.ps1", "powershell"),
        ("build.gradle", "groovy"), ("a.groovy", "groovy"), ("View.m", "objc"), ("rules.mk", "makefile"),
        ("arch/x86/entry.S", "asm"), ("toolchain.cmake", "cmake"),
    ],
)
def test_extension_table(path: str, language: str) -> None:
    assert detect_language(path) == language


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("Dockerfile", "dockerfile"), ("docker/Dockerfile.dev", "dockerfile"), ("Makefile", "makefile"),
        ("GNUmakefile", "makefile"), ("Rakefile", "ruby"), ("Gemfile", "ruby"),
        ("CMakeLists.txt", "cmake"), ("Jenkinsfile", "groovy"), ("Kconfig", "kconfig"),
    ],
)
def test_well_known_file_names(path: str, language: str) -> None:
    assert detect_language(path) == language


@pytest.mark.parametrize(
    "path",
    ["package.json", "yarn.lock", "Cargo.lock", "go.sum", "logo.png", "dist.tar.gz", "data.csv",
     "model.bin", "LICENSE", ".env", ".env.local"],
)
def test_data_media_archives_and_secrets_are_not_indexed(path: str) -> None:
    assert detect_language(path) is None


def test_extension_case_does_not_matter() -> None:
    assert detect_language("LEGACY.PY") == "python"


@pytest.mark.parametrize(
    ("head", "language"),
    [
        (b"#!/usr/bin/env python3\nprint(1)\n", "python"),
        (b"#!/usr/bin/python3.11 -u\n", "python"),
        (b"#!/bin/bash\nset -e\n", "bash"),
        (b"#!/bin/sh\n", "bash"),
        (b"#!/usr/bin/env zsh\n", "bash"),
        (b"#!/bin/dash\n", "bash"),
        (b"#!/usr/bin/env node\n", "javascript"),
        (b"#!/usr/bin/env ruby\n", "ruby"),
        (b"#!/usr/bin/php\n", "php"),
        (b"#!/usr/bin/perl -w\n", "perl"),
        (b"#! /usr/bin/env python3\r\n", "python"),
        (b"#!/usr/bin/env -S python3 -X dev\n", "python"),
        (b"#!/usr/bin/env -S deno run --allow-read\n", "typescript"),
        (b"#!/usr/bin/env PYTHONUNBUFFERED=1 python3\n", "python"),
        (b"\xef\xbb\xbf#!/usr/bin/env python3\n", "python"),
    ],
)
def test_shebang_names_the_language_of_an_extensionless_script(head: bytes, language: str) -> None:
    assert detect_language("bin/tool", head) == language


@pytest.mark.parametrize("head", [b"", b"hello\n", b"#!\n", b"#!/usr/bin/env\n", b"#!/opt/unknown-interp\n"])
def test_no_shebang_or_unknown_interpreter_is_not_indexed(head: bytes) -> None:
    assert detect_language("bin/tool", head) is None


def test_name_wins_over_shebang() -> None:
    assert detect_language("run.sh", b"#!/usr/bin/env python3\n") == "bash"


def test_only_extensionless_unknown_files_need_their_head() -> None:
    assert needs_head("bin/tool")
    assert needs_head(".envrc")
    assert not needs_head("Makefile")
    assert not needs_head("a.py")
    assert not needs_head("logo.png")


def test_all_languages_lists_every_answer() -> None:
    assert GRAMMAR_LANGUAGES <= ALL_LANGUAGES
    assert {"markdown", "yaml", "dockerfile", "makefile", "objc"} <= ALL_LANGUAGES
    assert detect_language("x.vue") in ALL_LANGUAGES


@pytest.mark.parametrize(
    "source",
    [
        b"namespace absl {\nint Hash(int x);\n}\n",
        b"template <typename T>\nT max(T a, T b);\n",
        b"class Status final {\n  int code_;\n};\n",
        b"struct Span {\n public:\n  int size;\n};\n",
        b"#include <string_view>\nint parse(const char* s);\n",
        b"inline std::string name();\n",
    ],
)
def test_a_header_written_in_cpp_is_cpp(source: bytes) -> None:
    assert content_language("include/x.h", "c", source) == "cpp"


@pytest.mark.parametrize(
    "source",
    [
        b'#ifdef __cplusplus\nextern "C" {\n#endif\nint uv_run(uv_loop_t* loop);\n',
        b"/* the class of errors */\nstruct dict { int size; };\n#include <stdio.h>\n",
    ],
)
def test_a_c_header_stays_c(source: bytes) -> None:
    assert content_language("include/x.h", "c", source) == "c"


def test_a_cpp_header_is_indexed_and_filtered_as_cpp(tmp_path, cli) -> None:
    header = "namespace absl {\nclass Status {\n public:\n  int code() const { return code_; }\n private:\n  int code_;\n};\n}\n"
    root = write_repo(tmp_path / "repo", {"absl/status.h": header, "src/loop.h": "int uv_run(void* loop);\n"})
    assert cli("index", root, "--quiet").exit_code == 0
    (hit,) = [h for h in ask_json(cli, "Status", "--index", root, "--lang", "cpp")["results"] if h["symbol"] == "Status"]
    assert (hit["path"], hit["language"]) == ("absl/status.h", "cpp")
