"""The ingestion APIs as a process on the real stack: limits, slow and oversized bodies, bad images,
hostile JSON and overload all get an answer that names the cause, never a reset or a 5xx; bearer
tokens, retirement and reflection."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from devkit.ingest_client import ApiResponse, retire_product
from devkit.local_services import LocalService, start_services
from tests.bad_images import BAD_FLAT_LAYS
from tests.integration.ingestion_service import (
    API_TOKEN,
    AUTH,
    BODY_TIMEOUT_SECONDS,
    ENV,
    FLAT_LAY_PNG,
    GRPC_AUTH,
    IngestionUnderTest,
    product_body,
    unique_sku,
)
from twinwear.v1 import events_pb2, ingestion_pb2, ingestion_pb2_grpc

pytestmark = pytest.mark.integration
MAX_BODY_BYTES = 30 * 1024 * 1024
AUTH_LINE = f"Authorization: Bearer {API_TOKEN}\r\n".encode()


def post(ingestion: IngestionUnderTest, body: dict[str, object] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{ingestion.http_url}/v1/products", content=content, headers=AUTH, timeout=30)


def raw_exchange(ingestion: IngestionUnderTest, head: bytes, send_body: object = None) -> tuple[bytes, float]:
    """Send ``head`` (request line and headers) on a raw socket, then run ``send_body(sock)`` on a
    thread; return the start of the answer and the seconds it took."""
    address = urlsplit(ingestion.http_url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(head)
        if callable(send_body):
            threading.Thread(target=send_body, args=(sock,), daemon=True).start()
        answer = read_answer(sock)
        return answer, time.monotonic() - started


def read_answer(sock: socket.socket) -> bytes:
    """One HTTP answer: its head, then as many bytes as its Content-Length says."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer, after {answer!r}"
        answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    while lengths and len(body) < int(lengths[0]):
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer
    return int(answer.split(b" ", 2)[1])


def json_of(answer: bytes) -> dict[str, object]:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_a_valid_product_is_202_then_200_when_sent_again(ingestion):
    body = product_body(unique_sku())
    first, again = post(ingestion, body), post(ingestion, body)
    assert first.status_code == 202, first.text
    assert first.json()["created"] is True
    assert again.status_code == 200
    assert again.json() | {"created": True} == first.json()


def test_an_older_version_is_200_and_stale(ingestion):
    sku = unique_sku()
    newer = post(ingestion, product_body(sku, product_version=1_800_000_000_000_000))
    older = post(ingestion, product_body(sku, title="Older tee", product_version=1_700_000_000_000_000))
    assert newer.status_code == 202
    assert older.status_code == 200
    assert older.json()["stale"] is True and older.json()["created"] is False


def test_200_concurrent_posts_are_all_answered(ingestion):
    bodies = [json.dumps(product_body(unique_sku("LOAD"))).encode() for _ in range(200)]
    start = threading.Barrier(len(bodies))
    # One client, with a connection for each request: all 200 arrive at once.
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:

        def send(content: bytes) -> httpx.Response:
            start.wait()
            return client.post(f"{ingestion.http_url}/v1/products", content=content, headers=AUTH)

        with ThreadPoolExecutor(len(bodies)) as pool:
            responses = list(pool.map(send, bodies))  # a reset would raise here
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {202, 503}, statuses
    assert statuses.count(202) >= 32
    for response in responses:
        if response.status_code == 503:
            assert response.json()["error"] == "overloaded"
            assert int(response.headers["Retry-After"]) > 0


