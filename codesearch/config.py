"""Settings from flags, environment and files, each with where it came from.

Precedence, highest first: command-line flags, environment (CODESEARCH_<KEY>),
`config.toml` in the index directory, `[tool.codesearch]` in the root's `pyproject.toml`,
built-in defaults. A file is read whole and checked whole: an unknown key or a bad value is
one error naming the file and the key, never a setting silently dropped.

Both files can come with a cloned repository (`.codesearch/` is committed as easily as
`pyproject.toml`), which is untrusted input. So each is read only when it is a regular file of
at most a MiB (a symlink, a device or a pipe is an error, like any file that cannot be read,
rather than settings skipped); its `max_file_size` may lower the built-in limit but never
raise it (a higher one is clamped, its source saying so); and it may not choose the local
embedder or its model, nor name a model by a path for any embedder, which would load a model the
repository names, or read files anywhere, without the user asking.
Flags and the environment, the user's own, may set anything.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codesearch.chunker import MAX_LINES
from codesearch.embedders import BACKENDS, EmbedderSpec, default_spec
from codesearch.errors import CodesearchError
from codesearch.files import DEFAULT_MAX_BYTES, SETTINGS_MAX_BYTES, UnreadableFile, read_settings_file
from codesearch.languages import canonical_language
from codesearch.locate import check_index_dir, index_dir_for_root
from codesearch.stores import is_url, redacted, store_url

if TYPE_CHECKING:
    from codesearch.indexer import SyncReport

CONFIG_NAME = "config.toml"
PYPROJECT = "pyproject.toml"
DEFAULT = "default"
FLAG = "flag"


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _embedder(value: object) -> str:
    if _text(value) not in BACKENDS:
        raise ValueError(f"unknown embedder {value!r}; choose one of: {', '.join(BACKENDS)}")
    return str(value)


def _positive(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _patterns(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _languages(value: object) -> tuple[str, ...]:
    return tuple(canonical_language(name) for name in _patterns(value))


_CHECKS: dict[str, Callable[[object], object]] = {
    "embedder": _embedder,
    "model": _text,
    "dims": _positive,
    "ignore": _patterns,
    "languages": _languages,
    "chunk_size": _positive,
    "max_file_size": _positive,
    "store": store_url,
}
KEYS = tuple(_CHECKS)
_LISTS = frozenset({"ignore", "languages"})
_INTEGERS = frozenset({"dims", "chunk_size", "max_file_size"})


def env_name(key: str) -> str:
    return f"CODESEARCH_{key.upper()}"


@dataclass(frozen=True)
class Config:
    """The effective settings; `sources[key]` says where each came from."""

    root: Path
    index_dir: Path
    embedder: str
    model: str | None
    dims: int | None
    ignore: tuple[str, ...]
    languages: tuple[str, ...] | None
    chunk_size: int
    max_file_size: int
    store: str | None
    """A store URL (`stores`), None for the local index directory."""
    sources: Mapping[str, str]

    def embedder_spec(self) -> EmbedderSpec | None:
        """A spec only when a setting chose the embedder; None keeps the one the index was built with."""
        chosen = {key: getattr(self, key) for key in ("embedder", "model", "dims") if self.sources[key] != DEFAULT}
        return default_spec(chosen.get("embedder"), chosen.get("model"), chosen.get("dims")) if chosen else None

    def sync_options(self) -> dict[str, object]:
        """The keyword arguments of `indexer.sync` (and of a Watcher) that the settings decide."""
        return {
            "spec": self.embedder_spec(), "max_bytes": self.max_file_size, "ignore": self.ignore,
            "languages": self.languages, "chunk_size": self.chunk_size,
        }

    @contextmanager
    def sources_named(self) -> Iterator[None]:
        """An index built with another embedder than these settings choose is refused naming
        where each differing setting came from (`dims set by env CODESEARCH_DIMS`)."""
        from codesearch.indexer import EmbedderMismatch

        try:
            yield
        except EmbedderMismatch as exc:
            where = "; ".join(f"{key} set by {_named_source(key, self.sources[key])}" for key in exc.settings)
            raise CodesearchError(f"{exc} ({where})") from None

    def to_dict(self) -> dict:
        settings = {key: {"value": _plain(getattr(self, key)), "source": self.sources[key]} for key in KEYS}
        return {"root": str(self.root), "index_dir": str(self.index_dir), "settings": settings}


def load_config(
    root: Path | str,
    index_dir: Path | None = None,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The settings for indexing `root`; `flags` are the command line's (None = not given)."""
    root = _directory(Path(root).absolute())
    index_dir = index_dir_for_root(root, index_dir)
    user_layers = [
        (FLAG, {key: _checked(_named_source(key, FLAG), key, value) for key, value in (flags or {}).items() if value is not None}),
        *_environment(os.environ if environ is None else environ),
    ]
    check_index_dir(index_dir)  # its config.toml is never read through a linked directory
    file_layers = [*_config_file(index_dir / CONFIG_NAME), *_pyproject(root / PYPROJECT)]
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for source, settings in reversed(user_layers + file_layers):
        for key, value in settings.items():
            values[key], sources[key] = value, source
    defaults = _defaults()
    for key in KEYS:
        sources.setdefault(key, DEFAULT)
        values.setdefault(key, defaults[key])
    from_files = {source for source, _ in file_layers}
    _refuse_models_from_files(values, sources, from_files)
    _refuse_store_from_files(sources, from_files)
    _lower_max_file_size(values, sources, from_files)
    return Config(root=root, index_dir=index_dir, sources=sources, **values)  # type: ignore[arg-type]


