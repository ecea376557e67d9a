"""`codesearch mcp`: the engine as Model Context Protocol tools for coding agents, over stdio.

One process serves one index. Its Searcher is opened on first use and kept: it reloads the
vectors when a writer moves the store's generation on, so a query costs what one line of
`ask --batch` costs. The SDK runs each tool call on a worker thread; a lock keeps them off the
Searcher's one SQLite connection at the same time, while `reindex` and the `--watch` watcher
write through connections of their own, so searches go on while the index is being written.

Results are sized for a model's context: whole hits best first while they fit in `max_chars`,
then the next one with its code cut at a line and marked, and a count of what was left out.
A failure the user can act on comes back as a tool error (isError) carrying the CLI's
one-line message; the server keeps serving. So does a search while the `--watch` watcher first
builds the index, after a short wait for it: a half-built index answers with files missing,
and an agent would take that for no match.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from codesearch import __version__
from codesearch.errors import EXPECTED_FAILURES, CodesearchError, failure_message
from codesearch.locate import find_index
from codesearch.models import Hit
from codesearch.searcher import MAX_QUERY_CHARS, MODES, SearchResult, Searcher
from codesearch.tasks import TASK_NAMES

if TYPE_CHECKING:  # the indexer, the chunker and watchdog load when a tool or --watch needs them, after `initialize`
    from codesearch.indexer import Progress
    from codesearch.watcher import Notice, Watcher

DEFAULT_MAX_CHARS = 12_000  # about 3,000 tokens: ten typical hits
MIN_MAX_CHARS = 500
MAX_K = 100
REINDEX_WAIT_S = 30.0  # a watcher batch takes well under a second; `codesearch index` may take longer
SHUTDOWN_WAIT_S = 10.0  # how long a closing server lets the watcher finish its batch
BUILD_WAIT_S = 5.0  # a search waits this long for the first build: a small repository's is done by then
INSTRUCTIONS = (
    "Semantic code search over one indexed repository. Use `search` to find code by meaning "
    "(words or a snippet), `similar` to find code like a given file location, `status` to see "
    "how fresh the index is, and `reindex` after editing files when the server is not watching."
)

log = logging.getLogger("codesearch.mcp")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., CallToolResult])

# maxLength is shown to clients but checked by Searcher.search, whose one-line error is the tool error.
Query = Annotated[
    str,
    Field(description="What to look for: plain words ('parse json config') or a code snippet.", json_schema_extra={"maxLength": MAX_QUERY_CHARS}),
]
TopK = Annotated[int, Field(ge=1, le=MAX_K, description="How many hits to rank, best first; fewer come back when max_chars runs out.")]
Language = Annotated[
    str | None,
    Field(description="Only hits in this language, e.g. python, go, typescript, rust, java, markdown (an unknown name is answered with the full list)."),
]
PathGlob = Annotated[
    str | None,
    Field(description="Only hits whose path (relative to the repository root) matches this glob, e.g. 'src/*' or '*.py'; '*' also matches '/'."),
]
Mode = Annotated[str, Field(description=f"Retrieval: {', '.join(MODES)}. hybrid (meaning + words) is best in general; lexical for exact identifiers.")]
Task = Annotated[
    str | None,
    Field(description=f"Force the query task ({', '.join(TASK_NAMES)}); default: detected from the query."),
]
MaxChars = Annotated[
    int,
    Field(ge=MIN_MAX_CHARS, description="Size budget of the results in characters (about 4 per token). Whole hits come first; the last may be cut."),
]
FilePath = Annotated[str, Field(description="File to start from, relative to the repository root (as search results give it) or absolute.")]
Line = Annotated[
    int | None,
    Field(ge=1, description="1-based line in that file; the code around it (its enclosing function or class) is the query. Omit to use the whole file."),
]
Full = Annotated[bool, Field(description="Drop the index and rebuild it from scratch instead of syncing only changed files (slow on big repositories).")]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES_INDEX = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class IndexBeingBuilt(CodesearchError):
    """The watcher's first sync is still building the index; how far it got is the news."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(f"the index is being built: {_so_far(progress)}; try again in a few seconds")


