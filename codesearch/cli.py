"""The `codesearch` command: parse, call the library, render. No logic of its own."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

import typer
from typer.core import TyperGroup

from codesearch import __version__, render
from codesearch.errors import EXPECTED_FAILURES, CodesearchError, failure_message
from codesearch.tasks import TASK_NAMES

if TYPE_CHECKING:
    from rich.console import Console

    from codesearch.searcher import SearchResult, Searcher

NO_MATCH = 1
"""Exit status when nothing matched, as grep and ripgrep use it: 0 with hits, 2 on an error."""
FAILED = 2
F = TypeVar("F", bound=Callable[..., object])
_click = importlib.import_module(typer.BadParameter.__module__)
"""click's exceptions as this typer raises them: typer 0.28 carries its own copy of click."""


class _OneLineErrors(TyperGroup):
    """A bad flag or value (`-k 0`, an unknown option) as one line on stderr with status 2,
    like every other error, instead of a framed usage box."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except getattr(_click, "NoArgsIsHelpError", ()) as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except _click.ClickException as exc:
            context = getattr(exc, "ctx", None)
            command = f"codesearch {context.info_name}" if context is not None and context.parent else "codesearch"
            typer.echo(f"codesearch: error: {exc.format_message()} (see `{command} --help`)", err=True)
            sys.exit(FAILED)
        except typer.Abort:
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Semantic code search: index a repository, then ask for code by meaning.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"codesearch {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Semantic code search: index a repository, then ask for code by meaning.

    Exit status: 0 when something matched (or the command succeeded), 1 when `ask` or
    `similar` matched nothing, 2 on an error, as grep and ripgrep do.
    """

IndexOption = typer.Option(None, "--index", help="Index directory (or its root); default: found by walking up from here. Env: CODESEARCH_INDEX.")
StoreOption = typer.Option(
    None, "--store", envvar="CODESEARCH_STORE", show_envvar=False,
    help="A PostgreSQL store (postgresql://USER@HOST/DB) holding many repositories, instead of the local index. Env: CODESEARCH_STORE.",
)
ReposOption = typer.Option(None, "--repo", help="With --store: only this repository; repeat for several (default: all).")
RepoOption = typer.Option(None, "--repo", help="With --store: the repository's name (default: the directory's name).")
JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of text.")
KOption = typer.Option(10, "-k", "--top", min=1, help="How many results.")
LangOption = typer.Option(None, "--lang", help="Only this language, in any case or by alias (python, py, go, ts, c++).")
PathGlobOption = typer.Option(
    None, "--path",
    help="Only these paths; repeat for several. A directory (src, src/), a file name at any depth (sessions.py), "
    "a glob (*.py, 'src/*/io.py'), or !PATTERN to leave out (--path '!tests'). Patterns with a slash start "
    "from the current directory.",
)
VimgrepOption = typer.Option(False, "--vimgrep", help="One line per hit, path:line:col:text, for quickfix lists and grep-aware tools.")
FilesOnlyOption = typer.Option(False, "--files-only", "-l", help="Only the paths of the matching files, best first.")
ContextOption = typer.Option(None, "--context", "-C", min=0, help="N lines around each hit, from the file (the indexed text if it changed since).")
TEXT = "text"
"""The default output format: highlighted code for people."""


