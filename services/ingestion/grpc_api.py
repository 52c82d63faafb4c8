"""gRPC ``twinwear.v1.IngestionService``; bad fields get INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent import futures

import grpc

from services.ingestion.accept import Accepted
from services.ingestion.domain import (
    InvalidProduct,
    ProductSubmission,
    colour_from_rgb,
    make_submission,
    parse_product_version,
)
from twinwear.v1 import ingestion_pb2, ingestion_pb2_grpc


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
        except InvalidProduct as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            accepted = self._accept(submission)
        except Exception:  # noqa: BLE001 - storage or Kafka down: the caller should retry
            context.abort(grpc.StatusCode.UNAVAILABLE, "product not accepted, try again later")
        return ingestion_pb2.UpsertProductResponse(**dataclasses.asdict(accepted))


def start_grpc_api(port: int, accept: Callable[[ProductSubmission], Accepted], host: str = "0.0.0.0") -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)],
    )
    ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(IngestionServicer(accept), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
