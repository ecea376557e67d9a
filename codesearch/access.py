"""Who may ask a server what, and how often: bearer tokens each limited to repositories, and a
token bucket per client.

A token file holds `TOKEN [REPO...]` per line (all repositories when none are named); only the
tokens' SHA-256 digests are kept. On a loopback address a server needs no token at all.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from codesearch.errors import CodesearchError

ENV_TOKENS = "CODESEARCH_TOKENS"
MIN_TOKEN_CHARS = 16
MAX_CLIENTS = 10_000
"""Rate-limit buckets kept; the least recently seen client's is dropped beyond this."""
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


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
