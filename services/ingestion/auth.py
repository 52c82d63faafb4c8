"""Bearer tokens of the HTTP and gRPC APIs, from ``TWINWEAR_API_TOKEN`` (comma-separated, so that a
new token can be added before the old one is removed)."""

from __future__ import annotations

import enum
import hmac

TOKEN_VARIABLE = "TWINWEAR_API_TOKEN"
NOT_CONFIGURED_MESSAGE = f"{TOKEN_VARIABLE} is not set: the API accepts no request until it is"


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    UNAUTHORIZED = "unauthorized"
    # No token configured: the operator's mistake, not the client's.
    NOT_CONFIGURED = "not_configured"


class ApiTokens:
    def __init__(self, configured: str | None) -> None:
        """``configured``: the variable's value, None when unset."""
        self._tokens = [t.strip().encode() for t in (configured or "").split(",") if t.strip()]

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    def check(self, authorization: str | None) -> Verdict:
        """Judge an ``Authorization`` header (HTTP) or ``authorization`` metadata (gRPC) value."""
        if not self._tokens:
            return Verdict.NOT_CONFIGURED
        scheme, _, presented = (authorization or "").strip().partition(" ")
        candidate = presented.strip().encode()
        # Compare against every token, in constant time, so timing tells nothing about which is close.
        matches = [hmac.compare_digest(candidate, token) for token in self._tokens]
        if scheme.lower() == "bearer" and any(matches):
            return Verdict.ALLOWED
        return Verdict.UNAUTHORIZED
