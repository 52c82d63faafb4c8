"""Property-based fuzz of the running ingestion service: whatever a client sends, the answer is a
2xx, or a 4xx that names the field, never a 5xx (503 only with Retry-After), and the service
stays up."""

from __future__ import annotations

import base64
import json
import re

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.bad_images import BAD_FLAT_LAYS
from tests.integration.ingestion_service import AUTH, FLAT_LAY_PNG, GRPC_AUTH, IngestionUnderTest, unique_sku
from twinwear.v1 import events_pb2, ingestion_pb2, ingestion_pb2_grpc

pytestmark = pytest.mark.integration
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FIELDS = ("body", "sku", "title", "category", "colour", "flat_lay", "flat_lay.data_base64", "source", "product_version")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=0, max_value=4000).map(lambda digits: 10**digits)  # json.dumps stops at 4300 digits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
images = st.sampled_from([FLAT_LAY_PNG, *BAD_FLAT_LAYS.values()]) | st.binary(max_size=2048)
skus = st.builds(unique_sku, st.just("FUZZ"))
valid_versions = st.integers(min_value=946_684_800_000_000, max_value=7_258_118_400_000_000)
# Mostly valid fields, so that examples get past the first check to the later ones and to Kafka.
valid_products = st.fixed_dictionaries(
    {
        "sku": skus,
        "title": st.text(min_size=1, max_size=200),
        "colour": st.from_regex(r"\A#[0-9a-fA-F]{6}\Z"),
        "flat_lay": (st.just(FLAT_LAY_PNG) | images).map(
            lambda image: {"data_base64": base64.b64encode(image).decode()}
        ),
    },
    optional={"category": st.text(max_size=64), "source": st.text(max_size=64), "product_version": valid_versions},
)
field_names = st.sampled_from(["sku", "title", "category", "colour", "flat_lay", "source", "product_version"])
products = st.builds(
    lambda valid, dropped, changed: {k: v for k, v in valid.items() if k not in dropped} | changed,
    valid_products,
    st.sets(field_names, max_size=2),
    st.dictionaries(field_names | st.text(max_size=10), json_values | st.text(max_size=300), max_size=2),
)
documents = products.map(lambda product: json.dumps(product).encode())
# Text that json.dumps would never write: an integer past Python's digit limit, deep nesting, raw bytes.
raw_bodies = (
    st.integers(min_value=4301, max_value=6000).map(lambda digits: b'{"product_version": ' + b"7" * digits + b"}")
    | st.integers(min_value=1000, max_value=100_000).map(lambda depth: b"[" * depth + b"]" * depth)
    | st.integers(min_value=1000, max_value=100_000).map(lambda depth: b'{"a":' * depth + b"0" + b"}" * depth)
    | st.binary(max_size=512)
)


def assert_still_up(ingestion: IngestionUnderTest) -> None:
    assert ingestion.running.processes["ingestion"].poll() is None, "ingestion exited"
    assert httpx.get(f"{ingestion.ops_url}/readyz", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def http(ingestion) -> httpx.Client:
    with httpx.Client(base_url=ingestion.http_url, headers=AUTH, timeout=30) as client:
        yield client
    assert_still_up(ingestion)


@FUZZ
@given(body=documents | raw_bodies)
def test_http_answers_every_body_with_2xx_or_a_named_field(ingestion, http, body):
    response = http.post("/v1/products", content=body, headers={"Content-Type": "application/json"})
    event(f"HTTP {response.status_code} {response.json().get('field', '')}")
    if response.status_code == 503:
        assert "Retry-After" in response.headers, response.text
    else:
        assert response.status_code in (200, 202, 400), response.text
    if response.status_code == 400:
        assert response.json()["field"] in FIELDS, response.text
    elif response.status_code < 300:
        assert response.json()["sku"].startswith("FUZZ-")


valid_rgbs = st.builds(events_pb2.Rgb, r=st.integers(0, 255), g=st.integers(0, 255), b=st.integers(0, 255))
any_rgbs = st.builds(
    events_pb2.Rgb, r=st.integers(0, 2**32 - 1), g=st.integers(0, 2**32 - 1), b=st.integers(0, 2**32 - 1)
)
requests = st.builds(
    ingestion_pb2.UpsertProductRequest,
    sku=skus | st.text(max_size=80),
    title=st.text(min_size=1, max_size=200) | st.text(max_size=250),
    category=st.text(max_size=70),
    colour=st.one_of(valid_rgbs, valid_rgbs, valid_rgbs, any_rgbs, st.none()),  # mostly valid, to reach later checks
    flat_lay_image=st.just(FLAT_LAY_PNG) | images,
    source=st.text(max_size=70),
    product_version=st.just(0) | valid_versions | st.integers(-(2**63), 2**63 - 1),
)


@pytest.fixture(scope="module")
def stub(ingestion) -> ingestion_pb2_grpc.IngestionServiceStub:
    channel = grpc.insecure_channel(ingestion.grpc_target)
    yield ingestion_pb2_grpc.IngestionServiceStub(channel)
    channel.close()
    assert_still_up(ingestion)


@FUZZ
@given(request=requests)
def test_grpc_answers_every_request_with_ok_or_a_named_field(stub, request):
    try:
        accepted = stub.UpsertProduct(request, metadata=GRPC_AUTH, timeout=30)
    except grpc.RpcError as error:
        event(f"{error.code().name} {error.details().split(':')[0]}")
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAVAILABLE), error.details()
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            field = re.match(r"^([a-z_.]+): ", error.details())
            assert field and field.group(1) in FIELDS, error.details()
    else:
        event("OK")
        assert accepted.sku == request.sku
