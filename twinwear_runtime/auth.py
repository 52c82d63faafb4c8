"""Bearer tokens of the services' HTTP and gRPC APIs.

- API tokens (``TWINWEAR_API_TOKEN``, comma-separated, so that a new token can be added before the
  old one is removed) let clients call the APIs.
- Admin tokens (``TWINWEAR_ADMIN_TOKENS``, ``name:token,...``) let people make decisions (review,
  reports); the name says who decided, in logs and audit records.

An unset variable refuses every call with 503 / UNAVAILABLE: the operator's mistake, not the
client's. :class:`TokenInterceptor` checks gRPC calls of one service; reflection stays open.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Sequence

import grpc
import structlog

TOKEN_VARIABLE = "TWINWEAR_API_TOKEN"
ADMIN_TOKENS_VARIABLE = "TWINWEAR_ADMIN_TOKENS"
NOT_CONFIGURED_MESSAGE = f"{TOKEN_VARIABLE} is not set: the API accepts no request until it is"
log = structlog.get_logger()


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    UNAUTHORIZED = "unauthorized"
    # No token configured: the operator's mistake, not the client's.
    NOT_CONFIGURED = "not_configured"


class ApiTokens:
    """Tokens by the name of whoever holds them."""

    variable = TOKEN_VARIABLE

    def __init__(self, configured: str | None) -> None:
        """``configured``: the variable's value, None when unset."""
        self._tokens = [("api", t.strip().encode()) for t in (configured or "").split(",") if t.strip()]

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    @property
    def not_configured_message(self) -> str:
        return f"{self.variable} is not set: the API accepts no request until it is"

    def check(self, authorization: str | None) -> Verdict:
        """Judge an ``Authorization`` header (HTTP) or ``authorization`` metadata (gRPC) value."""
        if not self._tokens:
            return Verdict.NOT_CONFIGURED
        return Verdict.ALLOWED if self.holder(authorization) is not None else Verdict.UNAUTHORIZED

    def holder(self, authorization: str | None) -> str | None:
        """The name of the token presented, or None when it is none of them."""
        scheme, _, presented = (authorization or "").strip().partition(" ")
        candidate = presented.strip().encode()
        # Compare against every token, in constant time, so timing tells nothing about which is close.
        matches = [name for name, token in self._tokens if hmac.compare_digest(candidate, token)]
        return matches[0] if scheme.lower() == "bearer" and matches else None


class AdminTokens(ApiTokens):
    """``name:token,...``; a token without a name is refused at start-up."""

    variable = ADMIN_TOKENS_VARIABLE

    def __init__(self, configured: str | None) -> None:
        self._tokens = []
        for entry in (e.strip() for e in (configured or "").split(",")):
            if not entry:
                continue
            name, separator, token = entry.partition(":")
            if not separator or not name.strip() or not token.strip():
                raise ValueError(f"{ADMIN_TOKENS_VARIABLE}: each entry must be name:token, got {name.strip()!r}...")
            self._tokens.append((name.strip(), token.strip().encode()))


class ApiOrAdminTokens(ApiTokens):
    """Either an API token or an admin token lets a client call; ``admin`` tells who decided."""

    def __init__(self, api: ApiTokens, admin: AdminTokens) -> None:
        self.api, self.admin = api, admin
        self._tokens = [*api._tokens, *admin._tokens]
        self.variable = f"{api.variable} or {admin.variable}"


def _refuse(code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler:
    def refuse(_request: bytes, context: grpc.ServicerContext) -> None:
        context.abort(code, details)

    return grpc.unary_unary_rpc_method_handler(refuse)


class TokenInterceptor(grpc.ServerInterceptor):
    """Checks the bearer token of calls to ``services`` (full names) before the servicer sees
    them; other services (reflection) are open."""

    def __init__(self, tokens: ApiTokens, services: Sequence[str]) -> None:
        self._tokens = tokens
        self._prefixes = tuple(f"/{name}/" for name in services)
        self._unauthenticated = _refuse(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")
        self._not_configured = _refuse(grpc.StatusCode.UNAVAILABLE, tokens.not_configured_message)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if not handler_call_details.method.startswith(self._prefixes):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        verdict = self._tokens.check(metadata.get("authorization"))
        if verdict is Verdict.NOT_CONFIGURED:
            return self._not_configured
        if verdict is Verdict.UNAUTHORIZED:
            log.info("call refused: no valid bearer token", method=handler_call_details.method)
            return self._unauthenticated
        return continuation(handler_call_details)
