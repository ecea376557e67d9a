"""Terminal output for people: progress bar, summaries, highlighted hits."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.syntax import Syntax

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
        f"indexed {report.files:,} files ({report.files_changed:,} changed, {report.files_deleted:,} deleted), "
        f"{report.chunks:,} chunks: {report.embedded:,} embedded now, {report.reused:,} reused",
    ]
    if skipped:
        parts.append(f"{skipped:,} skipped ({reasons})")
    if report.tokens:
        parts.append(f"{report.tokens:,} tokens")
    return "; ".join(parts) + f" in {report.seconds:.1f}s"


def hits(console: Console, result: SearchResult) -> None:
    if not result.hits:
        console.print(f"no results for {result.query!r}")
        return
    for hit in result.hits:
        symbol = f"  [bold]{hit.symbol}[/bold]" if hit.symbol else ""
        console.print(f"[cyan]{hit.path}[/cyan]:{hit.start_line}-{hit.end_line}{symbol}  [dim]{hit.kind} {hit.score:.4f}[/dim]")
        lines = hit.text.splitlines()
        snippet = "\n".join(lines[:SNIPPET_LINES]) + ("\n..." if len(lines) > SNIPPET_LINES else "")
        lexer = _LEXERS.get(hit.language, hit.language)
        console.print(Syntax(snippet, lexer, line_numbers=True, start_line=hit.start_line, word_wrap=False))
        console.print()


def status(console: Console, info: IndexStatus) -> None:
    last = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.last_sync)) if info.last_sync else "never"
    rows = [
        ("root", info.root), ("index", info.index_dir), ("embedder", info.embedder),
        ("files", f"{info.files:,}"), ("chunks", f"{info.chunks:,}"),
        ("size on disk", f"{info.bytes_on_disk / 1e6:.1f} MB"), ("last sync", last),
        ("changed since", f"{info.changed_since:,} files"), ("tokens used", f"{info.tokens_used:,}"),
    ]
    for name, value in rows:
        console.print(f"[bold]{name:>13}[/bold]  {value}")
