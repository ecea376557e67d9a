"""Language detection: by file name, by extension, and by shebang for extensionless scripts."""

from __future__ import annotations

import pytest

from codesearch.chunker import GRAMMAR_LANGUAGES
from codesearch.languages import ALL_LANGUAGES, detect_language, needs_head


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