class IndexHandle:
    """The served index: where to find it, and its Searcher once one could be opened."""

    def __init__(
        self, root: Path, index_dir: Path | None, watcher: Watcher | None = None, *,
        store: str | None = None, repo: str | None = None,
    ) -> None:
        """`store` and `repo`: serve one repository of a store instead of the local index."""
        self.root = root
        self.explicit = watcher.index_dir if watcher else index_dir
        self.store, self.repo = store, repo
        self.watcher = watcher
        self._searcher: Searcher | None = None
        self._lock = threading.Lock()

    def use_built(self, action: Callable[[Searcher], T]) -> T:
        """`use` for an answer a half-built index would get wrong: while the watcher first builds
        the index, wait up to BUILD_WAIT_S for it, then say how far it got instead.
        """
        progress = self.building(BUILD_WAIT_S)
        if progress is not None:
            raise IndexBeingBuilt(progress)
        return self.use(action)

    def building(self, wait: float = 0.0) -> Progress | None:
        """Where the watcher's first build of the index stands (see `Watcher.building`); None when there is none."""
        return self.watcher.building(wait) if self.watcher else None

    def use(self, action: Callable[[Searcher], T]) -> T:
        """Run `action` on the Searcher, opening it on first use (the index may appear later)."""
        with self._lock:
            if self._searcher is None:
                self._searcher = Searcher(self.located(), repos=[self.repo or self.root.name], on_notice=log.warning)
            return action(self._searcher)

    def located(self) -> Path | str:
        """The store, else the index directory: `--index` (or $CODESEARCH_INDEX), else found walking up from the root."""
        return self.store or find_index(self.explicit, start=self.root)

    def reindex(self, full: bool) -> dict:
        """What `codesearch index [--full]` does for the served index, with its configuration."""
        from codesearch.config import configured_sync

        root, index_dir = self._target()
        if full:
            self.close()
        report = configured_sync(root, index_dir, {"store": self.store}, full=full, wait=REINDEX_WAIT_S, repo=self.repo)
        if full:
            self.close()  # the rebuild recorded the embedder anew; the next query must not use the old one
        return report.__dict__

    def _target(self) -> tuple[Path, Path | None]:
        """The root and index directory a sync writes: the served index and the root it records,
        which only an index built where it lies gets to say (a Searcher opens no other); the
        served root when there is no index yet, or when it is damaged or came with the repository
        (the sync then rebuilds it for the served root).
        """
        if self.store:
            return self.root, None
        try:
            index_dir = self.located()
        except CodesearchError:
            return self.root, self.explicit
        try:
            return self.use(lambda searcher: (searcher.root, Path(searcher.location)))
        except EXPECTED_FAILURES:
            return self.root, index_dir

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None


def serve(
    root: Path, *, index_dir: Path | None = None, store: str | None = None, repo: str | None = None, watch: bool = False,
) -> None:
    """Serve the tools over stdio until the client closes stdin; with `watch`, keep the index
    fresh meanwhile. With `store`, the repository `repo` (default: the root's name) of that store."""
    root = root.absolute()
    if not root.is_dir():
        raise CodesearchError(f"path not found or not a directory: {root}")
    watcher = _watcher(root, index_dir, store, repo) if watch else None
    index = IndexHandle(root, index_dir, watcher, store=store, repo=repo)
    try:
        with _kept_fresh(watcher) as watching:
            build_server(index, watching=watching).run("stdio")
    finally:
        index.close()


def _watcher(root: Path, index_dir: Path | None, store: str | None, repo: str | None) -> Watcher:
    """A watcher as `codesearch watch` makes it, under the same configuration."""
    from codesearch.config import load_config
    from codesearch.watcher import Watcher

    settings = load_config(root, index_dir)
    return Watcher(root, index_dir=index_dir, store=store, repo=repo, on_notice=_log_notice, **settings.sync_options())


