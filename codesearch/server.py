"""`codesearch serve`: one process answering many readers of a local index or a PostgreSQL
store over HTTP, and a search page.

What is served is opened once and kept (`Served`): a Searcher reloads when `index` or `watch`
commit a new generation, so each request costs what one line of `ask --batch` costs. Searches
run on worker threads under a capacity limiter, so waiting requests queue in the event loop,
not on blocked threads: the loop meanwhile parses the next requests, serves the page, refuses
with 401 or 429, and answers `/api/status` (which opens a connection of its own). A local
index's Searcher holds one SQLite connection, so its searches run one at a time. Searching on
the loop itself was no faster: with 8 clients of benchmarks/serve_load.py (2 cores shared with
other work, three alternating runs each) the worker thread answered 142-162 requests/s on
Python's standard library (19,672 chunks; p95 60-83 ms), the loop 128-143 (p95 78-86 ms); on
the Linux kernel (1.17M chunks) 27-41 against 32-37, within the noise. A store's reader is
thread-safe with a pool of connections, so as many of its searches run at once as the pool
holds (`stores.postgres.POOL_MAX`); each distinct set of repositories a request may see has a
Searcher of its own (a few kept, `MAX_SCOPES`), which the database narrows to those.

What the server answers is what the CLI prints: `/api/search` is `ask --json`, `/api/similar`
is `similar --json`, `/api/status` is `status --json`, each hit naming its repository; errors
are `{"error": <the CLI's one-line message>}`. A local index's one repository is its indexed
root, named by its directory; a store's are those it holds (or `--repo` names), each with the
name it was indexed under.

Access: on a loopback address no token is needed, and only requests for a loopback host name
are answered (a web page cannot rebind its own domain to 127.0.0.1 and read the code). On any
other address the server refuses to start without bearer tokens; a token names the
repositories it may read and never sees any other, not even in a count or an error: a request
searches (served) & (its token's) & (`repo=`), and a `repo=` its token was not given is 403.
Requests carry no body, their URL is bounded, and each client (its token, else its address)
has a token bucket. Files are read only when the index holds their path, relative to the
repository's recorded root, when that root is a directory on this machine, through
`files.read_source`, which refuses a symlink that leaves the root.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
import socket
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codesearch import __version__
from codesearch.access import ENV_TOKENS, EVERYTHING, LOOPBACK_NAMES, Grant, RateLimit, digest, is_loopback, load_tokens
from codesearch.context import numbered_lines
from codesearch.errors import EXPECTED_FAILURES, CodesearchError, StoreUnavailable, failure_message
from codesearch.files import SkipFile, SourceFile, read_source
from codesearch.indexer import stat_changed
from codesearch.languages import detect_language
from codesearch.locate import find_index
from codesearch.searcher import MAX_QUERY_CHARS, MODES, SearchResult, Searcher
from codesearch.status import index_status, store_status
from codesearch.stores import is_url, redacted
from codesearch.tasks import query_task

DEFAULT_K = 10
"""As `ask -k`."""
MAX_K = 100
MAX_URL_BYTES = 32_768
"""A query of MAX_QUERY_CHARS characters of code, percent-encoded, with room for the other parameters."""
MAX_HEAD_BYTES = MAX_URL_BYTES + 16_384
"""What the HTTP parser accepts for a request's head, so a long URL gets our 413, not its bare 400."""
MAX_FILE_LINES = 5_000
MAX_FILE_BYTES = 16 << 20
MAX_SCOPES = 8
"""Searchers kept for requests that may see fewer repositories than are served (a token's, a
`repo=`): a store's each hold a pool of connections (one at least, idle), so the least recently
used one beyond this is closed."""
SHUTDOWN_WAIT_S = 5
WEB = Path(__file__).parent / "web"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
]

log = logging.getLogger("codesearch.serve")
T = TypeVar("T")


class ApiError(Exception):
    """An answer other than 200: its HTTP status and the one-line message the client reads."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class _Lease:
    """A Searcher and the requests using it: one dropped (from the cache, after a failure, at
    shutdown) is closed by the last of them, never under a running search."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.users = 0
        self.dropped = False


