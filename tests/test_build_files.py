"""Build and CI files whose definitions are calls: Bazel targets and Jenkins pipelines. The
grammar fixtures (a .bzl file, a build.gradle) cover the rest in test_chunker.py."""

from __future__ import annotations

from codesearch.chunker import chunk_source
from codesearch.models import Chunk

BUILD = b"""load("@rules_cc//cc:defs.bzl", "cc_library", "cc_test")

cc_library(
    name = "strings",
    srcs = ["str_cat.cc"],
    hdrs = ["str_cat.h"],
)

# Runs under every sanitizer.
cc_test(
    name = "strings_test",
    srcs = ["str_cat_test.cc"],
    deps = [":strings"],
)

exports_files(["LICENSE"])
"""

JENKINSFILE = b"""pipeline {
    agent any
    stages {
        stage('Test') {
            steps {
                sh 'make test'
            }
        }
    }
}

def notifySlack(String status) {
    slackSend message: "Build ${status}"
}
"""


def triples(chunks: list[Chunk]) -> list[tuple[str, str, int, int]]:
    return [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks]


def test_bazel_targets_are_named_by_their_name_argument() -> None:
    assert triples(chunk_source("BUILD.bazel", "starlark", BUILD)) == [
        ("module", "", 1, 1),
        ("function", "strings", 3, 7),
        ("function", "strings_test", 9, 14),
        ("module", "", 16, 16),
    ]


def test_jenkins_pipeline_is_one_chunk_with_its_stages() -> None:
    assert triples(chunk_source("Jenkinsfile", "groovy", JENKINSFILE)) == [
        ("function", "pipeline", 1, 10),
        ("function", "notifySlack", 12, 14),
    ]
