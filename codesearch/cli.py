"""The `codesearch` command: parse, call the library, render. No logic of its own."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

import typer
from rich.console import Console

from codesearch import render
from codesearch.embedders import EmbedderSpec, default_spec
from codesearch.errors import CodesearchError
from codesearch.files import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from codesearch.searcher import Searcher

app = typer.Typer(
    help="Semantic code search: index a repository, then ask for code by meaning.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
F = TypeVar("F", bound=Callable[..., object])

IndexOption = typer.Option(None, "--index", help="Index directory (or its root); default: found by walking up from here. Env: CODESEARCH_INDEX.")
JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of text.")


def friendly(command: F) -> F:
    """Turn every expected failure into one line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except CodesearchError as exc:
            _fail(str(exc), 1)
        except sqlite3.DatabaseError as exc:
            _fail(f"the index database is damaged ({exc}); rebuild it with `codesearch index --full`", 1)
        except KeyboardInterrupt:
            _fail("interrupted; finished batches are saved and the next run continues from there", 130)
        return None

    return wrapper  # type: ignore[return-value]


def _fail(message: str, code: int) -> None:
    typer.echo(f"codesearch: error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
@friendly
def index(
    path: Path = typer.Argument(Path("."), help="Repository root to index."),
    embedder: Optional[str] = typer.Option(None, "--embedder", "-e", help="static (built in, offline), jina (API; default when JINA_API_KEY is set) or local (Hugging Face)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name for the embedder (default: the embedder's own)."),
    dims: Optional[int] = typer.Option(None, "--dims", help="Vector dimensions (Matryoshka truncation where the model supports it)."),
    full: bool = typer.Option(False, "--full", help="Drop the index and rebuild it from scratch (also switches embedders)."),
    max_file_size: int = typer.Option(DEFAULT_MAX_BYTES, "--max-file-size", help="Skip files larger than this many bytes."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Where to keep the index (default: PATH/.codesearch). Env: CODESEARCH_INDEX."),
    truncate: bool = typer.Option(False, "--truncate", help="Cut chunks longer than the model's input limit instead of stopping (jina, local)."),
    device: Optional[str] = typer.Option(None, "--device", help="local: cuda, mps or cpu (default: the best available)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="local: CPU threads for the model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    as_json: bool = JsonOption,
) -> None:
    """Index (or incrementally re-index) a repository.

    Example: codesearch index ./myrepo
    """
    from codesearch.indexer import sync

    spec: EmbedderSpec | None = default_spec(embedder, model, dims) if (embedder or model or dims) else None
    with render.progress_bar(enabled=not quiet and not as_json) as on_progress:
        report = sync(
            path, index_dir=index_dir, spec=spec, full=full, max_bytes=max_file_size, progress=on_progress,
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
    k: int = typer.Option(10, "-k", "--top", help="How many results."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (e.g. python, go, typescript)."),
    path_glob: Optional[str] = typer.Option(None, "--path", help="Only paths matching this glob (e.g. 'src/*' or '*.py')."),
    task: Optional[str] = typer.Option(None, "--task", help="Force the query task: nl2code, code2code, qa, code2nl, code2completion (default: detected)."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), dense or lexical."),
    batch: Optional[str] = typer.Option(None, "--batch", help="File with one query per line ('-' for stdin); prints JSON Lines."),
    index_dir: Optional[Path] = IndexOption,
    as_json: bool = JsonOption,
) -> None:
    """Search the index for code matching QUERY.

    Example: codesearch ask "parse json" --lang python -k 5
    """
    from codesearch.searcher import Searcher

    options = {"mode": mode, "task": task, "language": lang, "path_glob": path_glob}
    if batch is not None:
        lines = _read_batch(batch)
        with Searcher(index_dir) as searcher:
            for line in lines:
                typer.echo(json.dumps(_batch_answer(searcher, line, k, options)))
        return
    if query is None:
        raise CodesearchError('empty query; say what you are looking for, e.g. codesearch ask "parse json"')
    with Searcher(index_dir) as searcher:
        result = searcher.search(query, k, **options)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        render.hits(Console(), result)


def _read_batch(source: str) -> list[str]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CodesearchError(f"cannot read batch file {source}: {exc.strerror}") from exc
    return text.splitlines()


def _batch_answer(searcher: Searcher, line: str, k: int, options: dict) -> dict:
    """One JSON object per input line, in order; a bad line answers with an error, not a crash."""
    try:
        return searcher.search(line, k, **options).to_dict()
    except CodesearchError as exc:
        return {"query": line, "error": str(exc)}


@app.command()
@friendly
def status(index_dir: Optional[Path] = IndexOption, as_json: bool = JsonOption) -> None:
    """Show what the index holds and how many files changed since the last sync.

    Example: codesearch status --json
    """
    from codesearch.status import index_status

    info = index_status(index_dir)
    if as_json:
        typer.echo(json.dumps(info.__dict__))
    else:
        render.status(Console(), info)


@app.command()
@friendly
def watch(
    path: Path = typer.Argument(Path("."), help="Repository root to watch."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each batch: paths, files and chunks changed, milliseconds."),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="Where the index lives (default: PATH/.codesearch). Env: CODESEARCH_INDEX."),
    poll: bool = typer.Option(False, "--poll", help="Poll every second instead of native file events (network file systems, some containers)."),
) -> None:
    """Keep the index fresh: sync now, then re-index files as they change, until Ctrl-C or SIGTERM.

    Example: codesearch watch ./myrepo --verbose
    """
    from codesearch.watcher import Notice, Watcher, stop_on_signals

    def show(notice: Notice) -> None:
        if notice.warning:
            typer.echo(f"codesearch: warning: {notice.message}", err=True)
        elif verbose:
            typer.echo(notice.message, err=True)

    watcher = Watcher(path, index_dir=index_dir, poll=poll, on_notice=show)
    with stop_on_signals(watcher):
        watcher.run()


def main() -> None:
    app()
