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
from services.ingestion.accept import Accepted, Retired, UnknownProduct
from services.ingestion.domain import InvalidProduct, ProductSubmission
from services.ingestion.grpc_api import IngestionServicer, start_grpc_api
from services.ingestion.http_api import HttpLimits, products_app
from twinwear.v1 import events_pb2, ingestion_pb2, ingestion_pb2_grpc
from twinwear_runtime.auth import ApiTokens, Verdict
from twinwear_runtime.faults import Unavailable

PNG = draw_flat_lay("tee", "solid", "#336699")
TOKEN = "unit-token"
TOKENS = ApiTokens(f"old-token, {TOKEN}")
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {TOKEN}"),)
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
    def accept(*_: object) -> Accepted:
        raise error

    return accept


def retiring(sku: str, version: int, source: str) -> Retired:
    return Retired(sku, "event-r", True, version or 1)


def post(
    accept,
    limits: HttpLimits | None = None,
    retire=retiring,
    tokens: ApiTokens = TOKENS,
    path: str = "/v1/products",
    **request,
) -> httpx.Response:
    """POST to the app in-process, with the token unless ``headers`` are given."""
    request.setdefault("headers", AUTH)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=products_app(accept, retire, tokens, limits or HttpLimits()))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, **request)

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
        IngestionServicer(accept, retiring).UpsertProduct(request, context)
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
    server = start_grpc_api(port, slow, retiring, TOKENS, "127.0.0.1", max_in_flight=1)
    request = ingestion_pb2.UpsertProductRequest(sku="TW-1", title="Tee", colour=events_pb2.Rgb(), flat_lay_image=PNG)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
            first = stub.UpsertProduct.future(request, metadata=GRPC_AUTH, timeout=10)
            time.sleep(0.5)  # the first call holds the only slot
            with pytest.raises(grpc.RpcError) as refused:
                stub.UpsertProduct(request, metadata=GRPC_AUTH, timeout=10)
            release.set()
            assert first.result().created
    finally:
        release.set()
        server.stop(grace=None)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (f"Bearer {TOKEN}", Verdict.ALLOWED),
        ("bearer old-token", Verdict.ALLOWED),
        (None, Verdict.UNAUTHORIZED),
        ("", Verdict.UNAUTHORIZED),
        (TOKEN, Verdict.UNAUTHORIZED),
        (f"Basic {TOKEN}", Verdict.UNAUTHORIZED),
        ("Bearer ", Verdict.UNAUTHORIZED),
        (f"Bearer {TOKEN}x", Verdict.UNAUTHORIZED),
        ("Bearer ünicode", Verdict.UNAUTHORIZED),
    ],
)
def test_tokens_accept_only_a_configured_bearer_token(header, verdict):
    assert TOKENS.check(header) is verdict


@pytest.mark.parametrize("configured", [None, "", " , "])
def test_no_token_configured_is_a_verdict_of_its_own(configured):
    assert ApiTokens(configured).check(f"Bearer {TOKEN}") is Verdict.NOT_CONFIGURED


@pytest.mark.parametrize("path", ["/v1/products", "/v1/products/TW-1/retire"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}], ids=["missing", "wrong"])
def test_without_a_valid_token_http_is_401_before_the_body_is_read(path, headers):
    def unread() -> AsyncIterator[bytes]:
        async def body() -> AsyncIterator[bytes]:
            raise AssertionError("the body was read")
            yield b""

        return body()

    response = post(accepting(), path=path, headers=headers, content=unread())
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_configured_token_http_is_503_naming_the_variable():
    response = post(accepting(), tokens=ApiTokens(None), json=BODY)
    assert response.status_code == 503
    assert "TWINWEAR_API_TOKEN" in response.json()["message"]


@pytest.mark.parametrize(
    ("content", "version"), [(b"", 0), (b'{"product_version": 1767225600000000}', 1767225600000000), (b"{}", 0)]
)
def test_retire_takes_an_optional_version(content, version):
    seen = []

    def retire(sku: str, product_version: int, source: str) -> Retired:
        seen.append((sku, product_version, source))
        return Retired(sku, "event-r", True, product_version or 1)

    response = post(accepting(), retire=retire, path="/v1/products/TW-1/retire", content=content)
    assert response.status_code == 202, response.text
    assert seen == [("TW-1", version, "http-json")]


@pytest.mark.parametrize(
    ("path", "content", "status", "field"),
    [
        ("/v1/products/TW-1/retire", b"[]", 400, "body"),
        ("/v1/products/TW-1/retire", b'{"product_version": "soon"}', 400, "product_version"),
        ("/v1/products/-bad/retire", b"", 400, "sku"),
        ("/v1/products/TW-1/retire", b"x" * 5000, 413, "body"),
    ],
)
def test_a_bad_retirement_is_named(path, content, status, field):
    response = post(accepting(), path=path, content=content)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


def test_retiring_an_unknown_sku_is_404_naming_it():
    response = post(accepting(), retire=failing(UnknownProduct("TW-9")), path="/v1/products/TW-9/retire")
    assert response.status_code == 404
    assert "TW-9" in response.json()["message"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnknownProduct("TW-1"), grpc.StatusCode.NOT_FOUND),
        (Unavailable("kafka", "down"), grpc.StatusCode.UNAVAILABLE),
        (RuntimeError("bug"), grpc.StatusCode.INTERNAL),
    ],
)
def test_grpc_retire_maps_each_failure_to_its_code(error, code):
    context = FakeContext()
    with pytest.raises(Aborted):
        IngestionServicer(accepting(), failing(error)).RetireProduct(
            ingestion_pb2.RetireProductRequest(sku="TW-1"), context
        )
    assert context.code == code