@dataclass(frozen=True)
class Sight:
    """What one request may see: the served repositories its token may read, narrowed by
    `repo=`, each with its root as its index records it; `borrow` lends a Searcher over some of
    them until the request ends."""

    roots: Mapping[str, str]
    borrow: Callable[[frozenset[str]], Searcher]

    @property
    def repos(self) -> frozenset[str]:
        return frozenset(self.roots)

    def searcher(self) -> Searcher:
        return self.borrow(self.repos)

    def one(self, path: str) -> str:
        """The repository that holds `path`: the one in sight; with several, `repo=` names it."""
        if not self.roots:
            raise ApiError(404, f"{path} is not in the index")
        if len(self.roots) > 1:
            raise ApiError(400, f"repo= is required: {len(self.roots)} repositories are in scope, and {path} may be in any of them")
        return next(iter(self.roots))


class Served(ABC):
    """The repositories a server answers from, and the Searchers over them.

    One Searcher is opened over every served repository and lists them (again whenever a sync
    moves the generation on). A request searches exactly what it may see: that Searcher when it
    may see all of them, else one opened over those (`Searcher(location, repos=...)`), kept in a
    cache of MAX_SCOPES. Subclasses say where the index is, how many searches run at once, what
    `/api/status` answers and what the ready line names.
    """

    concurrency = 1
    """Searches at once: one, unless the reader is thread-safe."""
    repos: Sequence[str] = ()
    """The served repositories as the served Searcher is opened with them (none: all)."""
    pinned = True
    """Whether the served Searcher searches exactly the repositories it listed: not a store's
    every-repository one, which also searches a repository indexed after the listing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: _Lease | None = None
        self._scoped: OrderedDict[frozenset[str], _Lease] = OrderedDict()
        self._listed: tuple[int, dict[str, str]] = (-1, {})
        self._limiter: anyio.CapacityLimiter | None = None

    @abstractmethod
    def located(self) -> str | Path:
        """Where the index is, as `Searcher` takes it."""

    @abstractmethod
    def start(self, on_notice: Callable[[str], None]) -> str:
        """Open the served repositories before listening; what the ready line names."""

    @abstractmethod
    def status(self, repos: frozenset[str]) -> dict:
        """What `status --json` prints for `repos` (some served repositories)."""

    async def run(self, grant: Grant, asked: str | None, action: Callable[[Sight], T]) -> T:
        """`action` on a worker thread, at most `concurrency` at once; the limiter queues the
        others in the event loop rather than on blocked threads."""
        if self._limiter is None:  # made in the event loop: anyio ties it to the running backend
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return await anyio.to_thread.run_sync(self.call, grant, asked, action, limiter=self._limiter)

    def call(self, grant: Grant, asked: str | None, action: Callable[[Sight], T]) -> T:
        """`action` on what a request with `grant` and `repo=asked` may see. A failure of the
        index itself is a 503, after which the served Searcher is opened anew (a damaged
        database may have been rebuilt meanwhile)."""
        with ExitStack() as leases:
            served = leases.enter_context(self._leased(self._take_served))
            try:
                roots = self._roots(served.searcher)
                seen = {name: root for name, root in roots.items() if grant.allows(name) and asked in (None, name)}
                return action(Sight(seen, lambda repos: self._borrow(leases, served.searcher, roots, repos)))
            except (sqlite3.DatabaseError, OSError, StoreUnavailable) as exc:
                self._discard(served)
                raise ApiError(503, failure_message(exc)) from None
            except CodesearchError as exc:
                raise ApiError(400, str(exc)) from None

    def close(self) -> None:
        with self._lock:
            for lease in [*self._scoped.values(), *filter(None, [self._served])]:
                self._drop(lease)
            self._scoped.clear()
            self._served = None

    def _open(self, repos: Sequence[str]) -> Searcher:
        try:
            return Searcher(self.located(), repos=repos, on_notice=log.warning)
        except EXPECTED_FAILURES as exc:
            raise ApiError(503, failure_message(exc)) from None

    def _roots(self, searcher: Searcher) -> dict[str, str]:
        """Each served repository's root; listed again only once a sync moved the generation on."""
        generation = searcher.store.generation
        listed = self._listed
        if listed[0] != generation:
            listed = self._listed = (generation, {str(r["repo"]): str(r["root"]) for r in searcher.store.repositories()})
        return listed[1]

    def _borrow(self, leases: ExitStack, served: Searcher, roots: Mapping[str, str], repos: frozenset[str]) -> Searcher:
        """A Searcher over exactly `repos`, held until the request ends."""
        if not repos:
            raise ValueError("no repository to search: to a store, none would mean every one")
        if self.pinned and repos == roots.keys():
            return served
        return leases.enter_context(self._leased(lambda: self._take_scoped(repos))).searcher

    @contextmanager
    def _leased(self, take: Callable[[], _Lease]) -> Iterator[_Lease]:
        """The lease `take` finds or opens, used until the block ends. Taken under the lock, so
        that no other request drops it first; a miss opens a Searcher there (a store's: one
        connection), holding the others up that long, which the cache keeps rare."""
        with self._lock:
            lease = take()
            lease.users += 1
        try:
            yield lease
        finally:
            with self._lock:
                lease.users -= 1
                if lease.dropped and not lease.users:
                    lease.searcher.close()

    def _take_served(self) -> _Lease:
        if self._served is None:
            self._served = _Lease(self._open(self.repos))
        return self._served

    def _take_scoped(self, repos: frozenset[str]) -> _Lease:
        """The cached Searcher over `repos`, opened on a miss; the least recently used beyond MAX_SCOPES is dropped."""
        lease = self._scoped.pop(repos, None) or _Lease(self._open(sorted(repos)))
        self._scoped[repos] = lease
        if len(self._scoped) > MAX_SCOPES:
            self._drop(self._scoped.popitem(last=False)[1])
        return lease

    def _drop(self, lease: _Lease) -> None:
        """Under the lock: close `lease` now if unused, else when its last request ends."""
        lease.dropped = True
        if not lease.users:
            lease.searcher.close()

    def _discard(self, lease: _Lease) -> None:
        with self._lock:
            if self._served is lease:
                self._served, self._listed = None, (-1, {})
                self._drop(lease)