def _directory(root: Path) -> Path:
    """`root` when it is a directory: a repository is indexed whole, never one file."""
    if root.is_dir():
        return root
    if root.exists():
        raise CodesearchError(f"{root} is a file; give the directory to index (its repository root), e.g. `codesearch index {root.parent}`")
    raise CodesearchError(f"path not found or not a directory: {root}")


def _refuse_models_from_files(values: Mapping[str, object], sources: Mapping[str, str], from_files: set[str]) -> None:
    """A settings file may not choose the local embedder or its model, nor name a model by a
    path for any embedder: it would load a model that a cloned repository names, maybe one
    inside it, or read files from anywhere, without the user asking."""
    chosen = [key for key in ("embedder", "model") if sources[key] in from_files]
    model = values["model"]
    by_path = "model" in chosen and isinstance(model, str) and ("/" in model or model.startswith((".", "~")))
    if chosen and (values["embedder"] == "local" or by_path):
        raise CodesearchError(
            f"{sources[chosen[0]]}: {chosen[0]}: settings files, which a cloned repository can bring, may not choose "
            "the local embedder or name a model by its path; choose them yourself: --embedder local --model NAME, "
            "or CODESEARCH_EMBEDDER=local and CODESEARCH_MODEL=NAME"
        )


def _refuse_store_from_files(sources: Mapping[str, str], from_files: set[str]) -> None:
    """A settings file may not choose the store: a cloned repository could send its reader's
    database password (PGPASSWORD, ~/.pgpass) and every indexed file to a server it names."""
    if sources["store"] in from_files:
        raise CodesearchError(
            f"{sources['store']}: store: settings files, which a cloned repository can bring, may not choose "
            "the store; choose it yourself: --store URL or CODESEARCH_STORE=URL"
        )


def _lower_max_file_size(values: dict[str, object], sources: dict[str, str], from_files: set[str]) -> None:
    """A settings file may lower `max_file_size`, never raise it: a repository asking for 4 GB
    files would have them read whole into memory. Clamped, its source saying why."""
    size = values["max_file_size"]
    if sources["max_file_size"] in from_files and isinstance(size, int) and size > DEFAULT_MAX_BYTES:
        values["max_file_size"] = DEFAULT_MAX_BYTES
        sources["max_file_size"] += (
            f" ({size} lowered to the default: settings files may only lower it; "
            "--max-file-size or CODESEARCH_MAX_FILE_SIZE may raise it)"
        )


def _defaults() -> dict[str, object]:
    return {
        "embedder": default_spec().backend, "model": None, "dims": None, "ignore": (),
        "languages": None, "chunk_size": MAX_LINES, "max_file_size": DEFAULT_MAX_BYTES,
        "store": None,
    }


def _environment(environ: Mapping[str, str]) -> list[tuple[str, dict[str, object]]]:
    """One layer per variable set, so each setting names its own variable as its source."""
    layers = []
    for key in KEYS:
        raw = environ.get(env_name(key), "").strip()
        if raw:
            layers.append((f"env {env_name(key)}", {key: _checked(env_name(key), key, _from_text(key, raw))}))
    return layers


def _from_text(key: str, raw: str) -> object:
    """An environment value in the type a file would give: lists comma-separated, numbers as ints."""
    if key in _LISTS:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if key in _INTEGERS:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _config_file(path: Path) -> list[tuple[str, dict[str, object]]]:
    table = _read_toml(path)
    return [(str(path), _checked_table(str(path), table))] if table is not None else []


def _pyproject(path: Path) -> list[tuple[str, dict[str, object]]]:
    document = _read_toml(path)
    table = (document or {}).get("tool", {}).get("codesearch")
    if table is None:
        return []
    where = f"{path} [tool.codesearch]"
    if not isinstance(table, dict):
        raise CodesearchError(f"{where}: expected a table of settings")
    return [(where, _checked_table(where, table))]


def _read_toml(path: Path) -> dict | None:
    """The parsed file, or None when there is none; read as an ignore file is
    (files.read_settings_file), but a file that is not read is an error, never settings
    silently dropped."""
    try:
        data = read_settings_file(path)
    except UnreadableFile as exc:
        raise CodesearchError(f"{path}: {exc}") from exc
    if data is not None and len(data) > SETTINGS_MAX_BYTES:
        raise CodesearchError(f"{path}: larger than {SETTINGS_MAX_BYTES >> 20} MiB, more than settings need")
    try:
        return None if data is None else tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CodesearchError(f"{path}: not valid TOML ({exc})") from exc


def _checked_table(where: str, table: dict) -> dict[str, object]:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise CodesearchError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(KEYS)}")
    return {key: _checked(f"{where}: {key}", key, value) for key, value in table.items()}


def _checked(prefix: str, key: str, value: object) -> object:
    """The value, checked; else an error starting with `prefix`, which names where it was set."""
    try:
        return _CHECKS[key](value)
    except ValueError as exc:
        raise CodesearchError(f"{prefix}: {exc}") from exc


def _named_source(key: str, source: str) -> str:
    """Where a setting came from, a flag by its own name."""
    return f"--{key.replace('_', '-')}" if source == FLAG else source


def _plain(value: object) -> object:
    """JSON-ready: tuples as lists, a store URL without its password."""
    if is_url(value):
        return redacted(str(value))
    return list(value) if isinstance(value, tuple) else value


def configured_sync(
    root: Path | str, index_dir: Path | None = None, flags: Mapping[str, object] | None = None, **options: object
) -> SyncReport:
    """`indexer.sync` with the settings for `root` (what `codesearch index` and MCP's reindex run)."""
    from codesearch.indexer import sync

    settings = load_config(root, index_dir, flags)
    with settings.sources_named():
        return sync(root, index_dir=settings.index_dir, store=settings.store, **settings.sync_options(), **options)  # type: ignore[arg-type]
