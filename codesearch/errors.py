"""Errors the user can act on; the CLI prints their message as one line."""


class CodesearchError(Exception):
    """A failure with a message meant for the user, never a traceback."""
