"""File discovery and safe reading, on real files in a temporary directory."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codesearch import files
from codesearch.files import (
    DEFAULT_MAX_BYTES, IgnoreRule, IgnoreRules, SkipFile, SourceFile, _read_to_end, discover, read_source,
)


def write(root: Path, tree: dict[str, str | bytes]) -> None:
    """Create `tree` (relative path -> content) under `root`."""
    for relpath, content in tree.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def git_init(directory: Path) -> Path:
    """`directory` made a git work tree by git itself."""
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    return directory


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    """tmp_path as a git work tree, where .gitignore files count."""
    return git_init(tmp_path)


def found(root: Path, **options: object) -> list[str]:
    """The relative paths discover yields."""
    return [source.path for source in discover(root, **options)]


def skipped(root: Path, **options: object) -> dict[str, str]:
    """relpath -> reason for everything discover reports as skipped."""
    reports: dict[str, str] = {}
    list(discover(root, on_skip=reports.__setitem__, **options))
    return reports


# --- what is yielded -------------------------------------------------------------------


def test_yields_posix_relative_paths_with_language_size_and_mtime(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/sub/mod.py": "x = 1\n"})
    [source] = discover(tmp_path)
    info = (tmp_path / "pkg/sub/mod.py").stat()
    assert source == SourceFile("pkg/sub/mod.py", tmp_path / "pkg/sub/mod.py", "python", 6, info.st_mtime_ns)
    assert source.abspath.is_absolute()


def test_order_is_sorted_by_path_string(tmp_path: Path) -> None:
    write(tmp_path, {name: "" for name in ["b.py", "a/z.py", "a-b.py", "a.py", "B.py", "a/b/c.py", "ab/x.py"]})
    paths = found(tmp_path)
    assert paths == sorted(paths)
    assert len(paths) == 7


def test_order_is_the_same_on_every_run(tmp_path: Path) -> None:
    write(tmp_path, {f"d{i % 3}/f{i}.py": "" for i in range(30)})
    assert found(tmp_path) == found(tmp_path)


def test_files_without_a_language_are_left_out_silently(tmp_path: Path) -> None:
    write(tmp_path, {"logo.png": b"\x89PNG", "data.json": "{}", "main.go": "package main\n"})
    assert found(tmp_path) == ["main.go"]
    assert skipped(tmp_path) == {}


def test_names_with_spaces_and_unicode(tmp_path: Path) -> None:
    write(tmp_path, {"my dir/naïve café.py": "", "日本/コード.rs": ""})
    assert found(tmp_path) == ["my dir/naïve café.py", "日本/コード.rs"]


def test_undecodable_file_name_is_reported(tmp_path: Path) -> None:
    try:
        with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.py"), "wb"):
            pass
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    assert list(skipped(tmp_path).values()) == ["undecodable name"]
    assert found(tmp_path) == []


def test_extensionless_script_is_found_by_its_shebang(tmp_path: Path) -> None:
    write(tmp_path, {"bin/deploy": "#!/usr/bin/env bash\necho hi\n", "bin/notes": "plain words\n"})
    [source] = discover(tmp_path)
    assert (source.path, source.language) == ("bin/deploy", "bash")


def test_missing_root_is_reported_not_raised(tmp_path: Path) -> None:
    assert skipped(tmp_path / "nowhere") == {".": "vanished"}


# --- size limit ----------------------------------------------------------------------------


def test_file_over_max_bytes_is_reported_too_large(tmp_path: Path) -> None:
    write(tmp_path, {"big.py": "x" * 101, "fits.py": "x" * 100})
    assert found(tmp_path, max_bytes=100) == ["fits.py"]
    assert skipped(tmp_path, max_bytes=100) == {"big.py": "too large"}


def test_default_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_BYTES == 1 << 20


# --- .gitignore -------------------------------------------------------------------------


def test_gitignore_pattern_ignores_matching_files_at_any_depth(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "*_pb2.py\n", "api_pb2.py": "", "x/y/api_pb2.py": "", "api.py": ""})
    assert found(work_tree) == ["api.py"]


def test_gitignore_negation_reincludes_a_file(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "gen_*.py\n!gen_keep.py\n", "gen_a.py": "", "gen_keep.py": ""})
    assert found(work_tree) == ["gen_keep.py"]


def test_gitignore_last_matching_line_wins(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "!a.py\n*.py\n", "a.py": "", "a.md": ""})
    assert found(work_tree) == ["a.md"]


def test_gitignore_anchored_pattern_matches_only_at_its_level(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "/config.py\n", "config.py": "", "app/config.py": ""})
    assert found(work_tree) == ["app/config.py"]


def test_gitignore_pattern_with_inner_slash_is_anchored(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "docs/gen.py\n", "docs/gen.py": "", "x/docs/gen.py": ""})
    assert found(work_tree) == ["x/docs/gen.py"]


def test_gitignore_trailing_slash_matches_directories_only(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "out/\n", "out/a.py": "", "x/out/b.py": "", "src/out": "#!/bin/sh\n"})
    assert found(work_tree) == ["src/out"]


def test_gitignore_double_star_spans_directories(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "a/**/gen.py\n**/tmp\n", "a/gen.py": "", "a/b/c/gen.py": "",
                     "b/gen.py": "", "x/tmp/t.py": ""})
    assert found(work_tree) == ["b/gen.py"]


def test_gitignore_trailing_double_star_ignores_contents_not_the_directory(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "lib/**\n!lib/keep.py\n", "lib/keep.py": "", "lib/other.py": ""})
    assert found(work_tree) == ["lib/keep.py"]


def test_file_inside_an_ignored_directory_cannot_be_reincluded(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "gen/\n!gen/keep.py\n", "gen/keep.py": ""})
    assert found(work_tree) == []


def test_gitignore_comments_blank_lines_and_escapes(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "# a.py\n\n\\#b.py\n\\!c.py\n", "a.py": "", "#b.py": "", "!c.py": ""})
    assert found(work_tree) == ["a.py"]


def test_gitignore_character_classes_and_question_mark(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "v[0-9].py\nt?.py\n", "v1.py": "", "vx.py": "", "t1.py": "", "t12.py": ""})
    assert found(work_tree) == ["t12.py", "vx.py"]


def test_nested_gitignore_applies_only_below_its_directory(work_tree: Path) -> None:
    write(work_tree, {"sub/.gitignore": "local.py\n", "sub/local.py": "", "sub/x/local.py": "", "local.py": ""})
    assert found(work_tree) == ["local.py"]


def test_nested_gitignore_anchors_to_its_own_directory(work_tree: Path) -> None:
    write(work_tree, {"sub/.gitignore": "/top.py\n", "sub/top.py": "", "sub/x/top.py": "", "top.py": ""})
    assert found(work_tree) == ["sub/x/top.py", "top.py"]


def test_deeper_gitignore_overrides_a_shallower_one(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "*.sql\n", "db/.gitignore": "!schema.sql\n", "db/schema.sql": "", "x.sql": ""})
    assert found(work_tree) == ["db/schema.sql"]


def test_ignored_directory_is_never_entered(work_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(work_tree, {".gitignore": "heavy/\n", "heavy/a.py": "", "light/b.py": ""})
    entered: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> object:
        entered.append(os.path.relpath(path, work_tree))
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", recording_scandir)
    assert found(work_tree) == ["light/b.py"]
    assert entered == [".", "light"]


def test_git_info_exclude_at_the_root(tmp_path: Path) -> None:
    write(tmp_path, {".git/info/exclude": "scratch.py\n", "scratch.py": "", "x/scratch.py": "", "main.py": ""})
    assert found(tmp_path) == ["main.py"]


def test_gitignore_overrides_info_exclude(work_tree: Path) -> None:
    write(work_tree, {".git/info/exclude": "*.py\n", ".gitignore": "!keep.py\n", "keep.py": "", "drop.py": ""})
    assert found(work_tree) == ["keep.py"]


# --- git's rules count only in a git work tree ------------------------------------------

PACKAGED_TREE = {".gitignore": "/*\n!/debian/\n", "kernel/fork.c": "", "Makefile": "", "debian/rules.mk": ""}
"""An unpacked source package: its .gitignore, written for the packagers' repository, ignores all but debian/."""


