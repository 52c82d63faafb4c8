"""gRPC servers of the services: bearer tokens checked before a servicer sees a call
(UNAUTHENTICATED without a valid token, UNAVAILABLE while no token is configured, the operator's
mistake), a bounded thread pool, and server reflection, which needs no token."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent import futures
from typing import Protocol

import grpc
import structlog
from grpc_reflection.v1alpha import reflection

from twinwear_runtime.auth import NOT_CONFIGURED_MESSAGE, Verdict

log = structlog.get_logger()


class TokenCheck(Protocol):
    def check(self, authorization: str | None) -> Verdict: ...


def _refuse(code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler:
    def refuse(_request: bytes, context: grpc.ServicerContext) -> None:
        context.abort(code, details)

    return grpc.unary_unary_rpc_method_handler(refuse)


def authorization_of(context: grpc.ServicerContext) -> str | None:
    """The call's ``authorization`` metadata, for servicers that tell callers apart."""
    return dict(context.invocation_metadata() or ()).get("authorization")


class TokenInterceptor(grpc.ServerInterceptor):
    """Checks the bearer token of calls to ``service_name`` (a fully qualified gRPC service)."""

    def __init__(self, service_name: str, tokens: TokenCheck) -> None:
        self._prefix = f"/{service_name}/"
        self._tokens = tokens
        self._unauthenticated = _refuse(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")
        self._not_configured = _refuse(grpc.StatusCode.UNAVAILABLE, NOT_CONFIGURED_MESSAGE)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if not handler_call_details.method.startswith(self._prefix):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        verdict = self._tokens.check(metadata.get("authorization"))
        if verdict is Verdict.NOT_CONFIGURED:
            return self._not_configured
        if verdict is Verdict.UNAUTHORIZED:
            log.info("call refused: no valid bearer token", method=handler_call_details.method)
            return self._unauthenticated
        return continuation(handler_call_details)


def start_grpc_server(
    service_name: str,
    register: Callable[[grpc.Server], None],
    tokens: TokenCheck,
    port: int,
    host: str = "0.0.0.0",
    max_in_flight: int = 16,
    max_message_bytes: int = 4 * 1024 * 1024,
) -> grpc.Server:
    """Serve ``service_name`` (``register`` adds its servicer) on a pool of ``max_in_flight``
    threads; gRPC answers RESOURCE_EXHAUSTED to calls past it."""
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=max_in_flight,
            thread_name_prefix="grpc-api",
            # Threads start with no log fields: give them those bound so far (the service name).
            initializer=functools.partial(
                structlog.contextvars.bind_contextvars, **structlog.contextvars.get_contextvars()
            ),
        ),
        interceptors=[TokenInterceptor(service_name, tokens)],
        maximum_concurrent_rpcs=max_in_flight,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
        ],
    )
    register(server)
    reflection.enable_server_reflection((service_name, reflection.SERVICE_NAME), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