class ServedIndex(Served):
    """A local index and its one repository, opened on first use: the server may start before
    the index exists, and answers 503 until it does. Its Searcher holds one SQLite connection,
    so searches run one at a time."""

    def __init__(self, root: Path, index_dir: Path | None) -> None:
        super().__init__()
        self.root = root
        self.explicit = index_dir

    def located(self) -> Path:
        """`--index` (or $CODESEARCH_INDEX), else the index found walking up from the root, as `ask` finds it."""
        return find_index(self.explicit, start=self.root)

    def start(self, on_notice: Callable[[str], None]) -> str:
        """The indexed root, which may lie above the PATH given; that PATH while there is no index."""
        try:
            return next(iter(self.call(EVERYTHING, None, lambda sight: sight.roots).values()))
        except ApiError as exc:
            on_notice(f"{exc}; serving anyway, /api answers 503 until the index is built")
            return str(self.root)

    def status(self, repos: frozenset[str]) -> dict:
        """`index_status` walks the tree with a connection of its own, so it runs beside searches."""
        return {**index_status(self.located()).__dict__, "repo": min(repos)}


class ServedStore(Served):
    """A PostgreSQL store's repositories (`repos`, default all): its reader is thread-safe, with
    a pool of connections, so as many searches run at once as one pool holds."""

    def __init__(self, url: str, repos: Sequence[str]) -> None:
        from codesearch.stores.postgres import POOL_MAX

        super().__init__()
        self.url = url
        self.repos = list(repos)
        self.pinned = bool(repos)
        self.concurrency = POOL_MAX

    def located(self) -> str:
        return self.url

    def start(self, on_notice: Callable[[str], None]) -> str:
        """How many repositories are served from where; a store that cannot be reached, or
        lacks a `--repo`, stops the server before it starts."""
        try:
            count = self.call(EVERYTHING, None, lambda sight: len(sight.roots))
        except ApiError as exc:
            raise CodesearchError(str(exc)) from None
        return f"{count} {'repository' if count == 1 else 'repositories'} of {redacted(self.url)}"

    def status(self, repos: frozenset[str]) -> dict:
        return store_status(self.url, sorted(repos))


