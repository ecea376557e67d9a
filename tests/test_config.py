"""Configuration: flags > environment > INDEX/config.toml > pyproject [tool.codesearch] > defaults,
`codesearch config`, bad files, and the settings reaching `index` and `watch`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from codesearch.config import KEYS, load_config
from conftest import REPO_FILES, indexed_paths, write_repo

ENV_KEYS = [f"CODESEARCH_{key.upper()}" for key in KEYS]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings in the developer's environment must not leak into these tests."""
    for name in (*ENV_KEYS, "CODESEARCH_INDEX", "JINA_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def write_pyproject(root: Path, body: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text(f'[project]\nname = "demo"\n\n[tool.codesearch]\n{body}\n')
    return path


def write_config_toml(root: Path, body: str) -> Path:
    path = root / ".codesearch" / "config.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body + "\n")
    return path


def config_json(cli, root: Path) -> dict:
    result = cli("config", root, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["settings"]


def test_defaults_when_nothing_is_set(repo: Path, cli) -> None:
    settings = config_json(cli, repo)
    assert {key: entry["source"] for key, entry in settings.items()} == {key: "default" for key in KEYS}
    assert settings["embedder"]["value"] == "static"
    assert (settings["chunk_size"]["value"], settings["max_file_size"]["value"]) == (120, 1 << 20)


def test_pyproject_overrides_defaults(repo: Path, cli) -> None:
    pyproject = write_pyproject(repo, "dims = 64")
    assert config_json(cli, repo)["dims"] == {"value": 64, "source": f"{pyproject} [tool.codesearch]"}


def test_config_toml_overrides_pyproject(repo: Path, cli) -> None:
    write_pyproject(repo, "dims = 64")
    config_toml = write_config_toml(repo, "dims = 32")
    assert config_json(cli, repo)["dims"] == {"value": 32, "source": str(config_toml)}


def test_environment_overrides_config_toml(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(repo, "dims = 64")
    write_config_toml(repo, "dims = 32")
    monkeypatch.setenv("CODESEARCH_DIMS", "48")
    assert config_json(cli, repo)["dims"] == {"value": 48, "source": "env CODESEARCH_DIMS"}


def test_flag_overrides_environment(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config_toml(repo, "dims = 32")
    monkeypatch.setenv("CODESEARCH_DIMS", "48")
    assert load_config(repo, flags={"dims": 16}).sources["dims"] == "flag"
    result = cli("index", repo, "--dims", "16", "--json")
    assert result.exit_code == 0, result.output
    assert ":16:" in json.loads(result.stdout)["embedder"]


def test_index_uses_the_configured_embedder_settings(repo: Path, cli) -> None:
    write_pyproject(repo, 'embedder = "static"\ndims = 64')
    result = cli("index", repo, "--json")
    assert result.exit_code == 0, result.output
    assert ":64:" in json.loads(result.stdout)["embedder"]


def test_unset_embedder_keeps_the_one_the_index_was_built_with(repo: Path, cli) -> None:
    assert cli("index", repo, "--dims", "64", "--quiet").exit_code == 0
    result = cli("index", repo, "--json")
    assert result.exit_code == 0, result.output
    assert ":64:" in json.loads(result.stdout)["embedder"]


@pytest.mark.parametrize(("setting", "source"), [(("--dims", "64"), "--dims"), ((), "env CODESEARCH_DIMS")])
def test_other_dims_name_the_rebuild_and_where_they_were_set(
    repo: Path, cli, monkeypatch: pytest.MonkeyPatch, setting: tuple[str, ...], source: str
) -> None:
    assert cli("index", repo, "--quiet").exit_code == 0
    monkeypatch.setenv("CODESEARCH_DIMS", "64")
    result = cli("index", repo, *setting)
    assert result.exit_code == 2
    assert "`codesearch index --full --dims 64`" in result.stderr
    assert result.stderr.strip().endswith(f"(dims set by {source})")


def test_watch_refuses_an_index_built_with_other_dims_than_configured(repo: Path, cli) -> None:
    assert cli("index", repo, "--quiet").exit_code == 0
    command = [str(Path(sys.executable).with_name("codesearch")), "watch", str(repo)]
    env = {**{name: value for name, value in os.environ.items() if name not in ENV_KEYS}, "CODESEARCH_DIMS": "64"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("(dims set by env CODESEARCH_DIMS)")


def test_full_rebuild_keeps_the_recorded_embedder_when_nothing_chooses_one(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("index", repo, "--dims", "64", "--quiet").exit_code == 0
    monkeypatch.setenv("JINA_API_KEY", "jina_test_key")  # would make jina the default for a new index
    result = cli("index", repo, "--full", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["embedder"].startswith("static:") and ":64:" in json.loads(result.stdout)["embedder"]


def test_environment_lists_are_comma_separated(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESEARCH_LANGUAGES", "python, go")
    monkeypatch.setenv("CODESEARCH_IGNORE", "web/,*.md")
    settings = load_config(repo)
    assert (settings.languages, settings.ignore) == (("python", "go"), ("web/", "*.md"))


def test_config_text_names_each_source(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject = write_pyproject(repo, 'ignore = ["web/"]')
    monkeypatch.setenv("CODESEARCH_CHUNK_SIZE", "40")
    lines = cli("config", repo).stdout.splitlines()
    assert any(line.split() == ["ignore", '["web/"]', str(pyproject), "[tool.codesearch]"] for line in lines)
    assert any(line.split() == ["chunk_size", "40", "env", "CODESEARCH_CHUNK_SIZE"] for line in lines)
    assert any(line.split() == ["max_file_size", "1048576", "default"] for line in lines)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("dimz = 3", "unknown key 'dimz'; known keys: embedder, model, dims, ignore, languages, chunk_size, max_file_size"),
        ('dims = "big"', "dims: expected a positive integer, got 'big'"),
        ("chunk_size = 0", "chunk_size: expected a positive integer, got 0"),
        ('embedder = "word2vec"', "embedder: unknown embedder 'word2vec'; choose one of: static, jina, local"),
        ('languages = ["python", "cobol"]', "languages: unknown language 'cobol'"),
        ('ignore = "web/"', "ignore: expected a list of strings, got 'web/'"),
        ("dims = ", "not valid TOML"),
    ],
)
def test_bad_config_toml_is_one_line_naming_file_and_key(repo: Path, cli, body: str, message: str) -> None:
    path = write_config_toml(repo, body)
    for command in (["config", repo], ["index", repo, "--quiet"]):
        result = cli(*command)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"codesearch: error: {path}: ")
        assert message in result.stderr and result.stderr.count("\n") == 1


def test_bad_pyproject_key_names_the_table(repo: Path, cli) -> None:
    pyproject = write_pyproject(repo, "colour = 1")
    result = cli("config", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"codesearch: error: {pyproject} [tool.codesearch]: unknown key 'colour'")


def test_bad_environment_value_names_the_variable(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESEARCH_MAX_FILE_SIZE", "lots")
    result = cli("config", repo)
    assert result.stderr == "codesearch: error: CODESEARCH_MAX_FILE_SIZE: expected a positive integer, got 'lots'\n"


def test_index_honours_ignore_and_languages(repo: Path, cli) -> None:
    write_config_toml(repo, 'ignore = ["web/"]\nlanguages = ["python", "javascript", "markdown"]')
    assert cli("index", repo, "--quiet").exit_code == 0
    assert indexed_paths(repo) == {"src/jsonutil.py", "src/mathutil.py", "README.md"}


def test_configured_ignore_can_bring_back_what_git_ignores(repo: Path, cli) -> None:
    write_config_toml(repo, 'ignore = ["!build/"]')
    assert cli("index", repo, "--quiet").exit_code == 0
    assert "build/generated.py" in indexed_paths(repo)


def test_codesearchignore_file_overrides_the_configured_ignore(repo: Path, cli) -> None:
    write_config_toml(repo, 'ignore = ["web/"]')
    (repo / ".codesearchignore").write_text("!web/\n")
    assert cli("index", repo, "--quiet").exit_code == 0
    assert "web/debounce.js" in indexed_paths(repo)


def test_index_honours_chunk_size(tmp_path: Path, cli) -> None:
    body = "".join(f"    total += {i}\n" for i in range(60))
    root = write_repo(tmp_path / "long", {"long.py": f"def long_sum():\n    total = 0\n{body}    return total\n"})
    write_config_toml(root, "chunk_size = 20")
    result = cli("index", root, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chunks"] >= 4


def test_a_new_chunk_size_re_chunks_unchanged_files(tmp_path: Path, cli) -> None:
    body = "".join(f"    total += {i}\n" for i in range(60))
    root = write_repo(tmp_path / "long", {"long.py": f"def long_sum():\n    total = 0\n{body}    return total\n"})
    assert json.loads(cli("index", root, "--json").stdout)["chunks"] == 1
    write_config_toml(root, "chunk_size = 20")
    assert json.loads(cli("index", root, "--json").stdout)["chunks"] >= 4


def test_index_honours_configured_max_file_size(repo: Path, cli) -> None:
    write_config_toml(repo, "max_file_size = 200")
    assert cli("index", repo, "--quiet").exit_code == 0
    assert indexed_paths(repo) == {"README.md", "net/fetch.go"}  # the files under 200 bytes


def test_watch_honours_the_configuration(repo: Path) -> None:
    root = repo
    write_config_toml(root, 'ignore = ["web/"]\nlanguages = ["python", "go", "javascript"]')
    command = [str(Path(sys.executable).with_name("codesearch")), "watch", str(root), "--verbose"]
    env = {name: value for name, value in os.environ.items() if name not in ENV_KEYS}
    watcher = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in watcher.stderr:  # type: ignore[union-attr]
            if line.startswith("watching "):
                break
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=60)
    assert indexed_paths(root) == {"src/jsonutil.py", "src/mathutil.py", "net/fetch.go"}
