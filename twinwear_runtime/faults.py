"""How the runtime tells faults apart, and how long it waits between tries.

- :class:`PermanentError`: the message itself is wrong (bad content, a reference to nothing);
  retrying cannot help, so it is dead-lettered at once.
- :class:`Unavailable`: a server the handler needs (broker, object store, Triton) is down, slow or
  overloaded. The consumer waits it out for as long as it takes and dead-letters nothing.
- Anything else is treated as a handler bug: retried a bounded number of times, counted durably,
  then dead-lettered.
"""

from __future__ import annotations

import socket


class PermanentError(Exception):
    """Retrying cannot help (bad content, a rejected request): dead-letter the message now."""


class Unavailable(Exception):
    """A dependency cannot serve now; ``dependency`` names it for logs and metrics."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency} unavailable: {message}")
        self.dependency = dependency


def as_unavailable(error: BaseException) -> Unavailable | None:
    """The error as an infrastructure fault, or None when it is not one. Adapters raise
    :class:`Unavailable` themselves; this also catches network errors they let through."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, ConnectionError | TimeoutError | socket.timeout):
        return Unavailable("network", str(error) or type(error).__name__)
    return None


def backoff_seconds(attempt: int, base: float, cap: float = 30.0) -> float:
    """Delay after failed attempt number ``attempt`` (1-based): base, 2*base, 4*base ... capped."""
    return min(cap, base * (2 ** min(attempt - 1, 30)))