def test_gitignore_outside_a_git_work_tree_is_not_applied(tmp_path: Path) -> None:
    write(tmp_path, PACKAGED_TREE)
    assert found(tmp_path) == ["Makefile", "debian/rules.mk", "kernel/fork.c"]


def test_gitignore_inside_a_git_work_tree_is_applied(work_tree: Path) -> None:
    write(work_tree, PACKAGED_TREE)
    assert found(work_tree) == ["debian/rules.mk"]


def test_gitignore_applies_when_the_root_is_a_subdirectory_of_the_work_tree(work_tree: Path) -> None:
    write(work_tree, {"sub/.gitignore": "gen.py\n", "sub/gen.py": "", "sub/app.py": ""})
    assert found(work_tree / "sub") == ["app.py"]


def test_gitignore_above_the_root_applies_inside_the_work_tree(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "gen.py\n/sub/local.py\n", "sub/gen.py": "", "sub/local.py": "",
                      "sub/x/local.py": "", "sub/app.py": ""})
    assert found(work_tree / "sub") == ["app.py", "x/local.py"]


def test_info_exclude_of_the_work_tree_applies_below_its_top(work_tree: Path) -> None:
    write(work_tree, {".git/info/exclude": "sub/scratch.py\n", "sub/scratch.py": "", "sub/main.py": ""})
    assert found(work_tree / "sub") == ["main.py"]


