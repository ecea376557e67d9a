"""`codesearch serve`: one process answering many readers of a local index over HTTP, and a search page.

The index is opened once and kept: its Searcher reloads the vectors when `index` or `watch`
commit a new generation, so each request costs what one line of `ask --batch` costs. A
Searcher holds one SQLite connection, so searches run one at a time, each on a worker thread
(a capacity limiter of one, so waiting requests queue in the event loop, not on blocked
threads): the loop meanwhile parses the next requests, serves the page, refuses with 401 or
429, and answers `/api/status` (which opens a connection of its own). Searching on the loop
itself was no faster: with 8 clients of benchmarks/serve_load.py (2 cores shared with other
work, three alternating runs each) the worker thread answered 142-162 requests/s on Python's
standard library (19,672 chunks; p95 60-83 ms), the loop 128-143 (p95 78-86 ms); on the Linux
kernel (1.17M chunks) 27-41 against 32-37, within the noise.

What the server answers is what the CLI prints: `/api/search` is `ask --json`, `/api/similar`
is `similar --json`, `/api/status` is `status --json`, each hit with the repository's name
added; errors are `{"error": <the CLI's one-line message>}`. A repository is the indexed root,
named by its directory.

Access: on a loopback address no token is needed, and only requests for a loopback host name
are answered (a web page cannot rebind its own domain to 127.0.0.1 and read the code). On any
other address the server refuses to start without bearer tokens; a token names the
repositories it may read and never sees any other, not even in a count or an error. Requests
carry no body, their URL is bounded, and each client (its token, else its address) has a
token bucket. Files are read only when the index holds their path, relative to the root,
through `files.read_source`, which refuses a symlink that leaves the root.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import logging
import math
import os
import signal
import socket
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
from codesearch.context import numbered_lines
from codesearch.errors import EXPECTED_FAILURES, CodesearchError, failure_message
from codesearch.files import SkipFile, SourceFile, read_source
from codesearch.indexer import stat_changed
from codesearch.languages import detect_language
from codesearch.locate import find_index
from codesearch.searcher import MAX_QUERY_CHARS, MODES, SearchResult, Searcher
from codesearch.status import index_status

ENV_TOKENS = "CODESEARCH_TOKENS"
MIN_TOKEN_CHARS = 16
DEFAULT_K = 10
"""As `ask -k`."""
MAX_K = 100
MAX_URL_BYTES = 32_768
"""A query of MAX_QUERY_CHARS characters of code, percent-encoded, with room for the other parameters."""
MAX_HEAD_BYTES = MAX_URL_BYTES + 16_384
"""What the HTTP parser accepts for a request's head, so a long URL gets our 413, not its bare 400."""
MAX_FILE_LINES = 5_000
MAX_FILE_BYTES = 16 << 20
MAX_CLIENTS = 10_000
"""Rate-limit buckets kept; the least recently seen client's is dropped beyond this."""
SHUTDOWN_WAIT_S = 5
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
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


@dataclass(frozen=True)
class Grant:
    """The repositories one token may read; None: every one."""

    repos: frozenset[str] | None = None

    def allows(self, repo: str) -> bool:
        return self.repos is None or repo in self.repos


EVERYTHING = Grant()


