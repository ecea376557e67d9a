"""A cloned repository is untrusted input (issue #21): its settings and ignore files can make
`index` neither hang nor fill memory, nor raise the file-size limit, nor choose a model to run.

Whatever could hang or grow without bound runs `codesearch index` in a child process with a
memory cap and a timeout, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import indexed_paths

CODESEARCH = Path(sys.executable).with_name("codesearch")
MEMORY_CAP = 2 << 30
"""Address space for the child: ample for `index` (it runs in 1 GiB), soon hit by reading /dev/zero."""
TIMEOUT_S = 60
MIB = 1 << 20
REFUSAL = "settings files, which a cloned repository can bring, may not choose the local embedder or name a model by its path"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's CODESEARCH_* settings and Jina key must not reach these tests."""
    for name in [name for name in os.environ if name.startswith("CODESEARCH_")] + ["JINA_API_KEY"]:
        monkeypatch.delenv(name, raising=False)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def index_in_child(root: Path, stdin: int = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """`codesearch index ROOT` with memory capped; raises TimeoutExpired when it hangs."""
    return subprocess.run(
        [str(CODESEARCH), "index", str(root), "--quiet"], stdin=stdin, capture_output=True, text=True,
        timeout=TIMEOUT_S, preexec_fn=_cap_memory,
    )


def replace_with_link(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.symlink_to(target)
    return path


def write_pyproject(root: Path, body: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text(f'[project]\nname = "demo"\n\n[tool.codesearch]\n{body}\n')
    return path


def padded_ignore_file(path: Path, first: str, at: int, last: str) -> None:
    """An ignore file holding `first`, comment lines, and `last` starting at byte `at`."""
    filler = at - len(first)
    comments = (("#" * 99 + "\n") * (filler // 100 + 1))[: filler - 1] + "\n"
    path.write_text(first + comments + last)


@pytest.mark.parametrize("name", [".codesearchignore", ".gitignore"])
def test_ignore_file_linked_to_dev_zero_is_not_read(repo: Path, name: str) -> None:
    replace_with_link(repo / name, "/dev/zero")
    result = index_in_child(repo)
    assert (result.returncode, result.stderr) == (0, "")
    assert "src/mathutil.py" in indexed_paths(repo)


@pytest.mark.parametrize("name", ["pyproject.toml", ".codesearch/config.toml"])
def test_settings_file_linked_to_dev_zero_is_one_line_error(repo: Path, name: str) -> None:
    path = replace_with_link(repo / name, "/dev/zero")
    result = index_in_child(repo)
    assert result.returncode == 2
    assert result.stderr == f"codesearch: error: {path}: a symbolic link; settings are read only from a regular file, never through a link\n"


def test_ignore_file_linked_to_stdin_does_not_wait_for_it(repo: Path) -> None:
    replace_with_link(repo / ".codesearchignore", "/dev/stdin")
    reading, writing = os.pipe()  # held open: reading stdin would wait forever
    try:
        result = index_in_child(repo, stdin=reading)
    finally:
        os.close(reading)
        os.close(writing)
    assert (result.returncode, result.stderr) == (0, "")


def test_ignore_file_that_is_a_fifo_is_not_read(repo: Path) -> None:
    (repo / ".gitignore").unlink()
    os.mkfifo(repo / ".gitignore")
    result = index_in_child(repo)
    assert (result.returncode, result.stderr) == (0, "")
    assert "build/generated.py" in indexed_paths(repo)


def test_settings_file_that_is_a_fifo_is_one_line_error(repo: Path) -> None:
    os.mkfifo(repo / "pyproject.toml")
    result = index_in_child(repo)
    assert (result.returncode, result.stderr) == (2, f"codesearch: error: {repo / 'pyproject.toml'}: not a regular file\n")


def test_symlinked_ignore_file_is_not_read_even_when_regular(repo: Path, cli) -> None:
    """As git since 2.32: a symlinked .gitignore or .codesearchignore is not read at all."""
    (repo / "rules.txt").write_text("web/\n")
    replace_with_link(repo / ".codesearchignore", "rules.txt")
    assert cli("index", repo, "--quiet").exit_code == 0
    assert "web/debounce.js" in indexed_paths(repo)


def test_ignore_file_counts_up_to_its_first_mib(repo: Path, cli) -> None:
    padded_ignore_file(repo / ".codesearchignore", "web/\n", 5 * MIB, "src/\n")
    assert cli("index", repo, "--quiet").exit_code == 0
    paths = indexed_paths(repo)
    assert "web/debounce.js" not in paths
    assert "src/mathutil.py" in paths


def test_ignore_line_cut_by_the_bound_is_not_read(repo: Path, cli) -> None:
    """Read up to the cut, `*.py` would be `*`, which ignores everything."""
    padded_ignore_file(repo / ".codesearchignore", "web/\n", MIB - 1, "*.py\n")
    assert cli("index", repo, "--quiet").exit_code == 0
    assert "src/mathutil.py" in indexed_paths(repo)


def test_settings_file_over_a_mib_is_one_line_error(repo: Path, cli) -> None:
    pyproject = write_pyproject(repo, "dims = 64\n" + ("#" * 99 + "\n") * (MIB // 100 + 1))
    result = cli("index", repo)
    assert result.exit_code == 2
    assert result.stderr == f"codesearch: error: {pyproject}: larger than 1 MiB, more than settings need\n"


def test_repository_cannot_raise_max_file_size(repo: Path, cli) -> None:
    write_pyproject(repo, "max_file_size = 4000000000")
    (repo / "big.py").write_text("x = 1\n" * (MIB // 6 + 20000))  # just over the 1 MiB default
    result = cli("index", repo, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == {"too large": 1}
    assert cli("index", repo, "--max-file-size", "4000000", "--quiet").exit_code == 0
    assert "big.py" in indexed_paths(repo)


def test_config_shows_the_clamped_max_file_size_and_why(repo: Path, cli) -> None:
    pyproject = write_pyproject(repo, "max_file_size = 4000000000")
    setting = json.loads(cli("config", repo, "--json").stdout)["settings"]["max_file_size"]
    assert setting == {
        "value": MIB,
        "source": f"{pyproject} [tool.codesearch] (4000000000 lowered to the default: settings files may only lower it; "
        "--max-file-size or CODESEARCH_MAX_FILE_SIZE may raise it)",
    }


def test_repository_cannot_choose_the_local_embedder(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "models" / "evil").mkdir(parents=True)
    pyproject = write_pyproject(repo, f'embedder = "local"\nmodel = "{repo / "models" / "evil"}"')
    monkeypatch.delitem(sys.modules, "codesearch.embedders.local", raising=False)
    result = cli("index", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"codesearch: error: {pyproject} [tool.codesearch]: embedder: {REFUSAL}; ")
    assert result.stderr.count("\n") == 1
    assert "codesearch.embedders.local" not in sys.modules  # no model loaded, not even the backend


def test_repository_cannot_choose_the_local_model(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "models" / "evil").mkdir(parents=True)
    pyproject = write_pyproject(repo, f'model = "{repo / "models" / "evil"}"')
    monkeypatch.setenv("CODESEARCH_EMBEDDER", "local")
    monkeypatch.delitem(sys.modules, "codesearch.embedders.local", raising=False)
    result = cli("index", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"codesearch: error: {pyproject} [tool.codesearch]: model: {REFUSAL}; ")
    assert "codesearch.embedders.local" not in sys.modules


def test_repository_cannot_name_a_model_directory_for_any_embedder(repo: Path, cli, tmp_path: Path) -> None:
    pyproject = write_pyproject(repo, f'embedder = "static"\nmodel = "{tmp_path / "elsewhere"}"')
    result = cli("index", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"codesearch: error: {pyproject} [tool.codesearch]: ")
    assert "name a model by its path" in result.stderr


def test_user_may_choose_the_local_embedder(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(repo, "dims = 64")
    monkeypatch.setenv("CODESEARCH_EMBEDDER", "local")
    monkeypatch.setenv("CODESEARCH_MODEL", str(repo.parent / "no-such-model"))
    result = cli("index", repo)
    assert REFUSAL not in result.stderr
    assert "no model directory at" in result.stderr  # the local embedder was tried
