"""gRPC ``twinwear.v1.IngestionService``: bad fields get INVALID_ARGUMENT with the field first in the
message, Kafka or MinIO down gets UNAVAILABLE, and past the concurrency bound RESOURCE_EXHAUSTED.
Calls need the metadata ``authorization: Bearer <token>`` (else UNAUTHENTICATED); server reflection
needs none."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import grpc
import structlog

from services.ingestion.accept import Accepted, Retired, UnknownProduct, failure_cause
from services.ingestion.domain import (
    InvalidProduct,
    ProductSubmission,
    colour_from_rgb,
    make_submission,
    parse_product_version,
    parse_sku,
)
from twinwear.v1 import ingestion_pb2, ingestion_pb2_grpc
from twinwear_runtime.auth import ApiTokens
from twinwear_runtime.grpc_server import start_grpc_server

MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a 20 MiB image and the other fields
SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name
SOURCE = "grpc"
log = structlog.get_logger()
Retire = Callable[[str, int, str], Retired]


def _abort_on_failure(error: Exception, context: grpc.ServicerContext) -> None:
    """Abort with UNAVAILABLE when a dependency is down, INTERNAL for a bug."""
    unavailable = failure_cause(error)
    if unavailable is None:
        context.abort(grpc.StatusCode.INTERNAL, "unexpected error, reported")
    context.abort(grpc.StatusCode.UNAVAILABLE, f"{unavailable.dependency} is unavailable, try again later")


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(self, accept: Callable[[ProductSubmission], Accepted], retire: Retire) -> None:
        self._accept = accept
        self._retire = retire

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
            _abort_on_failure(error, context)
        return ingestion_pb2.UpsertProductResponse(**dataclasses.asdict(accepted))

    def RetireProduct(  # noqa: N802 - generated gRPC method name
        self, request: ingestion_pb2.RetireProductRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.RetireProductResponse:
        try:
            retired = self._retire(parse_sku(request.sku), parse_product_version(request.product_version), SOURCE)
        except InvalidProduct as error:
            log.info("retirement rejected", field=error.field, reason=error.message)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownProduct as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except Exception as error:  # noqa: BLE001 - a bug must not take the server down; the caller sees INTERNAL
            _abort_on_failure(error, context)
        return ingestion_pb2.RetireProductResponse(**dataclasses.asdict(retired))


def start_grpc_api(
    port: int,
    accept: Callable[[ProductSubmission], Accepted],
    retire: Retire,
    tokens: ApiTokens,
    host: str = "0.0.0.0",
    max_in_flight: int = 16,
) -> grpc.Server:
    """Serve on a pool of ``max_in_flight`` threads; gRPC answers RESOURCE_EXHAUSTED to calls past it."""
    servicer = IngestionServicer(accept, retire)
    return start_grpc_server(
        SERVICE_NAME,
        lambda server: ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(servicer, server),
        tokens,
        port,
        host,
        max_in_flight,
        MAX_MESSAGE_BYTES,
    )