def test_a_body_that_trickles_in_is_cut_off_with_408(ingestion):
    def trickle(sock: socket.socket) -> None:
        try:
            for _ in range(20):
                sock.sendall(b"{")
                time.sleep(0.5)
        except OSError:
            return  # the server answered and closed

    head = (
        b"POST /v1/products HTTP/1.1\r\nHost: test\r\n"
        + AUTH_LINE
        + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    answer, seconds = raw_exchange(ingestion, head, trickle)
    assert status_of(answer) == 408
    assert json_of(answer)["field"] == "body"
    assert BODY_TIMEOUT_SECONDS - 0.5 < seconds < BODY_TIMEOUT_SECONDS + 2


def test_a_body_declared_too_large_is_413_before_it_is_sent(ingestion):
    head = b"POST /v1/products HTTP/1.1\r\nHost: test\r\n" + AUTH_LINE + b"Content-Length: 1073741824\r\n\r\n"
    answer, seconds = raw_exchange(ingestion, head)
    assert status_of(answer) == 413
    assert json_of(answer)["field"] == "body"
    assert seconds < 2


def test_a_streamed_body_is_413_once_past_the_limit_whatever_its_length(ingestion):
    chunk = b"x" * (1024 * 1024)

    def stream(sock: socket.socket) -> None:
        # Chunked, no length: one chunk past the limit and then nothing, not even the last chunk.
        try:
            for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            return

    head = b"POST /v1/products HTTP/1.1\r\nHost: test\r\n" + AUTH_LINE + b"Transfer-Encoding: chunked\r\n\r\n"
    answer, _ = raw_exchange(ingestion, head, stream)
    assert status_of(answer) == 413
    assert json_of(answer)["field"] == "body"


@pytest.mark.parametrize(
    "head",
    [
        "POST /v1/products HTTP/1.1\r\nHost: test\r\nContent-Length: ²\r\n".encode() + AUTH_LINE + b"\r\n",
        b"POST /v1/products HTTP/1.1\r\nHost: test\r\n" + AUTH_LINE + b"Content-Length: -5\r\n\r\n",
        b"POST /v1/products HTTP/1.1\r\nHost: test\r\n" + AUTH_LINE + b"Content-Length: 12abc\r\n\r\n",
        b"POST /v1/products HTTP/1.1\r\nHost: test\r\n" + AUTH_LINE + b"\r\n",
    ],
    ids=["superscript-two", "negative", "not-a-number", "missing"],
)
def test_a_bad_or_missing_content_length_gets_a_4xx(ingestion, head):
    answer, _ = raw_exchange(ingestion, head)
    assert 400 <= status_of(answer) < 500


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"sku": ' + b"9" * 5000 + b"}", "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "body"),
        (b'{"sku": "\xff\xfe"}', "body"),
        (b"123", "body"),
        (json.dumps(product_body("PV-1", product_version="1")).encode(), "product_version"),
        (json.dumps(product_body("PV-2", product_version=1.7e15)).encode(), "product_version"),
        (json.dumps(product_body("PV-3", product_version=True)).encode(), "product_version"),
        (json.dumps(product_body("PV-4", product_version=int("9" * 4000))).encode(), "product_version"),
    ],
    ids=[
        "5000-digits",
        "deep-arrays",
        "deep-objects",
        "bad-utf8",
        "not-an-object",
        "pv-str",
        "pv-float",
        "pv-bool",
        "pv-huge",
    ],
)
def test_hostile_json_is_400_naming_the_field(ingestion, raw, field):
    response = post(ingestion, raw)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize("image", BAD_FLAT_LAYS.values(), ids=BAD_FLAT_LAYS.keys())
def test_bad_images_are_refused_naming_flat_lay_over_http(ingestion, image):
    response = post(ingestion, product_body(unique_sku(), flat_lay={"data_base64": base64.b64encode(image).decode()}))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "flat_lay"


@pytest.fixture(scope="module")
def stub(ingestion) -> ingestion_pb2_grpc.IngestionServiceStub:
    channel = grpc.insecure_channel(ingestion.grpc_target)
    yield ingestion_pb2_grpc.IngestionServiceStub(channel)
    channel.close()


def grpc_request(image: bytes) -> ingestion_pb2.UpsertProductRequest:
    return ingestion_pb2.UpsertProductRequest(
        sku=unique_sku("GRPC"), title="gRPC tee", colour=events_pb2.Rgb(r=1, g=2, b=3), flat_lay_image=image
    )


@pytest.mark.parametrize("image", BAD_FLAT_LAYS.values(), ids=BAD_FLAT_LAYS.keys())
def test_bad_images_are_refused_naming_flat_lay_over_grpc(stub, image):
    with pytest.raises(grpc.RpcError) as rejected:
        stub.UpsertProduct(grpc_request(image), metadata=GRPC_AUTH, timeout=30)
    assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rejected.value.details().startswith("flat_lay:")


def test_grpc_accepts_a_valid_product(stub):
    accepted = stub.UpsertProduct(grpc_request(FLAT_LAY_PNG), metadata=GRPC_AUTH, timeout=30)
    assert accepted.created and accepted.event_id