def served_from(root: Path | None, location: str | Path | None, repos: Sequence[str]) -> Served:
    """A store URL serves that store's repositories; anything else is the local index found
    from `root` (default: here), at `location` when given."""
    if is_url(location):
        if root is not None:
            raise CodesearchError(
                "with --store (or CODESEARCH_STORE), serve takes no PATH: it serves the store's repositories; "
                "choose some with --repo NAME"
            )
        return ServedStore(str(location), repos)
    root = (root or Path(".")).absolute()
    if not root.is_dir():
        raise CodesearchError(f"path not found or not a directory: {root}")
    return ServedIndex(root, Path(location) if location else None)


class Api:
    """The /api endpoints over what is served."""

    def __init__(self, served: Served) -> None:
        self.served = served

    async def search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "")
        k = _number(params, "k", MAX_K) or DEFAULT_K
        mode, task = params.get("mode") or "hybrid", params.get("task") or None
        language, paths = params.get("lang") or None, params.getlist("path")

        def act(sight: Sight) -> dict:
            if not sight.roots:
                return SearchResult(query.strip(), query_task(query, task), mode, []).to_dict()
            try:
                result = sight.searcher().search(query, k, mode=mode, task=task, language=language, path_glob=paths or None)
            except CodesearchError as exc:
                raise ApiError(413 if len(query.strip()) > MAX_QUERY_CHARS else 400, str(exc)) from None
            return _answer(result, sight.repos)

        return _json(await self._run(request, act))

    async def similar(self, request: Request) -> Response:
        params = request.query_params
        path = _relative_path(params)
        line = _number(params, "line")
        k = _number(params, "k", MAX_K) or DEFAULT_K
        language, paths = params.get("lang") or None, params.getlist("path_glob")

        def act(sight: Sight) -> dict:
            sight.one(path)  # a store's path may be in any of its repositories: repo= names one
            searcher = sight.searcher()
            try:
                result = searcher.similar(path, line, k, language=language, path_glob=paths or None)
            except CodesearchError as exc:
                raise ApiError(400 if path in searcher.store.file_states([path]) else 404, str(exc)) from None
            return _answer(result, sight.repos)

        return _json(await self._run(request, act))

    async def file(self, request: Request) -> Response:
        params = request.query_params
        path = _relative_path(params)
        start = _number(params, "start") or 1
        end = _number(params, "end")
        return _json(await self._run(request, lambda sight: _file_lines(sight, path, start, end)))

    async def status(self, request: Request) -> Response:
        """What `status --json` prints, for the served repositories this token may read (a
        local index's with its name); `repo=` does not narrow it."""
        repos = await self.served.run(_grant(request), None, lambda sight: sight.repos)
        if not repos:
            raise ApiError(403, "this token may read no repository served here")
        try:
            return _json(await anyio.to_thread.run_sync(self.served.status, repos))
        except EXPECTED_FAILURES as exc:
            raise ApiError(503, failure_message(exc)) from None

    async def openapi(self, _request: Request) -> Response:
        return _json(openapi_document())

    async def _run(self, request: Request, action: Callable[[Sight], T]) -> T:
        """`action` on what the request may see, after a `repo=` its token was not given is refused."""
        asked = request.query_params.get("repo") or None
        if asked and not _grant(request).allows(asked):  # whether or not it is served, so the refusal reveals nothing
            raise ApiError(403, f"this token may not read repository {asked!r}")
        return await self.served.run(_grant(request), asked, action)


def _grant(request: Request) -> Grant:
    return request.scope.get("state", {}).get("grant", EVERYTHING)


