"""Query task detection and forcing."""

import pytest

from codesearch.errors import CodesearchError
from codesearch.tasks import query_task


@pytest.mark.parametrize(
    "query",
    ["parse json", "how do I read a file line by line", "foo()", "sort list of dicts by key", "what is x = 1 for"],
)
def test_prose_is_nl2code(query: str) -> None:
    assert query_task(query) == "nl2code.query"


@pytest.mark.parametrize(
    "query",
    [
        "def load(self, path):\n    return json.load(path)",
        "for (int i = 0; i < n; i++) { sum += a[i]; }",
        "func main() {\n\tfmt.Println(x)\n}",
        "const add = (a, b) => a + b;",
    ],
)
def test_code_is_code2code(query: str) -> None:
    assert query_task(query) == "code2code.query"


@pytest.mark.parametrize(("forced", "task"), [("qa", "qa.query"), ("code2nl.query", "code2nl.query")])
def test_forced_task(forced: str, task: str) -> None:
    assert query_task("anything", forced) == task


def test_unknown_forced_task_is_an_error() -> None:
    with pytest.raises(CodesearchError, match="unknown task"):
        query_task("x", "poetry")
