"""Terminal output for people: progress bar, summaries, highlighted hits.

rich is imported by the functions that draw with it: `ask --json`, `--vimgrep` and
`--files-only` print plain text and never load it."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from codesearch.text import plural

if TYPE_CHECKING:
    from rich.console import Console
    from rich.syntax import Syntax

    from codesearch.config import Config
    from codesearch.context import HitContext
    from codesearch.indexer import Progress as SyncProgress
    from codesearch.indexer import ProgressCallback, SyncReport
    from codesearch.searcher import SearchResult
    from codesearch.status import IndexStatus

SNIPPET_LINES = 15
_LEXERS = {"csharp": "csharp", "tsx": "tsx", "cpp": "cpp", "bash": "bash", "markdown": "markdown"}


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressCallback]:
    """A bar on stderr while a terminal watches; a no-op callback otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _p: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("discovering", total=None, detail="")

        def update(state: SyncProgress) -> None:
            if state.files_total is None:
                bar.update(task, description="discovering", detail=f"{state.files_found:,} files found")
                return
            detail = f"{state.chunks_written:,} chunks, {state.embedded:,} embedded"
            bar.update(task, description="indexing", total=state.files_total, completed=state.files_done, detail=detail)

        yield update


def sync_summary(report: SyncReport) -> str:
    skipped = sum(report.skipped.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items()))
    parts = [
        f"indexed {plural(report.files, 'file')} ({report.files_changed:,} changed, {report.files_deleted:,} deleted), "
        f"{report.chunks:,} chunks: {report.embedded:,} embedded now, {report.reused:,} reused",
    ]
    if skipped:
        parts.append(f"{skipped:,} skipped ({reasons})")
    if report.tokens:
        parts.append(f"{report.tokens:,} tokens")
    summary = "; ".join(parts) + f" in {report.seconds:.1f}s"
    if report.ignored:
        summary += "\ncodesearch: note: " + "; ".join(map(_left_out, report.ignored))
    return summary


def _left_out(rule: dict) -> str:
    """`.gitignore line 2 (/*) left out 12 directories and 40 files`, from SyncReport.ignored."""
    where = f"{rule['file']} line {rule['line']}" if rule["line"] else rule["file"]
    counts = []
    if rule["dirs"]:
        counts.append(f"{rule['dirs']:,} director{'y' if rule['dirs'] == 1 else 'ies'}")
    if rule["files"]:
        counts.append(plural(rule["files"], "file"))
    return f"{where} ({rule['pattern']}) left out {' and '.join(counts)}"


def hits(console: Console, result: SearchResult, root: Path, cwd: Path) -> None:
    """Each hit's `path:lines  symbol` (paths as `display_path` gives them; never wrapped, so
    a pipe gets one header line per hit) and its code."""
    from rich.markup import escape

    for hit in result.hits:
        symbol = f"  [bold]{escape(hit.symbol)}[/bold]" if hit.symbol else ""  # names may hold [markup]
        where = escape(display_path(root, hit.path, cwd))
        console.print(f"[cyan]{where}[/cyan]:{hit.start_line}-{hit.end_line}{symbol}  [dim]{hit.kind} {hit.score:.4f}[/dim]", soft_wrap=True)
        lines = hit.text.splitlines()
        snippet = "\n".join(lines[:SNIPPET_LINES]) + ("\n..." if len(lines) > SNIPPET_LINES else "")
        console.print(_snippet(console, snippet, hit.language, hit.start_line), markup=False, highlight=False, soft_wrap=True)
        console.print()


def _snippet(console: Console, snippet: str, language: str, start_line: int) -> "Syntax | str":
    """Highlighted for a terminal; plain numbered lines for a pipe or file, where colour is lost
    anyway and loading a lexer would cost a fresh `ask` a tenth of a second."""
    if console.is_terminal:
        from rich.syntax import Syntax

        return Syntax(snippet, _LEXERS.get(language, language), line_numbers=True, start_line=start_line, word_wrap=False)
    lines = snippet.split("\n")
    width = len(str(start_line + len(lines) - 1))
    return "\n".join(f"{number:>{width}}  {line}".rstrip() for number, line in enumerate(lines, start_line))


