"""Bearer tokens of the services' HTTP and gRPC APIs: API tokens from ``TWINWEAR_API_TOKEN``
(comma-separated, so that a new token can be added before the old one is removed) and named admin
tokens from ``TWINWEAR_ADMIN_TOKENS`` (``name:token`` pairs; the name says who made a change)."""

from __future__ import annotations

import enum
import hmac

TOKEN_VARIABLE = "TWINWEAR_API_TOKEN"
ADMIN_TOKENS_VARIABLE = "TWINWEAR_ADMIN_TOKENS"
NOT_CONFIGURED_MESSAGE = f"{TOKEN_VARIABLE} is not set: the API accepts no request until it is"


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    UNAUTHORIZED = "unauthorized"
    # No token configured: the operator's mistake, not the client's.
    NOT_CONFIGURED = "not_configured"


def _presented(authorization: str | None) -> bytes | None:
    """The token of a ``Bearer <token>`` value, None for any other scheme."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    return presented.strip().encode() if scheme.lower() == "bearer" else None


def _matches(candidate: bytes | None, tokens: list[bytes]) -> list[bool]:
    # Compare against every token, in constant time, so timing tells nothing about which is close.
    matches = [hmac.compare_digest(candidate or b"", token) for token in tokens]
    return matches if candidate is not None else [False] * len(tokens)


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
        return Verdict.ALLOWED if any(_matches(_presented(authorization), self._tokens)) else Verdict.UNAUTHORIZED


class AdminTokens:
    """Named tokens that may do what API tokens may not; ``configured`` is ``name:token,...``."""

    def __init__(self, configured: str | None) -> None:
        pairs = [p.strip().partition(":") for p in (configured or "").split(",") if p.strip()]
        for name, colon, token in pairs:
            if not (name.strip() and colon and token.strip()):
                raise ValueError(f"{ADMIN_TOKENS_VARIABLE} must hold name:token pairs, got {name.strip()!r}...")
        self._names = [name.strip() for name, _, _ in pairs]
        self._tokens = [token.strip().encode() for _, _, token in pairs]

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    def name_of(self, authorization: str | None) -> str | None:
        """The admin's name when ``authorization`` carries one of the admin tokens, else None."""
        matches = _matches(_presented(authorization), self._tokens)
        return next((name for name, match in zip(self._names, matches, strict=True) if match), None)


class ApiOrAdminTokens:
    """Accepts an API token or an admin token (services whose admins use the same API)."""

    def __init__(self, api: ApiTokens, admin: AdminTokens) -> None:
        self.api = api
        self.admin = admin

    def check(self, authorization: str | None) -> Verdict:
        if self.admin.name_of(authorization) is not None:
            return Verdict.ALLOWED
        verdict = self.api.check(authorization)
        if verdict is Verdict.NOT_CONFIGURED and self.admin.configured:
            return Verdict.UNAUTHORIZED
        return verdict