def test_an_unknown_route_is_a_json_404(ingestion):
    response = httpx.post(f"{ingestion.http_url}/v2/anything", content=b"{}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "no_route"


def retire(ingestion: IngestionUnderTest, sku: str, body: dict[str, object] | None = None) -> ApiResponse:
    return retire_product(sku, body, base_url=ingestion.http_url, token=API_TOKEN)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": API_TOKEN}, {"Authorization": "Basic eDp5"}],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
@pytest.mark.parametrize("path", ["/v1/products", "/v1/products/TW-ANY/retire"])
def test_without_a_valid_token_http_is_401_saying_nothing_more(ingestion, headers, path):
    response = httpx.post(f"{ingestion.http_url}{path}", content=b"{}", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_token_is_checked_before_the_body_is_read(ingestion):
    head = b"POST /v1/products HTTP/1.1\r\nHost: test\r\nContent-Length: 31457280\r\n\r\n"
    answer, seconds = raw_exchange(ingestion, head)  # no body is ever sent
    assert status_of(answer) == 401
    assert seconds < 2


def test_either_configured_token_is_accepted(ingestion):
    for token in ("itest-old-token", API_TOKEN):
        body = json.dumps(product_body(unique_sku())).encode()
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.post(f"{ingestion.http_url}/v1/products", content=body, headers=headers, timeout=30)
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer wrong-token"),)], ids=["missing", "wrong"])
def test_without_a_valid_token_grpc_is_unauthenticated(stub, metadata):
    with pytest.raises(grpc.RpcError) as refused:
        stub.UpsertProduct(grpc_request(FLAT_LAY_PNG), metadata=metadata, timeout=30)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as refused:
        stub.RetireProduct(ingestion_pb2.RetireProductRequest(sku="TW-ANY"), metadata=metadata, timeout=30)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_reflection_lists_the_service_without_a_token(ingestion):
    with grpc.insecure_channel(ingestion.grpc_target) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert "twinwear.v1.IngestionService" in services


def test_retiring_a_product_over_http(ingestion):
    sku = unique_sku("RETIRE")
    assert post(ingestion, product_body(sku, product_version=1_700_000_000_000_000)).status_code == 202
    first = retire(ingestion, sku)
    assert first.status == 202, first.body
    assert first.body["created"] is True and first.body["event_id"]
    again = retire(ingestion, sku)
    assert again.status == 200
    assert again.body["created"] is False and again.body["event_id"] == first.body["event_id"]
    # Retired is the SKU's newest version: an older upsert is stale, a newer one revives it.
    older = post(ingestion, product_body(sku, product_version=1_700_000_000_000_001))
    assert older.status_code == 200 and older.json()["stale"] is True
    revived = post(ingestion, product_body(sku))
    assert revived.status_code == 202 and revived.json()["created"] is True


def test_retiring_an_older_version_is_stale(ingestion):
    sku = unique_sku("RETIRE")
    assert post(ingestion, product_body(sku, product_version=1_800_000_000_000_000)).status_code == 202
    stale = retire(ingestion, sku, {"product_version": 1_700_000_000_000_000})
    assert stale.status == 200
    assert stale.body["stale"] is True and stale.body["created"] is False


def test_retiring_an_unknown_sku_is_404_naming_it(ingestion):
    sku = unique_sku("NEVER")
    response = retire(ingestion, sku)
    assert response.status == 404
    assert sku in response.body["message"]


def test_retiring_a_product_over_grpc(stub):
    request = grpc_request(FLAT_LAY_PNG)
    stub.UpsertProduct(request, metadata=GRPC_AUTH, timeout=30)
    retirement = ingestion_pb2.RetireProductRequest(sku=request.sku)
    first = stub.RetireProduct(retirement, metadata=GRPC_AUTH, timeout=30)
    assert first.created and first.event_id and not first.stale
    again = stub.RetireProduct(retirement, metadata=GRPC_AUTH, timeout=30)
    assert not again.created and again.event_id == first.event_id
    with pytest.raises(grpc.RpcError) as unknown:
        stub.RetireProduct(ingestion_pb2.RetireProductRequest(sku="NEVER-SEEN"), metadata=GRPC_AUTH, timeout=30)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert "NEVER-SEEN" in unknown.value.details()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_without_a_configured_token_the_service_starts_and_answers_503_naming_the_variable(stack):
    http_port, grpc_port, ops_port = free_port(), free_port(), free_port()
    env = ENV | {
        "TWINWEAR_API_TOKEN": "",  # empty counts as unset
        "TWINWEAR_HTTP_PORT": str(http_port),
        "TWINWEAR_GRPC_PORT": str(grpc_port),
        "TWINWEAR_OPS_PORT": str(ops_port),
        "TWINWEAR_INSTANCE_ID": "ingestion-no-token",
    }
    running = start_services((LocalService("ingestion", ops_port),), env=env)
    try:
        response = httpx.post(f"http://127.0.0.1:{http_port}/v1/products", content=b"{}", headers=AUTH, timeout=10)
        assert response.status_code == 503
        assert "TWINWEAR_API_TOKEN" in response.json()["message"]
        request = grpc_request(FLAT_LAY_PNG)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel, pytest.raises(grpc.RpcError) as refused:
            ingestion_pb2_grpc.IngestionServiceStub(channel).UpsertProduct(request, metadata=GRPC_AUTH, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "TWINWEAR_API_TOKEN" in refused.value.details()
    finally:
        assert running.stop("ingestion") == 0
