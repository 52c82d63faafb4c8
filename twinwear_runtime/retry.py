"""Which failures are worth retrying, and how long to wait between attempts."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad content, a rejected request): dead-letter the message now."""


def backoff_seconds(attempt: int, base: float, cap: float = 10.0) -> float:
    """Delay after failed attempt number ``attempt`` (1-based): base, 2*base, 4*base ... capped."""
    return min(cap, base * (2 ** (attempt - 1)))
