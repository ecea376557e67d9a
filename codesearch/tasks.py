"""Task names of the jina-code-embeddings family and which one a query needs."""

from __future__ import annotations

import re

from codesearch.errors import CodesearchError

PASSAGE_TASK = "nl2code.passage"
"""Every chunk is embedded with this task; its instruction equals code2code.passage's."""

QUERY_TASKS = ("nl2code.query", "code2code.query", "code2nl.query", "code2completion.query", "qa.query")
TASK_NAMES = tuple(task.removesuffix(".query") for task in QUERY_TASKS)
"""How `--task` and error messages spell the query tasks."""

_CODE_SIGNS = (
    re.compile(r"[{};]\s*$", re.M),
    re.compile(r"\b(def|class|func|fn|function|return|import|const|let|var|public|private|static|void|for|while|int)\b.*[(:{=]"),
    re.compile(r"\{.*\}|\[\w*\]|\+\+|\+=|-="),
    re.compile(r"\w+(\.\w+)*\([^)]*\)\s*[:{;]?$", re.M),
    re.compile(r"(=>|->|::|:=|==|!=|&&|\|\|)"),
    re.compile(r"\n[ \t]+\S"),
)


def looks_like_code(query: str) -> bool:
    """Two independent code signs make a query code; one alone (`foo()`) is still prose."""
    return sum(1 for sign in _CODE_SIGNS if sign.search(query)) >= 2


def query_task(query: str, forced: str | None = None) -> str:
    """The `.query` task for a query: forced, else detected from its shape."""
    if forced:
        task = forced if forced.endswith(".query") else f"{forced}.query"
        if task not in QUERY_TASKS:
            raise CodesearchError(f"unknown task {forced!r}; choose one of: {', '.join(TASK_NAMES)}")
        return task
    return "code2code.query" if looks_like_code(query) else "nl2code.query"
