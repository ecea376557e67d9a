"""The ranking stage through the real CLI: implementations before their tests, definitions
before their uses, the file named after a symbol first."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesearch.ranking import is_support
from conftest import ask_json, write_repo

AUTH = '''
class HTTPDigestAuth:
    """Attaches HTTP digest authentication to a request."""

    def __init__(self, username, password):
        self.username = username
        self.password = password
'''
AUTH_TESTS = '''
from auth import HTTPDigestAuth


def test_digest_authentication_sends_digest_auth_header():
    auth = HTTPDigestAuth("user", "pass")  # digest authentication of a request
    assert auth.username == "user"


def test_digest_authentication_retries_digest_auth():
    auth = HTTPDigestAuth("user", "pass")  # digest authentication again
    assert auth.password == "pass"
'''


def top_paths(cli, root: Path, query: str, k: int = 3) -> list[str]:
    return [hit["path"] for hit in ask_json(cli, query, "-k", str(k), "--index", root)["results"]]


@pytest.fixture
def tested(tmp_path: Path, cli) -> Path:
    root = write_repo(tmp_path / "repo", {"src/auth.py": AUTH, "tests/test_auth.py": AUTH_TESTS})
    assert cli("index", root, "--quiet").exit_code == 0
    return root


def test_the_implementation_outranks_its_tests(tested: Path, cli) -> None:
    assert top_paths(cli, tested, "digest authentication of a request")[0] == "src/auth.py"


def test_a_query_that_asks_for_tests_gets_them(tested: Path, cli) -> None:
    assert top_paths(cli, tested, "tests of digest authentication")[0] == "tests/test_auth.py"


def test_a_symbol_query_finds_its_definition_before_its_uses(tmp_path: Path, cli) -> None:
    uses = {f"app/use{i}.py": f"from settings import Settings\n\ndef load{i}():\n    return Settings().load(Settings)\n" for i in range(6)}
    definition = "class Settings:\n    def load(self, source):\n        return dict(source)\n"
    root = write_repo(tmp_path / "repo", {**uses, "lib/settings.py": definition})
    assert cli("index", root, "--quiet").exit_code == 0
    assert top_paths(cli, root, "Settings")[0] == "lib/settings.py"


def test_a_symbol_query_finds_the_file_named_after_it(tmp_path: Path, cli) -> None:
    files = {f"src/Use{i}.kt": f"fun use{i}(t: Table) = t.scan()\n" for i in range(6)}
    body = "".join(f"    fun column{i}(name: String) = rows.map {{ it[name] }}.filter {{ it != null }}\n" for i in range(40))
    root = write_repo(tmp_path / "repo", {**files, "src/Table.kt": "open class Table {\n" + body + "}\n"})
    assert cli("index", root, "--quiet").exit_code == 0
    assert top_paths(cli, root, "Table")[0] == "src/Table.kt"


def test_a_name_made_of_the_query_words_comes_first(tmp_path: Path, cli) -> None:
    files = {
        "config/parse.py": (
            'def load_settings(path):\n    """Parse the config file and return the config as a dict: parse config values."""\n'
            "    return parse(read(path), config=True)\n"
        ),
        "app/settings.py": "def parse_config(path):\n    with open(path) as source:\n        return load(source)\n",
        "app/page.py": "def render_page(template):\n    return template.format()\n",
        "app/net.py": "def connect(url):\n    return socket(url)\n",
    }
    root = write_repo(tmp_path / "repo", files)
    assert cli("index", root, "--quiet").exit_code == 0
    assert top_paths(cli, root, "parse config")[0] == "app/settings.py"


def test_a_files_third_and_later_chunks_yield_to_another_file(tmp_path: Path, cli) -> None:
    parsers = "".join(f"def parse_json_{name}(text):\n    return json_parse(text, {name!r})\n\n\n" for name in "abcdef")
    other = "def parse_json_file(path):\n    return parse_json_text(open(path).read())\n"
    root = write_repo(tmp_path / "repo", {"lib/parsers.py": parsers, "lib/reader.py": other})
    assert cli("index", root, "--quiet").exit_code == 0
    ranked = top_paths(cli, root, "parse json", k=7)
    assert ranked[:2] == ["lib/parsers.py", "lib/parsers.py"]
    assert "lib/reader.py" in ranked[:5]  # last of seven without the spread


@pytest.mark.parametrize(
    ("path", "support"),
    [
        ("tests/test_auth.py", True), ("src/auth_test.go", True), ("web/button.test.tsx", True),
        ("src/FooTests.cs", True), ("examples/basic.rs", True), ("docs/conf.py", True),
        ("src/contest.py", False), ("src/latest.py", False), ("src/testing_utils_impl/x.py", False),
    ],
)
def test_support_code_is_told_by_its_path(path: str, support: bool) -> None:
    assert is_support(path) is support
