"""A service's gRPC server: bearer-token checked, with server reflection, on a bounded pool."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc
import structlog
from grpc_reflection.v1alpha import reflection

from twinwear_runtime.auth import ApiTokens, TokenInterceptor


def authorization_of(context: grpc.ServicerContext) -> str | None:
    """The call's ``authorization`` metadata (the interceptor already checked it)."""
    return dict(context.invocation_metadata() or ()).get("authorization")


def start_grpc_server(
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    tokens: ApiTokens,
    port: int,
    host: str = "0.0.0.0",
    max_in_flight: int = 16,
    options: Sequence[tuple[str, int]] = (),
) -> grpc.Server:
    """Serve what ``register`` adds on a pool of ``max_in_flight`` threads; gRPC answers
    RESOURCE_EXHAUSTED to calls past it. Calls to ``service_names`` need a token; reflection is open,
    so grpcurl and other generic clients can list them."""
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=max_in_flight,
            thread_name_prefix="grpc-api",
            # Threads start with no log fields: give them those bound so far (the service name).
            initializer=functools.partial(
                structlog.contextvars.bind_contextvars, **structlog.contextvars.get_contextvars()
            ),
        ),
        interceptors=[TokenInterceptor(tokens, service_names)],
        maximum_concurrent_rpcs=max_in_flight,
        options=list(options),
    )
    register(server)
    reflection.enable_server_reflection((*service_names, reflection.SERVICE_NAME), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