def friendly(command: F) -> F:
    """Turn every expected failure into one line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except EXPECTED_FAILURES as exc:
            _fail(failure_message(exc), FAILED)
        except KeyboardInterrupt:
            _fail("interrupted; finished batches are saved and the next run continues from there", 130)
        return None

    return wrapper  # type: ignore[return-value]


def _fail(message: str, code: int) -> None:
    typer.echo(f"codesearch: error: {message}", err=True)
    raise typer.Exit(code)


def _notice(message: str) -> None:
    """Something the library repaired on its own: worth a line on stderr, not a failure."""
    typer.echo(f"codesearch: notice: {message}", err=True)


@app.command()
@friendly
def index(
    path: Path = typer.Argument(Path("."), help="Repository root to index."),
    embedder: Optional[str] = typer.Option(None, "--embedder", "-e", help="static (built in, offline), jina (API; default when JINA_API_KEY is set) or local (Hugging Face)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name for the embedder (default: the embedder's own)."),
    dims: Optional[int] = typer.Option(None, "--dims", help="Vector dimensions (Matryoshka truncation where the model supports it)."),
    full: bool = typer.Option(False, "--full", help="Drop the index and rebuild it from scratch (also switches embedders)."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size", min=1, help="Skip files larger than this many bytes (default 1 MiB)."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Where to keep the index (default: PATH/.codesearch). Env: CODESEARCH_INDEX."),
    store: Optional[str] = StoreOption,
    repo: Optional[str] = RepoOption,
    truncate: bool = typer.Option(False, "--truncate", help="Cut chunks longer than the model's input limit instead of stopping (jina, local)."),
    device: Optional[str] = typer.Option(None, "--device", help="local: cuda, mps or cpu (default: the best available)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="local: CPU threads for the model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    as_json: bool = JsonOption,
) -> None:
    """Index (or incrementally re-index) a repository.

    Example: codesearch index ./myrepo   (or: --store postgresql://search@db/code --repo myrepo)
    """
    from codesearch.config import configured_sync

    flags = {"embedder": embedder, "model": model, "dims": dims, "max_file_size": max_file_size, "store": store}
    _repo_needs_store(store, [repo] if repo else [])
    with render.progress_bar(enabled=not quiet and not as_json) as on_progress:
        report = configured_sync(
            path, index_dir, flags, full=full, progress=on_progress, repo=repo,
            embedder_options={"truncate": truncate, "device": device, "threads": threads},
        )
    if as_json:
        typer.echo(json.dumps(report.__dict__))
    elif not quiet:
        typer.echo(render.sync_summary(report), err=True)


@app.command()
@friendly
def ask(
    query: Optional[str] = typer.Argument(None, help="What to look for: words (\"parse json\") or a code snippet."),
    k: int = KOption,
    lang: Optional[str] = LangOption,
    path_glob: Optional[list[str]] = PathGlobOption,
    task: Optional[str] = typer.Option(None, "--task", help=f"Force the query task: {', '.join(TASK_NAMES)} (default: detected)."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), dense or lexical."),
    batch: Optional[str] = typer.Option(None, "--batch", help="File with one query per line ('-' for stdin); prints JSON Lines."),
    index_dir: Optional[Path] = IndexOption,
    store: Optional[str] = StoreOption,
    repo: Optional[list[str]] = ReposOption,
    as_json: bool = JsonOption,
    vimgrep: bool = VimgrepOption,
    files_only: bool = FilesOnlyOption,
    context: Optional[int] = ContextOption,
) -> None:
    """Search the index for code matching QUERY. Exit status 1 when nothing matched.

    Example: codesearch ask "parse json" --lang py --path src/ --path '!tests' -k 5
    """
    from codesearch.searcher import Searcher

    output = _output_format(as_json, vimgrep, files_only, context)
    if batch is not None and output not in (TEXT, "--json"):
        raise CodesearchError(f"--batch prints JSON Lines; it does not take {output}")
    if batch is None and query is None:
        raise CodesearchError('empty query; say what you are looking for, e.g. codesearch ask "parse json"')
    lines = _read_batch(batch) if batch is not None else []
    with Searcher(_location(store, index_dir, repo), repos=repo or (), on_notice=_notice) as searcher:
        options = {"mode": mode, "task": task, "language": lang, "path_glob": path_glob, "here": _here(searcher)}
        if batch is None:
            matched = _show(searcher, searcher.search(query or "", k, **options), output, context)
        else:
            matched = False
            for line in lines:  # each answer as soon as it is known: a long batch streams
                answer = _batch_answer(searcher, line, k, options)
                typer.echo(json.dumps(answer))
                matched = matched or bool(answer.get("results"))
    _exit_unless(matched)


@app.command()
@friendly
def similar(
    location: str = typer.Argument(..., help="PATH:LINE (the code enclosing that line) or PATH (the whole file)."),
    k: int = KOption,
    lang: Optional[str] = LangOption,
    path_glob: Optional[list[str]] = PathGlobOption,
    index_dir: Optional[Path] = IndexOption,
    store: Optional[str] = StoreOption,
    repo: Optional[list[str]] = ReposOption,
    as_json: bool = JsonOption,
    vimgrep: bool = VimgrepOption,
    files_only: bool = FilesOnlyOption,
    context: Optional[int] = ContextOption,
) -> None:
    """Find code like the function (or other chunk) at PATH:LINE, or like the whole file PATH.

    PATH is relative to the current directory (or to the indexed root, or absolute).

    Example: codesearch similar src/parser.py:42 -k 5 --vimgrep
    """
    from codesearch.searcher import Searcher

    output = _output_format(as_json, vimgrep, files_only, context)
    path, line = _path_and_line(location)
    with Searcher(_location(store, index_dir, repo), repos=repo or (), on_notice=_notice) as searcher:
        found = searcher.similar(path, line, k, language=lang, path_glob=path_glob, here=_here(searcher))
        matched = _show(searcher, found, output, context)
    _exit_unless(matched)


def _location(store: str | None, index_dir: Path | None, repos: list[str] | None) -> str | Path | None:
    """The index a query reads: the store URL, else the local index directory."""
    from codesearch.stores import store_url

    _repo_needs_store(store, repos or [])
    if store is None:
        return index_dir
    try:
        return store_url(store)
    except ValueError as exc:
        raise CodesearchError(f"--store: {exc}") from None


def _repo_needs_store(store: str | None, repos: list[str]) -> None:
    if repos and store is None:
        raise CodesearchError("--repo names repositories of a --store (or CODESEARCH_STORE); a local index holds one")


def _here(searcher: Searcher) -> str:
    """Where `--path` patterns with a slash start: the current directory, relative to the root."""
    from codesearch.files import relative_inside

    return relative_inside(str(searcher.root), Path.cwd()) or ""


def _exit_unless(matched: bool) -> None:
    if not matched:
        raise typer.Exit(NO_MATCH)


def _output_format(as_json: bool, vimgrep: bool, files_only: bool, context: int | None) -> str:
    """The one output format asked for, by its flag; two at once is an error."""
    flags = {"--json": as_json, "--vimgrep": vimgrep, "--files-only": files_only, "--context": context is not None}
    chosen = [flag for flag, given in flags.items() if given]
    if len(chosen) > 1:
        raise CodesearchError(f"{' and '.join(chosen)} are different output formats; choose one")
    return chosen[0] if chosen else TEXT


def _show(searcher: Searcher, result: SearchResult, output: str, context: int | None) -> bool:
    """Print `result` in the chosen format; whether it holds any hit."""
    cwd = Path.cwd()
    if output == "--json":
        typer.echo(json.dumps(result.to_dict()))
    elif output == "--vimgrep":
        _echo(render.vimgrep(result, searcher.root, cwd))
    elif output == "--files-only":
        _echo(render.files_only(result, searcher.root, cwd))
    elif output == "--context":
        from codesearch.context import hit_contexts  # it reads files as the indexer does: loaded for this format only

        _echo(render.contexts(hit_contexts(searcher.store, searcher.root, result.hits, context or 0), searcher.root, cwd))
    elif result.hits:
        render.hits(_console(), result, searcher.root, cwd)
    else:
        typer.echo(f"codesearch: no results for {result.query!r}", err=True)
    return bool(result.hits)


def _console() -> Console:
    """rich's console, loaded only for the output drawn with it (plain formats never load rich)."""
    from rich.console import Console

    return Console()


def _echo(text: str) -> None:
    """No hits print nothing at all, as grep does, rather than an empty line."""
    if text:
        typer.echo(text)


def _path_and_line(text: str) -> tuple[str, int | None]:
    """`PATH:LINE` or `PATH`; a PATH that exists from here is made absolute, else it is taken
    as relative to the indexed root.
    """
    path, sep, line = text.rpartition(":")
    if not (sep and line.isdigit()):
        path, line = text, ""
    if Path(path).exists():
        path = str(Path(path).absolute())
    return path, int(line) if line else None


def _read_batch(source: str) -> list[str]:
    """The lines of the batch; bytes that are not UTF-8 are kept (as surrogates), so that their
    line is answered with an error and the others are still searched."""
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise CodesearchError(f"cannot read batch file {source}: {exc.strerror}") from exc
    return data.decode("utf-8", errors="surrogateescape").splitlines()


def _batch_answer(searcher: Searcher, line: str, k: int, options: dict) -> dict:
    """One JSON object per input line, in order; a bad line answers with an error, not a crash."""
    try:
        return searcher.search(line, k, **options).to_dict()
    except CodesearchError as exc:
        return {"query": line, "error": str(exc)}


@app.command()
@friendly
def status(
    path: Optional[Path] = typer.Argument(None, help="A directory in the indexed repository; its index is found walking up from there (default: here)."),
    index_dir: Optional[Path] = IndexOption,
    store: Optional[str] = StoreOption,
    repo: Optional[list[str]] = ReposOption,
    as_json: bool = JsonOption,
) -> None:
    """Show what the index holds and how many files changed since the last sync; with --store,
    each repository with its counts and last sync.

    Example: codesearch status ~/src/myrepo --json
    """
    if store is not None:
        _store_status(store, repo or [], as_json)
        return
    from codesearch.status import index_status

    _repo_needs_store(store, repo or [])
    info = index_status(index_dir, start=path)
    if as_json:
        typer.echo(json.dumps(info.__dict__))
    else:
        render.status(_console(), info)


def _store_status(store: str, repos: list[str], as_json: bool) -> None:
    from codesearch.status import store_status

    found = store_status(str(_location(store, None, repos)), repos)
    if as_json:
        typer.echo(json.dumps(found))
    else:
        render.store_status(_console(), found)


@app.command()
@friendly
def grant(
    role: str = typer.Argument(..., help="A PostgreSQL role (CREATE ROLE name LOGIN) that may read these repositories."),
    repos: list[str] = typer.Argument(..., help="Repository names, as `status --store` lists them."),
    store: Optional[str] = StoreOption,
) -> None:
    """Let ROLE search REPOS of a --store: row-level security shows it no row of any other repository.

    Example: codesearch grant alice api web --store postgresql://admin@db/code
    """
    _change_access(store, role, repos, take_back=False)


@app.command()
@friendly
def revoke(
    role: str = typer.Argument(..., help="A PostgreSQL role given repositories by `codesearch grant`."),
    repos: list[str] = typer.Argument(..., help="Repository names to take back."),
    store: Optional[str] = StoreOption,
) -> None:
    """Take REPOS of a --store back from ROLE; it sees nothing of them from its next query on.

    Example: codesearch revoke alice web --store postgresql://admin@db/code
    """
    _change_access(store, role, repos, take_back=True)


def _change_access(store: str | None, role: str, repos: list[str], *, take_back: bool) -> None:
    """Grant ROLE the REPOS of the store, or take them back, and say what changed."""
    from codesearch.stores import postgres

    if store is None:
        raise CodesearchError("grant and revoke manage a --store (or CODESEARCH_STORE); a local index has no roles")
    statements = (postgres.revoke_sql if take_back else postgres.grant_sql)(role, repos)
    postgres.change_access(str(_location(store, None, [])), statements, role, repos)
    typer.echo(f"{role} may {'no longer' if take_back else 'now'} read {', '.join(repos)}", err=True)


@app.command()
@friendly
def watch(
    path: Path = typer.Argument(Path("."), help="Repository root to watch."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each batch: paths, files and chunks changed, milliseconds."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Where the index lives (default: PATH/.codesearch). Env: CODESEARCH_INDEX."),
    store: Optional[str] = StoreOption,
    repo: Optional[str] = RepoOption,
    poll: bool = typer.Option(False, "--poll", help="Poll every second instead of native file events (network file systems, some containers)."),
) -> None:
    """Keep the index fresh: sync now, then re-index files as they change, until Ctrl-C or SIGTERM.

    Example: codesearch watch ./myrepo --verbose
    """
    from codesearch.config import load_config
    from codesearch.watcher import Notice, Watcher, stop_on_signals

    terminal = sys.stderr.isatty()

    def show(notice: Notice) -> None:
        """Warnings always; on a terminal also the first sync, watching and stopped (a person is
        there to wonder); each later batch only with -v, and nothing else for a log or a pipe."""
        if notice.warning:
            typer.echo(f"codesearch: warning: {notice.message}", err=True)
        elif verbose or (terminal and (notice.report is None or not watcher.ready.is_set())):
            typer.echo(notice.message, err=True)

    _repo_needs_store(store, [repo] if repo else [])
    settings = load_config(path, index_dir, {"store": store})
    watcher = Watcher(
        path, index_dir=index_dir, store=settings.store, repo=repo, poll=poll, on_notice=show, **settings.sync_options()
    )
    with stop_on_signals(watcher), settings.sources_named():
        watcher.run()


@app.command()
@friendly
def mcp(
    path: Path = typer.Argument(Path("."), help="Repository root to serve; its index is found as `ask` finds it, walking up from PATH."),
    index_dir: Optional[Path] = IndexOption,
    store: Optional[str] = StoreOption,
    repo: Optional[str] = RepoOption,
    watch: bool = typer.Option(False, "--watch", help="Keep the index fresh while serving, like `codesearch watch PATH`."),
) -> None:
    """Serve search, similar, status and reindex to coding agents over the Model Context Protocol (stdio).

    Example: codesearch mcp ~/src/myrepo --watch
    """
    from codesearch.mcp_server import serve

    _location(store, index_dir, [repo] if repo else [])
    serve(path, index_dir=index_dir, store=store, repo=repo, watch=watch)


@app.command()
@friendly
def serve(
    path: Optional[Path] = typer.Argument(None, help="Repository root to serve (default: here); its index is found as `ask` finds it, walking up from PATH. Not with --store."),
    index_dir: Optional[Path] = IndexOption,
    store: Optional[str] = StoreOption,
    repo: Optional[list[str]] = ReposOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; any but a loopback address needs --token-file."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    token_file: Optional[Path] = typer.Option(
        None, "--token-file",
        help="Bearer tokens, one per line, each optionally followed by the repositories it may read (all when none); # comments. Env: CODESEARCH_TOKENS (same format).",
    ),
    rate: float = typer.Option(20.0, "--rate", min=0.0, help="Requests a second per client (token, else address), bursts of twice that (at least one); 0: no limit."),
) -> None:
    """Serve search to many readers over HTTP: a JSON API under /api and a search page at /.

    Example: codesearch serve ~/src/myrepo --port 8765   (or: --store postgresql://search@db/code --repo api)
    """
    from codesearch.server import serve as serve_http

    def ready(served: str, url: str) -> None:
        typer.echo(f"serving {served} at {url} (Ctrl-C to stop)", err=True)

    def warn(message: str) -> None:
        typer.echo(f"codesearch: warning: {message}", err=True)

    serve_http(
        path, location=_location(store, index_dir, repo), repos=repo or [], host=host, port=port,
        token_file=token_file, rate=rate, on_ready=ready, on_notice=warn,
    )


@app.command()
@friendly
def config(
    path: Path = typer.Argument(Path("."), help="Repository root, as given to `codesearch index`."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="The index directory whose config.toml counts (default: PATH/.codesearch). Env: CODESEARCH_INDEX."),
    as_json: bool = JsonOption,
) -> None:
    """Print every effective setting and where it came from: environment, config file, pyproject.toml or default.

    Settings are read from CODESEARCH_<KEY> variables, INDEX/config.toml and \\[tool.codesearch] in
    PATH/pyproject.toml, in that order of precedence; flags of `index` override them all.

    Example: codesearch config . --json
    """
    from codesearch.config import load_config

    settings = load_config(path, index_dir)
    if as_json:
        typer.echo(json.dumps(settings.to_dict()))
    else:
        render.config(_console(), settings)


def main() -> None:
    app()
