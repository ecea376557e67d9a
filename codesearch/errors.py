"""Errors the user can act on; the CLI prints their message as one line."""


class CodesearchError(Exception):
    """A failure with a message meant for the user, never a traceback."""


class TextTooLongError(CodesearchError):
    """A text exceeds the model's token limit; `index` names its file and symbol from `index`."""

    def __init__(self, index: int, tokens: int, limit: int) -> None:
        super().__init__(f"text {index} is {tokens} tokens long; the model takes at most {limit} (use --truncate to cut it)")
        self.index = index
        self.tokens = tokens
        self.limit = limit
