"""Where an index lives: `.codesearch/` at the indexed root, found by walking up like git.

A repository is untrusted input, and so is a `.codesearch` that came with it (committed, copied,
unpacked). The index directory must be a real directory of the user's own (or root's), and
codesearch's files in it plain files, opened without following links: a link in their place
would have codesearch truncate or write whatever it points at. A writer removes such entries
(`prepare_index_dir`); readers refuse the index (`check_state_files`). That a database was
built in this very directory is `index_identity`'s part (see `store.Store.open`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from codesearch.errors import CodesearchError

INDEX_DIR_NAME = ".codesearch"
ENV_INDEX = "CODESEARCH_INDEX"
DB_NAME = "index.db"
VECTORS_NAME = "vectors.faiss"
WRITER_LOCK = "writer.lock"
WATCH_LOCK = "watch.lock"
IGNORE_NAME = ".gitignore"
STATE_FILES = (
    DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", VECTORS_NAME, WRITER_LOCK, WATCH_LOCK, IGNORE_NAME,
)
"""The files codesearch makes in an index directory, each only ever a plain file (SQLite opens
the -wal, -shm and -journal files itself, following links)."""
REBUILD = "rebuild it with `codesearch index --full`"


class DamagedIndex(CodesearchError):
    """The database cannot serve as this codesearch's index; only `index --full` helps."""


class UntrustedIndex(DamagedIndex):
    """The index holds what codesearch did not make there: a link or special file among its
    files, or a database built elsewhere. Readers refuse it; a writer rebuilds it from scratch."""


def index_dir_for_root(root: Path, explicit: Path | None = None) -> Path:
    """The directory `index` writes to: `--index`, then $CODESEARCH_INDEX, then ROOT/.codesearch."""
    chosen = explicit or (Path(os.environ[ENV_INDEX]) if os.environ.get(ENV_INDEX) else None)
    return (chosen or root / INDEX_DIR_NAME).absolute()


def find_index(explicit: Path | None = None, start: Path | None = None) -> Path:
    """The index a query uses: `--index` or $CODESEARCH_INDEX (the index dir or its root), else walk up."""
    chosen = explicit or (Path(os.environ[ENV_INDEX]) if os.environ.get(ENV_INDEX) else None)
    if chosen is not None:
        for candidate in (chosen, chosen / INDEX_DIR_NAME):
            if (candidate / DB_NAME).is_file():
                return candidate.absolute()
        raise CodesearchError(f"no index at {chosen}; run `codesearch index PATH --index {chosen}` first")
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / INDEX_DIR_NAME / DB_NAME).is_file():
            return folder / INDEX_DIR_NAME
    raise CodesearchError("no index found here or in any parent directory; run `codesearch index PATH` first")


def prepare_index_dir(index_dir: Path) -> None:
    """A directory of the user's own with owner-only permissions, where codesearch's files are
    plain (an entry that is not is removed: unlinking a link never touches its target), and a
    .gitignore so the index never gets committed."""
    check_index_dir(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in irregular_state_files(index_dir):
        (index_dir / name).unlink()
    try:
        fd = os.open(index_dir / IGNORE_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as ignore:
        ignore.write("*\n")


def check_index_dir(index_dir: Path) -> None:
    """Refuse an index directory that is a symbolic link (the index would be written wherever it
    points) or that another user owns (who could put links in it), as git refuses a repository
    of another owner; root's is accepted, as root can do anything anyway. A missing one passes."""
    try:
        info = os.lstat(index_dir)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise CodesearchError(
            f"{index_dir} is a symbolic link; codesearch keeps its index only in a real directory: "
            "remove it, or use --index DIR"
        )
    if info.st_uid not in (os.getuid(), 0):
        raise CodesearchError(
            f"{index_dir} belongs to another user (uid {info.st_uid}); codesearch uses only an index "
            "directory of yours (or root's): remove it, or use --index DIR"
        )


def irregular_state_files(index_dir: Path) -> list[str]:
    """Those of codesearch's files in the index directory that are not plain files: links,
    FIFOs, devices, directories, or files with another name elsewhere (hard links)."""
    irregular = []
    for name in STATE_FILES:
        try:
            info = os.lstat(index_dir / name)
        except FileNotFoundError:
            continue
        if not _plain(info):
            irregular.append(name)
    return irregular


def check_state_files(index_dir: Path) -> None:
    """Refuse an index whose files are not all plain (see `irregular_state_files`)."""
    irregular = irregular_state_files(index_dir)
    if irregular:
        raise UntrustedIndex(_not_plain(index_dir, irregular[0]))


def open_state_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """A descriptor of one of codesearch's files, opened without following a link and without
    waiting on a FIFO; one that is not a plain file is refused (UntrustedIndex)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise UntrustedIndex(_not_plain(path.parent, path.name)) from None
    if not _plain(os.fstat(fd)):
        os.close(fd)
        raise UntrustedIndex(_not_plain(path.parent, path.name))
    return fd


def index_identity(index_dir: Path) -> str:
    """What ties a database to the place it was built: the inode numbers of the index directory
    and of the database file. A clone, copy or unpacked archive of a committed index gets new
    ones, which its author cannot know. The device number is left out: btrfs subvolumes and
    overlay mounts may be numbered differently after a reboot."""
    return f"{os.lstat(index_dir).st_ino}:{os.lstat(index_dir / DB_NAME).st_ino}"


def _plain(info: os.stat_result) -> bool:
    """A regular file with no other name. A link count of 0 is a file SQLite is deleting as this
    stat reads it (its last connection closing removes the -shm and -wal files)."""
    return stat.S_ISREG(info.st_mode) and info.st_nlink <= 1


def _not_plain(index_dir: Path, name: str) -> str:
    return f"the index at {index_dir} holds {name} as a link or special file, which codesearch never makes; {REBUILD}"