def test_a_git_file_marks_a_work_tree(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "*.py\n", "app.py": "", "wt/.git": "gitdir: /elsewhere/.git/worktrees/wt\n",
                     "wt/.gitignore": "gen.py\n", "wt/gen.py": "", "wt/keep.py": ""})
    assert found(tmp_path) == ["app.py", "wt/keep.py"]


def test_gitignore_of_a_nested_repository_counts_outside_a_work_tree(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "*.py\n", "app.py": "", "lib/.gitignore": "gen.py\n", "lib/gen.py": "", "lib/keep.py": ""})
    git_init(tmp_path / "lib")
    assert found(tmp_path) == ["app.py", "lib/keep.py"]


# --- what the ignore rules left out -------------------------------------------------------


def test_on_ignore_names_the_line_that_left_out_each_directory_and_file(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "# generated\ngen/\n*_pb2.py\n", "gen/a.py": "", "api_pb2.py": "", "api.py": ""})
    left_out: list[tuple[IgnoreRule, bool]] = []
    list(discover(work_tree, on_ignore=lambda rule, is_dir: left_out.append((rule, is_dir))))
    assert left_out == [(IgnoreRule(".gitignore", 3, "*_pb2.py"), False), (IgnoreRule(".gitignore", 2, "gen/"), True)]


def test_on_ignore_leaves_out_files_without_a_language(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "*.log\n", "run.log": "", "app.py": ""})
    left_out: list[tuple[IgnoreRule, bool]] = []
    list(discover(work_tree, on_ignore=lambda rule, is_dir: left_out.append((rule, is_dir))))
    assert left_out == []


# --- .codesearchignore ------------------------------------------------------------------


def test_codesearchignore_adds_ignores(tmp_path: Path) -> None:
    write(tmp_path, {".codesearchignore": "fixtures/\n", "fixtures/big.py": "", "src/app.py": ""})
    assert found(tmp_path) == ["src/app.py"]


def test_codesearchignore_reincludes_what_git_ignores(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "generated/\n", ".codesearchignore": "!generated/\n", "generated/api.py": ""})
    assert found(work_tree) == ["generated/api.py"]


def test_codesearchignore_wins_over_a_deeper_gitignore(work_tree: Path) -> None:
    write(work_tree, {".codesearchignore": "*.sql\n", "db/.gitignore": "!schema.sql\n", "db/schema.sql": ""})
    assert found(work_tree) == []


def test_nested_codesearchignore_applies_below_its_directory(tmp_path: Path) -> None:
    write(tmp_path, {"sub/.codesearchignore": "*.md\n", "sub/a.md": "", "b.md": ""})
    assert found(tmp_path) == ["b.md"]


def test_codesearchignore_reincludes_a_default_skip(tmp_path: Path) -> None:
    write(tmp_path, {".codesearchignore": "!vendor/\n", "vendor/lib/x.go": ""})
    assert found(tmp_path) == ["vendor/lib/x.go"]


# --- default skips ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "directory",
    [".git", ".hg", ".svn", ".codesearch", "node_modules", "bower_components", "vendor", "__pycache__",
     ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs",
     "pkg.egg-info", ".idea", ".vscode", ".gradle", ".next", ".cache"],
)
def test_default_skipped_directory(tmp_path: Path, directory: str) -> None:
    write(tmp_path, {f"{directory}/a.py": "", f"nested/{directory}/b.py": "", "main.py": ""})
    assert found(tmp_path) == ["main.py"]


@pytest.mark.parametrize("marker", ["pyvenv.cfg", "CACHEDIR.TAG", "CMakeCache.txt"])
def test_directory_with_a_generated_marker_is_skipped_whatever_its_name(tmp_path: Path, marker: str) -> None:
    write(tmp_path, {f"env/{marker}": "", "env/lib/site.py": "", "main.py": ""})
    assert found(tmp_path) == ["main.py"]


