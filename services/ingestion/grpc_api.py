"""gRPC ``twinwear.v1.IngestionService``: bad fields get INVALID_ARGUMENT with the field first in the
message, Kafka or MinIO down gets UNAVAILABLE, and past the concurrency bound RESOURCE_EXHAUSTED."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from concurrent import futures

import grpc
import structlog

from services.ingestion.accept import Accepted, failure_cause
from services.ingestion.domain import (
    InvalidProduct,
    ProductSubmission,
    colour_from_rgb,
    make_submission,
    parse_product_version,
)
from twinwear.v1 import ingestion_pb2, ingestion_pb2_grpc

MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a 20 MiB image and the other fields
log = structlog.get_logger()


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(self, accept: Callable[[ProductSubmission], Accepted]) -> None:
        self._accept = accept

    def UpsertProduct(  # noqa: N802 - generated gRPC method name
        self, request: ingestion_pb2.UpsertProductRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.UpsertProductResponse:
        try:
            if not request.HasField("colour"):
                raise InvalidProduct("colour", "is required")
            submission = make_submission(
                sku=request.sku,
                title=request.title,
                category=request.category,
                colour=colour_from_rgb(request.colour.r, request.colour.g, request.colour.b),
                flat_lay=request.flat_lay_image,
                source=request.source,
                product_version=parse_product_version(request.product_version),
            )
            accepted = self._accept(submission)
        except InvalidProduct as error:
            log.info("product rejected", field=error.field, reason=error.message)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down; the caller sees INTERNAL
            unavailable = failure_cause(error)
            if unavailable is None:
                context.abort(grpc.StatusCode.INTERNAL, "unexpected error, reported")
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{unavailable.dependency} is unavailable, try again later")
        return ingestion_pb2.UpsertProductResponse(**dataclasses.asdict(accepted))


def start_grpc_api(
    port: int, accept: Callable[[ProductSubmission], Accepted], host: str = "0.0.0.0", max_in_flight: int = 16
) -> grpc.Server:
    """Serve on a pool of ``max_in_flight`` threads; gRPC answers RESOURCE_EXHAUSTED to calls past it."""
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=max_in_flight,
            thread_name_prefix="grpc-api",
            # Threads start with no log fields: give them those bound so far (the service name).
            initializer=functools.partial(
                structlog.contextvars.bind_contextvars, **structlog.contextvars.get_contextvars()
            ),
        ),
        maximum_concurrent_rpcs=max_in_flight,
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
    )
    ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(IngestionServicer(accept), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
