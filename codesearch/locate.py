"""Where an index lives: `.codesearch/` at the indexed root, found by walking up like git."""

from __future__ import annotations

import os
from pathlib import Path

from codesearch.errors import CodesearchError
from codesearch.store import DB_NAME

INDEX_DIR_NAME = ".codesearch"
ENV_INDEX = "CODESEARCH_INDEX"


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
    """Owner-only permissions, and a .gitignore so the index never gets committed."""
    index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ignore = index_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