def _answer(result: SearchResult, repos: frozenset[str]) -> dict:
    """`ask --json`'s object (SearchResult.to_dict, as the CLI prints it), each hit naming its
    repository (a store's hits carry theirs; a local index's are of its one), and none from
    outside `repos`, whatever a reader returned."""
    answer = result.to_dict()
    only = next(iter(repos)) if len(repos) == 1 else ""
    named = ({"repo": only, **hit} for hit in answer["results"])
    answer["results"] = [hit for hit in named if hit["repo"] in repos]
    return answer


def _file_lines(sight: Sight, path: str, start: int, end: int | None) -> dict:
    """Lines `start`..`end` of an indexed file as it is on disk now (`changed`: since indexing),
    read only where its repository's recorded root is a directory on this machine."""
    repo = sight.one(path)
    recorded = sight.roots[repo]
    root = Path(recorded)
    if not (root.is_absolute() and root.is_dir()):
        raise ApiError(404, f"the files of repository {repo!r} are not on this server (it was indexed from {recorded or 'elsewhere'})")
    state = sight.searcher().store.file_states([path]).get(path)
    if state is None:
        raise ApiError(404, f"{path} is not in the index")
    abspath = root / path
    try:
        info = os.stat(abspath)
        source = SourceFile(path, abspath, "", info.st_size, info.st_mtime_ns)
        data = read_source(source, MAX_FILE_BYTES)
    except OSError:
        raise ApiError(404, f"{path} is in the index but no longer on disk; run `codesearch index` again") from None
    except SkipFile as exc:
        raise ApiError(413 if str(exc) == "too large" else 404, f"{path} cannot be read: {exc}") from None
    lines = numbered_lines(data.decode("utf-8", errors="replace"))
    if start > len(lines):
        raise ApiError(400, f"{path} has {len(lines):,} lines; start={start} is past its end")
    last = min(len(lines), end or len(lines), start + MAX_FILE_LINES - 1)
    if last < start:
        raise ApiError(400, f"end={end} comes before start={start}")
    return {
        "repo": repo, "path": path, "language": detect_language(path, data[:256]) or "",
        "start_line": start, "end_line": last, "total_lines": len(lines),
        "changed": stat_changed(state, source), "lines": lines[start - 1 : last],
    }


def _relative_path(params: QueryParams) -> str:
    """`path=`: relative to the repository root, POSIX, without `.` or `..` parts: never a way out of it."""
    path = params.get("path", "")
    if not path:
        raise ApiError(400, "missing parameter path: a file path relative to the repository root")
    if path.startswith("/") or "\0" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise ApiError(400, f"path must be relative to the repository root, without '.' or '..' parts: {path!r}")
    return path


def _number(params: QueryParams, name: str, most: int | None = None) -> int | None:
    """A positive whole-number parameter, at most `most`; None when it is not given."""
    raw = params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= 1):
        raise ApiError(400, f"{name} must be a whole number from 1, not {raw!r}")
    if most is not None and int(raw) > most:
        raise ApiError(400, f"{name} is at most {most}, not {raw}")
    return int(raw)


def _json(payload: dict) -> Response:
    return JSONResponse(payload, headers={"cache-control": "no-store"})


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store", **(headers or {})})


