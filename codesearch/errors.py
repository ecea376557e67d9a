"""Errors the user can act on; the CLI prints their message as one line."""

from __future__ import annotations

import sqlite3


class CodesearchError(Exception):
    """A failure with a message meant for the user, never a traceback."""


class TextTooLongError(CodesearchError):
    """A text exceeds the model's token limit; `index` names its file and symbol from `index`."""

    def __init__(self, index: int, tokens: int, limit: int) -> None:
        super().__init__(f"text {index} is {tokens} tokens long; the model takes at most {limit} (use --truncate to cut it)")
        self.index = index
        self.tokens = tokens
        self.limit = limit


class StoreUnavailable(CodesearchError):
    """The store cannot be reached or stopped answering (its server is down, the connection
    broke): nothing is wrong with the request, so a server answers 503 and asks again later."""


EXPECTED_FAILURES = (CodesearchError, sqlite3.DatabaseError, OSError)
"""What the CLI and `codesearch mcp`'s tools report as one line, never as a traceback."""


def failure_message(exc: CodesearchError | sqlite3.DatabaseError | OSError) -> str:
    """The one line a user reads for an expected failure.

    OSError is here for a full disk or a failing write: one line, and the index as it was.
    """
    if isinstance(exc, sqlite3.DatabaseError):
        from codesearch.store import database_error

        return str(database_error(exc))
    if isinstance(exc, OSError):
        return f"file system error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc)