@contextmanager
def _kept_fresh(watcher: Watcher | None) -> Iterator[Callable[[], bool]]:
    """Run `watcher` on its own thread while the block serves; yields whether it follows changes now.

    On the way out the batch in flight may finish (up to SHUTDOWN_WAIT_S); an interrupted one
    is picked up by the next sync, like any change made while nothing watched.
    """
    if watcher is None:
        yield lambda: False
        return
    thread = threading.Thread(target=_watch, args=(watcher,), name="codesearch-watch", daemon=True)
    thread.start()
    try:
        yield lambda: watcher.ready.is_set() and thread.is_alive()
    finally:
        watcher.stop()
        thread.join(SHUTDOWN_WAIT_S)


def build_server(index: IndexHandle, *, watching: Callable[[], bool]) -> MCPServer:
    """The four tools over `index`; `watching` says whether a watcher keeps it fresh."""
    server: MCPServer = MCPServer("codesearch", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @_tool(server, READ_ONLY)
    def search(
        query: Query,
        k: TopK = 10,
        language: Language = None,
        path_glob: PathGlob = None,
        mode: Mode = "hybrid",
        task: Task = None,
        max_chars: MaxChars = DEFAULT_MAX_CHARS,
    ) -> CallToolResult:
        """Find code in the indexed repository by meaning: describe it ("retry an HTTP request with
        backoff") or paste a snippet. Returns the best matching functions, classes and sections,
        best first, each with path, start_line and end_line (1-based, inclusive), symbol, kind,
        language, score and code. Narrow with language and path_glob; raise max_chars for more code.
        While the server first builds the index, an error says how far it got: try again shortly.
        """
        options = {"mode": mode, "task": task, "language": language, "path_glob": path_glob}
        return _answer(lambda: fitted(index.use_built(lambda searcher: searcher.search(query, k, **options)), max_chars))

    @_tool(server, READ_ONLY)
    def similar(
        path: FilePath,
        line: Line = None,
        k: TopK = 10,
        language: Language = None,
        path_glob: PathGlob = None,
        max_chars: MaxChars = DEFAULT_MAX_CHARS,
    ) -> CallToolResult:
        """Find code similar to a place in the repository: the function or class enclosing `line`
        of `path` (or the whole file when `line` is omitted) is the query, and its own code is never
        among the results. Use it to find duplicates, other implementations of the same pattern, or
        code to change together. Results look like those of `search`.
        """
        options = {"language": language, "path_glob": path_glob}
        return _answer(lambda: fitted(index.use_built(lambda searcher: searcher.similar(path, line, k, **options)), max_chars))

    @_tool(server, READ_ONLY)
    def status() -> CallToolResult:
        """Report what the index holds and how fresh it is: root, index_dir, embedder, files, chunks,
        bytes_on_disk, last_sync (Unix time), changed_since (files added, changed or deleted on disk
        since the last sync), tokens_used, watching (whether this server re-indexes changes itself),
        and indexing (while the server first builds the index: files_done and files_total, else null).
        """
        return _answer(lambda: _status(index, watching()))

    @_tool(server, WRITES_INDEX)
    def reindex(full: Full = False) -> CallToolResult:
        """Bring the index up to date with the files on disk and report what changed: only new and
        changed files are read and embedded, deleted ones are removed. Call it after editing files
        when `status` shows changed_since > 0 and watching is false. Builds the index if there is none.
        """
        return _answer(lambda: index.reindex(full))

    return server


def _status(index: IndexHandle, watching: bool) -> dict:
    """`codesearch status`, whether a watcher follows changes, and how far its first build got;
    while it builds, an index not written yet is news of the build, not an error.
    """
    from codesearch.status import index_status

    progress = index.building()
    if index.store:
        from codesearch.status import store_status

        found = store_status(index.store, [index.repo or index.root.name])
        return {**found["repositories"][0], "store": found["store"], "embedder": found["embedder"], "watching": watching, "indexing": None}
    try:
        info = index_status(index.located())
    except EXPECTED_FAILURES:
        if progress is None:
            raise
        raise IndexBeingBuilt(progress) from None
    indexing = None if progress is None else {"files_done": progress.files_done, "files_total": progress.files_total}
    return {**info.__dict__, "watching": watching, "indexing": indexing}


def _so_far(progress: Progress) -> str:
    """How far a sync got, in files; their total is known once discovery is over."""
    if progress.files_total is None:
        return f"finding files ({progress.files_found:,} so far)" if progress.files_found else "finding files"
    return f"{progress.files_done:,} of {progress.files_total:,} files done"


def _tool(server: MCPServer, annotations: ToolAnnotations) -> Callable[[F], F]:
    """Register a function as a tool; its docstring, on one line, is the description the model reads."""

    def register(fn: F) -> F:
        server.add_tool(fn, description=" ".join((fn.__doc__ or "").split()), annotations=annotations)
        return fn

    return register


def fitted(result: SearchResult, max_chars: int) -> dict:
    """A search result as the tools return it, its hits fitted into `max_chars` characters of JSON."""
    hits, cut = _fit([_hit_fields(hit) for hit in result.hits], max_chars)
    payload: dict = {"query": result.query, "task": result.task, "mode": result.mode, "results": hits}
    left_out = len(result.hits) - len(hits)
    payload["left_out"] = left_out
    if left_out or cut:
        shortened = " and the last hit's code cut" if cut else ""
        payload["note"] = (
            f"{left_out} more hit{'' if left_out == 1 else 's'} left out{shortened} to stay within max_chars={max_chars}; "
            "raise max_chars, lower k, or narrow with language or path_glob"
        )
    return payload


def _fit(hits: list[dict], max_chars: int) -> tuple[list[dict], bool]:
    """Whole hits best first while they fit; then the next one cut at a line with a marker
    (always, when it would be the only hit), so a tight budget never answers with nothing.
    Returns the hits kept and whether the last one was cut.
    """
    kept: list[dict] = []
    room = max_chars
    for hit in hits:
        if _size(hit) <= room:
            kept.append(hit)
            room -= _size(hit)
            continue
        cut = _cut(hit, room)
        if not kept or _size(cut) <= room:
            kept.append(cut)
            return kept, True
        break
    return kept, False


def _cut(hit: dict, room: int) -> dict:
    """`hit` with as many whole lines of its code as fit in `room`, then a marker saying where the rest is."""
    lines = hit["code"].split("\n")
    budget = room - _size({**hit, "code": ""}) - _json_len(_marker(hit, len(lines), len(lines)))
    shown = 0
    while shown < len(lines) and budget >= _json_len(lines[shown]) + 2:
        budget -= _json_len(lines[shown]) + 2
        shown += 1
    return {**hit, "code": "\n".join([*lines[:shown], _marker(hit, shown, len(lines))])}


def _marker(hit: dict, shown: int, total: int) -> str:
    first = hit["start_line"] + shown
    return f"[... {total - shown} more lines cut to fit max_chars; read {hit['path']} lines {first}-{hit['end_line']}]"


def _size(hit: dict) -> int:
    """Characters `hit` takes in the answer's JSON, with the separator before it."""
    return len(json.dumps(hit, ensure_ascii=False)) + 2


def _json_len(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False)) - 2


def _hit_fields(hit: Hit) -> dict:
    return {
        "path": hit.path, "start_line": hit.start_line, "end_line": hit.end_line, "symbol": hit.symbol,
        "kind": hit.kind, "language": hit.language, "score": hit.score, "code": hit.text,
    }


def _answer(produce: Callable[[], dict]) -> CallToolResult:
    """A tool's JSON answer, or the CLI's one-line message as a tool error for a failure the user can act on."""
    try:
        payload = produce()
    except EXPECTED_FAILURES as exc:
        return CallToolResult(content=[TextContent(type="text", text=failure_message(exc))], is_error=True)
    text = json.dumps(payload, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=payload)


def _watch(watcher: Watcher) -> None:
    """The watcher's thread. When it cannot watch (another watcher holds the index) the server
    still serves, and says so on stderr and through the status tool.
    """
    try:
        watcher.run()
    except CodesearchError as exc:
        log.warning("not watching: %s", exc)


def _log_notice(notice: Notice) -> None:
    """Notices go to stderr: stdout carries the protocol."""
    if notice.warning:
        log.warning(notice.message)
    else:
        log.info(notice.message)