def parse_tokens(text: str, source: str) -> dict[str, Grant]:
    """`TOKEN [REPO...]` per line, `#` to the end of a line a comment; keyed by the token's
    SHA-256, so that the tokens themselves are not kept in memory beyond this."""
    grants: dict[str, Grant] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        token, repos = words[0], words[1:]
        if len(token) < MIN_TOKEN_CHARS:
            raise CodesearchError(
                f"{source} line {number}: a token must be at least {MIN_TOKEN_CHARS} characters; "
                'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if digest(token) in grants:
            raise CodesearchError(f"{source} line {number}: this token is given twice; give each token once")
        grants[digest(token)] = Grant(frozenset(repos) or None)
    if not grants:
        raise CodesearchError(f"{source} holds no token; write one per line, each optionally followed by the repositories it may read")
    return grants


def load_tokens(token_file: Path | None) -> dict[str, Grant] | None:
    """Tokens from `--token-file`, else from $CODESEARCH_TOKENS (same format); None when neither is given."""
    if token_file is not None:
        try:
            return parse_tokens(token_file.read_text(encoding="utf-8"), str(token_file))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise CodesearchError(f"cannot read the token file {token_file}: {reason}") from None
    text = os.environ.get(ENV_TOKENS)
    return parse_tokens(text, f"${ENV_TOKENS}") if text and text.strip() else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`: then the server needs no token."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RateLimit:
    """A token bucket per client: `rate` requests a second, bursts up to `burst`.

    Used from the event loop's thread only, so it needs no lock.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def delay(self, client: str, now: float) -> float:
        """0 when `client` may go now (its request is counted); else the seconds until it may."""
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class ServedIndex:
    """The local index and its one Searcher, opened on first use: the server may start before
    the index exists, and answers 503 until it does."""

    def __init__(self, root: Path, index_dir: Path | None) -> None:
        self.root = root
        self.explicit = index_dir
        self._searcher: Searcher | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, action: Callable[[Searcher], T]) -> T:
        """`action` on a worker thread, one at a time (the Searcher's one SQLite connection);
        the limiter queues the others in the event loop rather than on blocked threads."""
        if self._limiter is None:  # made in the event loop: anyio ties it to the running backend
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(self.call, action, limiter=self._limiter)

    def call(self, action: Callable[[Searcher], T]) -> T:
        """`action` on the Searcher; a failure of the index itself is a 503, after which the
        Searcher is opened anew (a damaged database may have been rebuilt meanwhile)."""
        searcher = self.open()
        try:
            return action(searcher)
        except (sqlite3.DatabaseError, OSError) as exc:
            self.close()
            raise ApiError(503, failure_message(exc)) from None
        except CodesearchError as exc:
            raise ApiError(400, str(exc)) from None

    def open(self) -> Searcher:
        if self._searcher is None:
            try:
                self._searcher = Searcher(self.located(), on_notice=log.warning)
            except EXPECTED_FAILURES as exc:
                raise ApiError(503, failure_message(exc)) from None
        return self._searcher

    def located(self) -> Path:
        """`--index` (or $CODESEARCH_INDEX), else the index found walking up from the root, as `ask` finds it."""
        return find_index(self.explicit, start=self.root)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None


class Api:
    """The /api endpoints over one served index."""

    def __init__(self, index: ServedIndex) -> None:
        self.index = index

    async def search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "")
        k = _number(params, "k", MAX_K) or DEFAULT_K
        mode, task = params.get("mode") or "hybrid", params.get("task") or None
        language, paths = params.get("lang") or None, params.getlist("path")
        _check_repo(request)

        def act(searcher: Searcher) -> dict:
            try:
                result = searcher.search(query, k, mode=mode, task=task, language=language, path_glob=paths or None)
            except CodesearchError as exc:
                raise ApiError(413 if len(query.strip()) > MAX_QUERY_CHARS else 400, str(exc)) from None
            return _answer(request, result, repo_name(searcher))

        return _json(await self.index.run(act))

    async def similar(self, request: Request) -> Response:
        params = request.query_params
        path = _relative_path(params)
        line = _number(params, "line")
        k = _number(params, "k", MAX_K) or DEFAULT_K
        language, paths = params.get("lang") or None, params.getlist("path_glob")
        _check_repo(request)

        def act(searcher: Searcher) -> dict:
            if not _shows(request, repo_name(searcher)):
                raise ApiError(404, f"{path} is not in the index")
            try:
                result = searcher.similar(path, line, k, language=language, path_glob=paths or None)
            except CodesearchError as exc:
                raise ApiError(400 if path in searcher.store.file_states([path]) else 404, str(exc)) from None
            return _answer(request, result, repo_name(searcher))

        return _json(await self.index.run(act))

    async def file(self, request: Request) -> Response:
        params = request.query_params
        path = _relative_path(params)
        start = _number(params, "start") or 1
        end = _number(params, "end")
        _check_repo(request)
        return _json(await self.index.run(lambda searcher: _file_lines(request, searcher, path, start, end)))

    async def status(self, request: Request) -> Response:
        """What `status --json` prints, for a token that may read the served repository."""
        name = await self.index.run(repo_name)
        if not _grant(request).allows(name):
            raise ApiError(403, "this token may read no repository served here")
        info = await anyio.to_thread.run_sync(lambda: _status(self.index))
        return _json({**info, "repo": name})

    async def openapi(self, _request: Request) -> Response:
        return _json(openapi_document())


def _status(index: ServedIndex) -> dict:
    """`index_status` walks the tree with a connection of its own, so it runs beside searches."""
    try:
        return index_status(index.located()).__dict__
    except EXPECTED_FAILURES as exc:
        raise ApiError(503, failure_message(exc)) from None


def repo_name(searcher: Searcher) -> str:
    """A local index's repository is its indexed root, named by its directory."""
    return searcher.root.name


def _check_repo(request: Request) -> None:
    """A `repo=` the token was not given is refused whether or not it is served, so the refusal reveals nothing."""
    asked = request.query_params.get("repo")
    if asked and not _grant(request).allows(asked):
        raise ApiError(403, f"this token may not read repository {asked!r}")


def _shows(request: Request, repo: str) -> bool:
    """Whether this request sees `repo`: its token may read it, and `repo=` (when given) names it."""
    asked = request.query_params.get("repo")
    return _grant(request).allows(repo) and asked in (None, "", repo)


def _grant(request: Request) -> Grant:
    return request.scope.get("state", {}).get("grant", EVERYTHING)


def _answer(request: Request, result: SearchResult, repo: str) -> dict:
    """`ask --json`'s object (SearchResult.to_dict, as the CLI prints it), each hit naming its
    repository; no hits from a repository this request does not see."""
    answer = result.to_dict()
    answer["results"] = [{**hit, "repo": repo} for hit in answer["results"]] if _shows(request, repo) else []
    return answer


def _file_lines(request: Request, searcher: Searcher, path: str, start: int, end: int | None) -> dict:
    """Lines `start`..`end` of an indexed file as it is on disk now (`changed`: since indexing)."""
    repo = repo_name(searcher)
    state = searcher.store.file_states([path]).get(path) if _shows(request, repo) else None
    if state is None:
        raise ApiError(404, f"{path} is not in the index")
    abspath = searcher.root / path
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


def build_app(index: ServedIndex, grants: dict[str, Grant] | None, rate: float, loopback: bool) -> ASGIApp:
    """The API and the page behind the Guard: `rate` requests a second per client, bursts of
    twice that (a page load is four requests; at least one), 0 for no limit; a loopback server
    without tokens answers loopback host names only."""
    api = Api(index)
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
    root: Path,
    *,
    index_dir: Path | None,
    host: str,
    port: int,
    token_file: Path | None,
    rate: float,
    on_ready: Callable[[Path, str], None],
    on_notice: Callable[[str], None],
) -> None:
    """Serve until Ctrl-C or SIGTERM. `on_ready` hears the root served and the URL once the
    port is bound; `on_notice` hears that there is no index yet (the server answers 503 until
    `index` or `watch` builds one: a service started before its index, or beside the first
    `index`, must not need a restart)."""
    root = root.absolute()
    if not root.is_dir():
        raise CodesearchError(f"path not found or not a directory: {root}")
    grants = load_tokens(token_file)
    loopback = is_loopback(host)
    if grants is None and not loopback:
        raise CodesearchError(
            f"refusing to serve on {host} without tokens: anyone who reaches it could read the code; "
            f"give --token-file FILE (or ${ENV_TOKENS}), one bearer token per line"
        )
    index = ServedIndex(root, index_dir)
    try:
        root = index.open().root
    except ApiError as exc:
        on_notice(f"{exc}; serving anyway, /api answers 503 until the index is built")
    sock = _listen(host, port)
    config = uvicorn.Config(
        build_app(index, grants, rate, loopback), log_level="warning", access_log=False, lifespan="off",
        server_header=False, timeout_graceful_shutdown=SHUTDOWN_WAIT_S, h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    on_ready(root, _url(host, sock.getsockname()[1]))
    try:
        with _sigterm_interrupts():
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        index.close()


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
                _param("path_glob", "array", paths), repo,
            ], "Result"),
            "/api/file": _get("Lines of an indexed file as it is on disk.", [
                file_path, _param("start", "integer", "First line (default 1)."),
                _param("end", "integer", f"Last line (default: the end; at most {MAX_FILE_LINES:,} lines come back)."), repo,
            ], None),
            "/api/status": _get("What `codesearch status --json` prints, with the repo's name.", [], None),
        },
    }


def _param(name: str, kind: str, description: str, required: bool = False) -> dict:
    schema: dict = {"type": kind, "items": {"type": "string"}} if kind == "array" else {"type": kind}
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _get(summary: str, parameters: list[dict], schema: str | None) -> dict:
    body = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "object"}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    statuses = {"400": "bad parameter", "401": "no or unknown token", "403": "repository not granted", "404": "not found",
                "413": "too large", "429": "rate limited", "503": "no index yet"}
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": body}}}}
    responses |= {code: {"description": text, **error} for code, text in statuses.items()}
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}