def test_directory_named_env_without_pyvenv_cfg_is_indexed(tmp_path: Path) -> None:
    write(tmp_path, {"env/settings.py": ""})
    assert found(tmp_path) == ["env/settings.py"]


@pytest.mark.parametrize(
    ("manifest", "directory"),
    [("Cargo.toml", "target"), ("pom.xml", "target"), ("setup.py", "build"), ("package.json", "dist")],
)
def test_build_output_next_to_its_manifest_is_skipped(tmp_path: Path, manifest: str, directory: str) -> None:
    write(tmp_path, {manifest: "", f"{directory}/gen.rs": "", f"{directory}/gen.py": "", f"{directory}/gen.js": ""})
    assert [path for path in found(tmp_path) if path.startswith(directory)] == []


def test_build_output_names_without_a_manifest_are_source(tmp_path: Path) -> None:
    write(tmp_path, {"drivers/target/core.c": "", "tools/build/feature.c": "", "dist/x.py": ""})
    assert found(tmp_path) == ["dist/x.py", "drivers/target/core.c", "tools/build/feature.c"]


def test_explicit_index_dir_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"my-index/meta.py": "", "main.py": ""})
    assert found(tmp_path, index_dir=tmp_path / "my-index") == ["main.py"]


@pytest.mark.parametrize(
    "name",
    ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "poetry.lock", "Pipfile.lock",
     "composer.lock", "Gemfile.lock", "go.sum", "uv.lock", "app.min.js", "app.min.css", "app.bundle.js",
     "app.js.map"],
)
def test_lock_files_and_minified_bundles_are_skipped(tmp_path: Path, name: str) -> None:
    write(tmp_path, {f"web/{name}": "x", "web/app.js": ""})
    assert found(tmp_path) == ["web/app.js"]


def test_minified_bundles_left_out_by_name_are_reported_as_minified(tmp_path: Path) -> None:
    write(tmp_path, {"web/app.min.js": "x", "web/site.min.css": "x", "web/app.js.map": "{}", "web/app.js": ""})
    assert skipped(tmp_path) == {"web/app.min.js": "minified", "web/site.min.css": "minified"}


def test_minified_name_brought_back_by_a_codesearchignore_is_indexed(tmp_path: Path) -> None:
    write(tmp_path, {".codesearchignore": "!*.min.js\n", "web/app.min.js": "x"})
    assert (found(tmp_path), skipped(tmp_path)) == (["web/app.min.js"], {})


# --- symlinks ---------------------------------------------------------------------------


def test_symlinked_file_inside_root_is_followed(tmp_path: Path) -> None:
    write(tmp_path, {"real.py": "x = 1\n"})
    (tmp_path / "link.py").symlink_to("real.py")
    sources = {source.path: source for source in discover(tmp_path)}
    assert sorted(sources) == ["link.py", "real.py"]
    assert read_source(sources["link.py"]) == b"x = 1\n"


def test_symlinked_file_leaving_root_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"outside/secret.py": "", "repo/main.py": ""})
    (tmp_path / "repo/secret.py").symlink_to(tmp_path / "outside/secret.py")
    assert found(tmp_path / "repo") == ["main.py"]
    assert skipped(tmp_path / "repo") == {"secret.py": "symlink leaving root"}


def test_symlinked_directory_leaving_root_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"outside/lib.py": "", "repo/main.py": ""})
    (tmp_path / "repo/lib").symlink_to(tmp_path / "outside")
    assert found(tmp_path / "repo") == ["main.py"]
    assert skipped(tmp_path / "repo") == {"lib": "symlink leaving root"}


def test_symlink_loop_terminates_and_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"a/mod.py": ""})
    (tmp_path / "a/loop").symlink_to("..")
    reports: dict[str, str] = {}
    paths = [source.path for source in itertools.islice(discover(tmp_path, on_skip=reports.__setitem__), 100)]
    assert paths == ["a/mod.py"]
    assert reports == {"a/loop": "symlink loop"}


def test_symlinked_directory_already_indexed_is_not_walked_twice(tmp_path: Path) -> None:
    write(tmp_path, {"src/mod.py": ""})
    (tmp_path / "alias").symlink_to("src")
    assert found(tmp_path) == ["src/mod.py"]
    assert skipped(tmp_path) == {"alias": "symlink to indexed directory"}