def display_path(root: Path, relpath: str, cwd: Path) -> str:
    """Relative to `cwd` when it lies inside the root, as grep prints paths; otherwise absolute,
    so that an editor or tool started from anywhere can still open the file.
    """
    base, here = root.resolve(), cwd.resolve()
    target = base / relpath
    return os.path.relpath(target, here) if here.is_relative_to(base) else str(target)


def vimgrep(result: SearchResult, root: Path, cwd: Path) -> str:
    """`path:line:col:text` per hit, the format of `grep -n`, ripgrep's --vimgrep and quickfix lists."""
    return "\n".join(
        f"{display_path(root, hit.path, cwd)}:{hit.start_line}:1:{_first_code_line(hit.text)}" for hit in result.hits
    )


def _first_code_line(text: str) -> str:
    return next((line.rstrip() for line in text.split("\n") if line.strip()), "")


def files_only(result: SearchResult, root: Path, cwd: Path) -> str:
    """Each file once, in the order of its best hit."""
    return "\n".join(dict.fromkeys(display_path(root, hit.path, cwd) for hit in result.hits))


def contexts(found: list[HitContext], root: Path, cwd: Path) -> str:
    """Per hit a header, then numbered lines: `>` marks the hit's own lines, a space the context."""
    return "\n\n".join(_context(context, root, cwd) for context in found)


def _context(context: HitContext, root: Path, cwd: Path) -> str:
    hit = context.hit
    symbol = f"  {hit.symbol}" if hit.symbol else ""
    note = "" if context.from_disk else "  [file changed since indexing: indexed text, no context]"
    header = f"{display_path(root, hit.path, cwd)}:{hit.start_line}-{hit.end_line}{symbol}  ({hit.kind} {hit.score:.4f}){note}"
    width = len(str(context.first_line + len(context.lines) - 1))
    rows = []
    for number, line in enumerate(context.lines, context.first_line):
        mark = ">" if hit.start_line <= number <= hit.end_line else " "
        rows.append(f"{mark} {number:>{width}}  {line}".rstrip())
    return "\n".join([header, *rows])


def config(console: Console, settings: Config) -> None:
    """Every setting, its value and where it came from."""
    from rich.markup import escape

    unset = {"model": "(the embedder's default)", "dims": "(the model's default)", "languages": "(all)", "store": "(the local index)"}
    console.print(f"[bold]{'root':>13}[/bold]  {escape(str(settings.root))}", highlight=False, soft_wrap=True)
    console.print(f"[bold]{'index':>13}[/bold]  {escape(str(settings.index_dir))}", highlight=False, soft_wrap=True)
    for key, entry in settings.to_dict()["settings"].items():
        value = entry["value"]
        shown = unset.get(key, "") if value is None else json.dumps(value) if isinstance(value, list) else str(value)
        console.print(f"[bold]{key:>13}[/bold]  {escape(shown):<28} [dim]{escape(entry['source'])}[/dim]", highlight=False, soft_wrap=True)


def status(console: Console, info: IndexStatus) -> None:
    from rich.markup import escape

    last = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.last_sync)) if info.last_sync else "never"
    rows = [
        ("root", info.root), ("index", info.index_dir), ("embedder", info.embedder),
        ("files", f"{info.files:,}"), ("chunks", f"{info.chunks:,}"),
        ("size on disk", f"{info.bytes_on_disk / 1e6:.1f} MB"), ("last sync", last),
        ("changed since", plural(info.changed_since, "file")), ("tokens used", f"{info.tokens_used:,}"),
    ]
    for name, value in rows:
        console.print(f"[bold]{name:>13}[/bold]  {escape(value)}", soft_wrap=True)



def store_status(console: Console, found: dict) -> None:
    """A store's repositories, one line each: name, files, chunks, last sync, root."""
    from rich.markup import escape

    console.print(f"[bold]{'store':>13}[/bold]  {escape(found['store'])}", soft_wrap=True)
    console.print(f"[bold]{'embedder':>13}[/bold]  {escape(found['embedder'] or '(none yet)')}", soft_wrap=True)
    for repo in found["repositories"]:
        last = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(repo["last_sync"])) if repo["last_sync"] else "never"
        console.print(
            f"[bold]{escape(repo['repo']):>13}[/bold]  {repo['files']:>8,} files {repo['chunks']:>10,} chunks  "
            f"synced {last}  {escape(repo['root'])}",
            soft_wrap=True, highlight=False,
        )