class Guard:
    """What every request passes before it reaches a route: method, body, URL length, Host,
    rate and token. A refusal is an error object like any other."""

    def __init__(self, app: ASGIApp, grants: dict[str, Grant] | None, limit: RateLimit | None, hosts: frozenset[str] | None) -> None:
        """`hosts`: the host names answered (None: any, for a server that tokens protect)."""
        self.app = app
        self.grants = grants
        self.limit = limit
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            scope.setdefault("state", {})["grant"] = self._admit(scope, Headers(scope=scope))
        except ApiError as exc:
            await _error(exc.status, str(exc), exc.headers)(scope, receive, secured)
            return
        await self.app(scope, receive, secured)

    def _admit(self, scope: Scope, headers: Mapping[str, str]) -> Grant:
        """The request's grant, or the ApiError that refuses it."""
        if scope["method"] not in ("GET", "HEAD"):
            raise ApiError(405, f"only GET is answered, not {scope['method']}", {"allow": "GET, HEAD"})
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            raise ApiError(413, "requests carry no body; put the parameters in the URL")
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if size > MAX_URL_BYTES:
            raise ApiError(413, f"the request URL is {size:,} bytes long; at most {MAX_URL_BYTES:,} are accepted")
        if self.hosts is not None and _host_name(headers.get("host", "")) not in self.hosts:
            raise ApiError(400, "this server answers requests for localhost only (its Host header named another host)")
        known = self._token(headers)
        self._throttle(known, scope)
        if known is None and self.grants is not None and scope["path"].startswith("/api/"):
            given = "authorization" in headers
            raise ApiError(401, "unknown token" if given else "this server needs a token: send Authorization: Bearer TOKEN", {"www-authenticate": "Bearer"})
        return known[1] if known else EVERYTHING

    def _token(self, headers: Mapping[str, str]) -> tuple[str, Grant] | None:
        """The digest and grant of a valid bearer token sent, None without one."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if self.grants is None or scheme.lower() != "bearer":
            return None
        key = digest(token.strip())
        return (key, self.grants[key]) if key in self.grants else None

    def _throttle(self, token: tuple[str, Grant] | None, scope: Scope) -> None:
        """429 beyond the rate: per token, else per address (so guessing tokens is throttled too)."""
        if self.limit is None:
            return
        client = token[0] if token else f"address {(scope.get('client') or ('',))[0]}"
        wait = self.limit.delay(client, time.monotonic())
        if wait:
            raise ApiError(429, f"too many requests; at most {self.limit.rate:g} a second, try again in {wait:.1f} s", {"retry-after": str(math.ceil(wait))})


def _host_name(host: str) -> str:
    """The name in a Host header, without its port (`[::1]:8765` -> `::1`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def build_app(served: Served, grants: dict[str, Grant] | None, rate: float, loopback: bool) -> ASGIApp:
    """The API and the page behind the Guard: `rate` requests a second per client, bursts of
    twice that (a page load is five requests; at least one), 0 for no limit; a loopback server
    without tokens answers loopback host names only."""
    api = Api(served)
    page = FileResponse(WEB / "index.html")

    async def show_page(_request: Request) -> Response:
        return page

    routes = [
        Route("/", show_page), Route("/file", show_page),
        Route("/api/search", api.search), Route("/api/similar", api.similar), Route("/api/file", api.file),
        Route("/api/status", api.status), Route("/api/openapi.json", api.openapi),
        Mount("/assets", StaticFiles(directory=WEB)),
    ]
    handlers = {ApiError: _api_error, HTTPException: _http_error, Exception: _crash}
    app = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
    hosts = LOOPBACK_NAMES if loopback and grants is None else None
    return Guard(app, grants, RateLimit(rate, max(1.0, 2 * rate)) if rate > 0 else None, hosts)


async def _api_error(_request: Request, exc: ApiError) -> Response:
    return _error(exc.status, str(exc), exc.headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _error(exc.status_code, f"{exc.detail.lower()}: {request.url.path}" if exc.status_code == 404 else str(exc.detail))


async def _crash(_request: Request, _exc: Exception) -> Response:
    return _error(500, "internal error; the server's log says more")


def serve(
    root: Path | None,
    *,
    location: str | Path | None,
    repos: Sequence[str],
    host: str,
    port: int,
    token_file: Path | None,
    rate: float,
    on_ready: Callable[[str, str], None],
    on_notice: Callable[[str], None],
) -> None:
    """Serve until Ctrl-C or SIGTERM: the local index found from `root` (at `location` when
    given), or the store at a `location` URL (its `repos`, default all). `on_ready` hears what
    is served and the URL once the port is bound; `on_notice` hears that there is no local
    index yet (the server answers 503 until `index` or `watch` builds one: a service started
    before its index, or beside the first `index`, must not need a restart)."""
    served = served_from(root, location, repos)
    grants = load_tokens(token_file)
    loopback = is_loopback(host)
    if grants is None and not loopback:
        raise CodesearchError(
            f"refusing to serve on {host} without tokens: anyone who reaches it could read the code; "
            f"give --token-file FILE (or ${ENV_TOKENS}), one bearer token per line"
        )
    try:
        shown = served.start(on_notice)
        sock = _listen(host, port)
        config = uvicorn.Config(
            build_app(served, grants, rate, loopback), log_level="warning", access_log=False, lifespan="off",
            server_header=False, timeout_graceful_shutdown=SHUTDOWN_WAIT_S, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        on_ready(shown, _url(host, sock.getsockname()[1]))
        try:
            with _sigterm_interrupts():
                uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
    finally:
        served.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so that a port in use is one line, and port 0 names the port it got."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise CodesearchError(f"cannot listen on {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port" if exc.errno == errno.EADDRINUSE else ""
        raise CodesearchError(f"cannot listen on {_url(host, port)}: {exc.strerror}{hint}") from None
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the server as Ctrl-C does: uvicorn shuts down gracefully and raises the
    signal again once done, which this turns into KeyboardInterrupt instead of a kill."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def openapi_document() -> dict:
    """The API as OpenAPI 3.1, written by hand: five GET endpoints with query parameters."""
    hit = {
        "type": "object",
        "properties": {
            name: {"type": kind} for name, kind in (
                ("repo", "string"), ("path", "string"), ("start_line", "integer"), ("end_line", "integer"), ("symbol", "string"),
                ("kind", "string"), ("language", "string"), ("score", "number"), ("text", "string"),
            )
        },
    }
    result = {
        "type": "object",
        "properties": {"query": {"type": "string"}, "task": {"type": "string"}, "mode": {"type": "string"}, "results": {"type": "array", "items": hit}},
    }
    repo = _param("repo", "string", "Only this repository (a local index's is its root directory's name); one not served gives no hits.")
    held = _param("repo", "string", "The repository holding `path`; needed when more than one is served to this token.")
    lang = _param("lang", "string", "Only this language, in any case or by alias (python, py, go, ts).")
    paths = "Only these paths: a directory, a name at any depth, a glob, or !PATTERN to leave out; repeatable."
    k = _param("k", "integer", f"How many results (1 to {MAX_K}, default 10).")
    file_path = _param("path", "string", "A file path relative to the repository root, as results give it.", required=True)
    return {
        "openapi": "3.1.0",
        "info": {"title": "codesearch", "version": __version__, "description": "Semantic code search over indexed repositories."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Result": result, "Error": {"type": "object", "properties": {"error": {"type": "string"}}}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/search": _get("Search by meaning: what `codesearch ask --json` prints, each hit with its repo.", [
                _param("q", "string", f"What to look for: words or a code snippet (at most {MAX_QUERY_CHARS:,} characters).", required=True),
                k, _param("mode", "string", f"Retrieval: {', '.join(MODES)} (default hybrid)."),
                _param("task", "string", "Force the query task (default: detected)."), lang, _param("path", "array", paths), repo,
            ], "Result"),
            "/api/similar": _get("Code like the chunk around a line of a file (or the whole file): `codesearch similar --json`.", [
                file_path, _param("line", "integer", "1-based line; omitted: the whole file."), k, lang,
                _param("path_glob", "array", paths), held,
            ], "Result"),
            "/api/file": _get("Lines of an indexed file as it is on disk, where its repository's root is on this server.", [
                file_path, _param("start", "integer", "First line (default 1)."),
                _param("end", "integer", f"Last line (default: the end; at most {MAX_FILE_LINES:,} lines come back)."), held,
            ], None),
            "/api/status": _get(
                "What `codesearch status --json` prints: a local index's with its repo's name, "
                "a store's with the repositories this token may read.", [], None,
            ),
        },
    }


def _param(name: str, kind: str, description: str, required: bool = False) -> dict:
    schema: dict = {"type": kind, "items": {"type": "string"}} if kind == "array" else {"type": kind}
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _get(summary: str, parameters: list[dict], schema: str | None) -> dict:
    body = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "object"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    statuses = {"400": "bad parameter", "401": "no or unknown token", "403": "repository not granted", "404": "not found",
                "413": "too large", "429": "rate limited", "503": "no index yet, or it failed"}
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": body}}}}
    responses |= {code: {"description": text, **error} for code, text in statuses.items()}
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}