def test_symlinked_directory_into_an_ignored_one_is_followed(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "build-out/\n", "build-out/api/gen.py": ""})
    (work_tree / "api").symlink_to("build-out/api")
    assert found(work_tree) == ["api/gen.py"]


def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.py").symlink_to("missing.py")
    assert skipped(tmp_path) == {"gone.py": "broken symlink"}


def test_fifo_is_reported_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    os.mkfifo(tmp_path / "pipe")
    assert skipped(tmp_path) == {"pipe.py": "not a regular file"}


# --- unreadable and vanishing directories -----------------------------------------------


def test_directory_vanishing_during_the_walk_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"a/first.py": "", "b/second.py": ""})
    reports: dict[str, str] = {}
    walk = discover(tmp_path, on_skip=reports.__setitem__)
    assert next(walk).path == "a/first.py"
    shutil.rmtree(tmp_path / "b")
    assert list(walk) == []
    assert reports == {"b": "vanished"}


def test_unreadable_directory_is_reported_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod cannot lock out root, so the permission error is raised where the kernel would.
    write(tmp_path, {"locked/a.py": "", "open/b.py": ""})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    assert found(tmp_path) == ["open/b.py"]
    assert skipped(tmp_path) == {"locked": "unreadable"}


# --- read_source ------------------------------------------------------------------------


def source_of(root: Path, relpath: str) -> SourceFile:
    """The SourceFile discover yields for `relpath`."""
    return next(source for source in discover(root) if source.path == relpath)


def test_read_source_returns_the_bytes(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "print('hé')\n"})
    assert read_source(source_of(tmp_path, "a.py")) == "print('hé')\n".encode()


def test_nul_byte_in_the_first_8_kib_means_binary(tmp_path: Path) -> None:
    write(tmp_path, {"blob.c": b"int x;\0\1\2"})
    with pytest.raises(SkipFile, match="^binary$"):
        read_source(source_of(tmp_path, "blob.c"))


def test_nul_byte_after_8_kib_is_still_text(tmp_path: Path) -> None:
    write(tmp_path, {"late.c": b"x" * 8192 + b"\0"})
    assert read_source(source_of(tmp_path, "late.c")).endswith(b"\0")


def test_vanished_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": ""})
    source = source_of(tmp_path, "a.py")
    (tmp_path / "a.py").unlink()
    with pytest.raises(SkipFile, match="^vanished$"):
        read_source(source)


def test_file_swapped_for_a_directory_is_not_a_regular_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": ""})
    source = source_of(tmp_path, "a.py")
    (tmp_path / "a.py").unlink()
    (tmp_path / "a.py").mkdir()
    with pytest.raises(SkipFile, match="^not a regular file$"):
        read_source(source)


def test_read_goes_on_past_a_stale_size_up_to_the_limit(tmp_path: Path) -> None:
    """The first read asks for the size fstat gave plus one byte; a file that grew in between
    is read on, so it is judged by its whole content (or found too large), never cut short."""
    (tmp_path / "a.py").write_bytes(b"x" * 10)
    fd = os.open(tmp_path / "a.py", os.O_RDONLY)
    try:
        assert _read_to_end(fd, 3, 100) == b"x" * 10
        os.lseek(fd, 0, os.SEEK_SET)
        assert _read_to_end(fd, 3, 6) == b"x" * 6
    finally:
        os.close(fd)


def test_file_grown_past_the_limit(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x" * 10})
    source = source_of(tmp_path, "a.py")
    (tmp_path / "a.py").write_text("x" * 11)
    with pytest.raises(SkipFile, match="^too large$"):
        read_source(source, max_bytes=10)


# --- IgnoreRules for single paths (the watcher's view) ----------------------------------


def test_is_ignored_looks_at_parent_directories(work_tree: Path) -> None:
    write(work_tree, {".gitignore": "gen/\n", "src/.gitignore": "*.tmp.py\n", "pyenv/pyvenv.cfg": ""})
    rules = IgnoreRules(work_tree)
    assert rules.is_ignored("gen/deep/a.py", is_dir=False)
    assert rules.is_ignored("node_modules/x/index.js", is_dir=False)
    assert rules.is_ignored("pyenv/lib/site.py", is_dir=False)
    assert rules.is_ignored("src/a.tmp.py", is_dir=False)
    assert rules.is_ignored("gen", is_dir=True)
    assert not rules.is_ignored("gen", is_dir=False)
    assert not rules.is_ignored("./src/a.py", is_dir=False)
