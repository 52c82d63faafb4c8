"""How the HTTP and gRPC APIs answer each kind of failure, without servers: a fake accept raises."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from devkit.catalogue import draw_flat_lay
from services.ingestion.accept import Accepted
from services.ingestion.domain import InvalidProduct, ProductSubmission
from services.ingestion.grpc_api import IngestionServicer, start_grpc_api
from services.ingestion.http_api import HttpLimits, products_app
from twinwear.v1 import events_pb2, ingestion_pb2, ingestion_pb2_grpc
from twinwear_runtime.faults import Unavailable

PNG = draw_flat_lay("tee", "solid", "#336699")
BODY = {
    "sku": "TW-1",
    "title": "Tee",
    "colour": "#336699",
    "flat_lay": {"data_base64": base64.b64encode(PNG).decode()},
}


def accepting(created: bool = True):
    def accept(submission: ProductSubmission) -> Accepted:
        return Accepted(submission.sku, submission.revision, "event-1", created, 1)

    return accept


def failing(error: Exception):
    def accept(_: ProductSubmission) -> Accepted:
        raise error

    return accept


def post(accept, limits: HttpLimits | None = None, **request) -> httpx.Response:
    """POST /v1/products to the app in-process."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=products_app(accept, limits or HttpLimits()))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/products", **request)

    return asyncio.run(send())


@pytest.mark.parametrize(("created", "status"), [(True, 202), (False, 200)])
def test_created_is_202_and_nothing_new_is_200(created, status):
    response = post(accepting(created), json=BODY)
    assert response.status_code == status
    assert response.json()["created"] is created


@pytest.mark.parametrize("error", [Unavailable("kafka", "down"), ConnectionError("refused")])
def test_a_dependency_down_is_503_with_retry_after(error):
    response = post(failing(error), json=BODY)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_bug_is_500():
    response = post(failing(RuntimeError("bug")), json=BODY)
    assert response.status_code == 500
    assert response.json()["error"] == "internal"


def test_past_the_in_flight_bound_is_503_overloaded():
    response = post(accepting(), HttpLimits(max_in_flight=0), json=BODY)
    assert response.status_code == 503
    assert response.json()["error"] == "overloaded"
    assert "Retry-After" in response.headers


async def chunks() -> AsyncIterator[bytes]:
    for _ in range(100):
        yield b"x" * 1024


@pytest.mark.parametrize("content", [b"x" * 100 * 1024, chunks()], ids=["declared-length", "streamed"])
def test_a_body_past_the_limit_is_413_naming_body(content):
    response = post(accepting(), HttpLimits(max_body_bytes=10_000), content=content)
    assert response.status_code == 413
    assert response.json()["field"] == "body"


class Aborted(Exception):
    pass


class FakeContext:
    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise Aborted


def upsert(accept) -> FakeContext:
    request = ingestion_pb2.UpsertProductRequest(sku="TW-1", title="Tee", colour=events_pb2.Rgb(), flat_lay_image=PNG)
    context = FakeContext()
    with pytest.raises(Aborted):
        IngestionServicer(accept).UpsertProduct(request, context)
    return context


@pytest.mark.parametrize(
    ("error", "code", "details"),
    [
        (InvalidProduct("sku", "taken"), grpc.StatusCode.INVALID_ARGUMENT, "sku: taken"),
        (Unavailable("minio", "down"), grpc.StatusCode.UNAVAILABLE, "minio is unavailable"),
        (RuntimeError("bug"), grpc.StatusCode.INTERNAL, "unexpected error"),
    ],
)
def test_grpc_maps_each_failure_to_its_code(error, code, details):
    context = upsert(failing(error))
    assert context.code == code
    assert context.details.startswith(details)


def test_grpc_past_its_concurrency_bound_is_resource_exhausted():
    release = threading.Event()

    def slow(submission: ProductSubmission) -> Accepted:
        release.wait(10)
        return accepting()(submission)

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_grpc_api(port, slow, "127.0.0.1", max_in_flight=1)
    request = ingestion_pb2.UpsertProductRequest(sku="TW-1", title="Tee", colour=events_pb2.Rgb(), flat_lay_image=PNG)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
            first = stub.UpsertProduct.future(request, timeout=10)
            time.sleep(0.5)  # the first call holds the only slot
            with pytest.raises(grpc.RpcError) as refused:
                stub.UpsertProduct(request, timeout=10)
            release.set()
            assert first.result().created
    finally:
        release.set()
        server.stop(grace=None)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
