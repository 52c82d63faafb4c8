"""End to end: products into ingestion, published assets out of the feed, through all four
services on the real Kafka, MinIO and Triton."""

from __future__ import annotations

import io
import itertools
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from kafka import KafkaProducer
from PIL import Image

from devkit.catalogue import SampleProduct
from devkit.ingest_client import post_product
from devkit.local_services import INGESTION_GRPC, RunningServices, api_token, services_running, skip_backlog
from devkit.topic_reader import TopicReader
from twinwear.v1 import events_pb2, ingestion_pb2, ingestion_pb2_grpc
from twinwear_contracts.buckets import PUBLISHED_BUCKET
from twinwear_contracts.topics import PRODUCTS, RENDER_REQUESTS, RENDER_RESULTS
from twinwear_runtime.events import EventRegistry, unwrap
from twinwear_runtime.topics import DEAD_LETTER

pytestmark = pytest.mark.e2e
_REQUESTS = EventRegistry(RENDER_REQUESTS.events)


@pytest.fixture(scope="module")
def services(stack) -> Iterator[RunningServices]:
    skip_backlog()
    with services_running() as running:
        yield running


@pytest.fixture
def feed(services) -> Iterator[TopicReader]:
    tail = TopicReader()
    yield tail
    tail.close()


@pytest.fixture
def plans(services) -> Iterator[TopicReader]:
    tail = TopicReader(RENDER_REQUESTS.name)
    yield tail
    tail.close()


def twins_planned(plans: TopicReader, look_id: str, timeout: float = 60, quiet: float = 5) -> set[str]:
    """The twins the twin builder planned the look onto (the campaign policy picks them): the
    render requests of the look until none has come for ``quiet`` seconds."""
    twins: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        news = [
            p.twin.twin_id
            for r in plans.records(quiet)
            if r.value is not None
            and isinstance(p := unwrap(r.value, _REQUESTS)[1], events_pb2.RenderRequested)
            and p.look_id == look_id
        ]
        if twins and not news:
            break
        twins.update(news)
    assert twins, f"nothing was planned for {look_id}"
    return twins


def sample(pattern: str = "stripes") -> SampleProduct:
    sku = f"E2E-{uuid.uuid4().hex[:10]}"
    return SampleProduct(sku, "End-to-end tee", "tops", "#2a9d8f", "tee", pattern)


def collect(feed: TopicReader, sku: str, want: int, timeout: float = 300) -> list[events_pb2.AssetPublished]:
    """Assets of ``sku`` until ``want`` have arrived or ``timeout`` passes."""
    matching = (a for a in feed.assets(timeout) if a.sku == sku)
    return list(itertools.islice(matching, want))


def test_a_product_becomes_published_assets_on_the_twins_planned_for_it(feed, plans, store):
    product = sample()
    response = post_product(product.request_body())
    assert response.status == 202, response.body
    assert response.body["created"] is True

    twins = twins_planned(plans, product.sku)
    assert len(twins) >= 4  # the campaign policy covers sizes S, M, XL and 3XL
    assets = collect(feed, product.sku, len(twins))
    assert {a.twin_id for a in assets} == twins
    for asset in assets:
        assert asset.ai_generated and asset.revision == response.body["revision"]
        assert asset.image.bucket == PUBLISHED_BUCKET
        assert store.metadata(asset.image.bucket, asset.image.key)["ai-generated"] == "true"
        image = Image.open(io.BytesIO(store.get(asset.image)))
        assert (image.format, image.size[0]) == ("JPEG", 1024)  # the largest full-frame derivative


def test_the_same_product_twice_gives_one_asset_per_twin(feed, plans, services):
    product = sample("dots")
    products = TopicReader(PRODUCTS.name)
    first, second = post_product(product.request_body()), post_product(product.request_body())
    assert (first.status, second.status) == (202, 200)  # 200: nothing new
    assert first.body["event_id"] == second.body["event_id"]
    assert second.body["created"] is False
    twins = twins_planned(plans, product.sku)
    assets = collect(feed, product.sku, len(twins))
    assert sorted(a.twin_id for a in assets) == sorted(twins)

    # Redeliver the ProductUpserted itself, as Kafka may after a consumer crash: the twin builder
    # knows its renders are planned already, so nothing is rendered or published again.
    original = next(r for r in products.records(timeout=30) if r.key == product.sku.encode())
    products.close()
    producer = KafkaProducer(bootstrap_servers="127.0.0.1:9092", acks="all")
    producer.send(PRODUCTS.name, key=original.key, value=original.value, headers=original.headers).get(30)
    producer.close()
    replanned = [
        r for r in plans.records(15) if r.value is not None and unwrap(r.value, _REQUESTS)[1].look_id == product.sku
    ]
    assert replanned == []
    assert collect(feed, product.sku, 1, timeout=15) == []


def versioned(product, version: int) -> dict[str, object]:
    return {**product.request_body(), "product_version": version}


def test_a_revert_under_a_newer_version_publishes_again_and_a_stale_version_publishes_nothing(feed, plans):
    a = sample("stripes")
    b = replace(a, colour="#e76f51", pattern="dots")
    v1, v2, v3, v4 = (1_800_000_000_000_000 + n for n in range(4))
    results = TopicReader(RENDER_RESULTS.name)
    products = TopicReader(PRODUCTS.name)

    assert post_product(versioned(a, v1)).status == 202
    twins = twins_planned(plans, a.sku)
    first = {x.twin_id: x for x in collect(feed, a.sku, len(twins))}
    assert {x.product_version for x in first.values()} == {v1}
    assert post_product(versioned(b, v2)).status == 202
    second = {x.twin_id: x for x in collect(feed, a.sku, len(twins))}
    assert {x.product_version for x in second.values()} == {v2}
    assert not {x.asset_id for x in second.values()} & {x.asset_id for x in first.values()}

    assert post_product(versioned(a, v3)).status == 202  # A again: its renders are reused
    third = {x.twin_id: x for x in collect(feed, a.sku, len(twins))}
    assert {x.product_version for x in third.values()} == {v3}
    assert {t: x.asset_id for t, x in third.items()} == {t: x.asset_id for t, x in first.items()}

    stale = post_product(versioned(b, v2))
    assert stale.status == 200 and stale.body["stale"] is True

    # B's old event replayed onto the topic reaches the publisher, which keeps A at v3.
    old_b = [r for r in products.records(timeout=10) if r.key == a.sku.encode()][1]
    products.close()
    producer = KafkaProducer(bootstrap_servers="127.0.0.1:9092", acks="all")
    producer.send(PRODUCTS.name, key=old_b.key, value=old_b.value, headers=old_b.headers).get(30)
    producer.close()
    assert collect(feed, a.sku, 1, timeout=15) == []

    # A title change is a new product version with the same imagery: nothing is planned, rendered
    # or published again; the feed keeps the assets of A's imagery.
    title_only = {**versioned(a, v4), "title": "Renamed tee"}
    assert post_product(title_only).status == 202
    assert collect(feed, a.sku, 1, timeout=20) == []
    registry = EventRegistry(RENDER_RESULTS.events)
    renders = [unwrap(r.value, registry)[1] for r in results.records(timeout=5)]
    results.close()
    assert not [r for r in renders if r.sku == a.sku and r.product_version == v4], "a title change rendered again"


def test_a_malformed_message_lands_in_the_dead_letter_topic_with_its_reason(services):
    dead_letters = TopicReader(DEAD_LETTER.name)
    producer = KafkaProducer(bootstrap_servers="127.0.0.1:9092", acks="all")
    garbage = f"not an envelope {uuid.uuid4()}".encode()
    producer.send(PRODUCTS.name, key=b"E2E-bad", value=garbage).get(30)
    producer.close()
    # Both consumers of the products topic dead-letter it, each in its own time.
    consumers, found = {b"twin_builder", b"publisher"}, {}
    for record in dead_letters.records(timeout=60):
        if record.value == garbage:
            headers = dict(record.headers)
            found[headers["dlq.service"]] = headers
            if set(found) >= consumers:
                break
    dead_letters.close()
    assert set(found) == consumers, f"dead-lettered by {sorted(found)} only"
    for headers in found.values():
        assert headers["dlq.original_topic"] == PRODUCTS.name.encode()
        assert headers["dlq.reason"].startswith(b"not a protobuf EventEnvelope")
        assert int(headers["dlq.original_offset"]) >= 0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"colour": "teal"}, "colour"), ({"sku": ""}, "sku"), ({"flat_lay": {}}, "flat_lay.data_base64")],
)
def test_a_bad_product_request_gets_400_naming_the_field(services, change, field):
    response = post_product({**sample().request_body(), **change})
    assert response.status == 400
    assert response.body["field"] == field
    assert field in response.body["message"]


def test_grpc_ingestion_accepts_and_rejects(services, feed, plans):
    product = sample("checks")
    auth = (("authorization", f"Bearer {api_token()}"),)
    with grpc.insecure_channel(INGESTION_GRPC) as channel:
        stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
        request = ingestion_pb2.UpsertProductRequest(
            sku=product.sku,
            title=product.title,
            colour=events_pb2.Rgb(r=42, g=157, b=143),
            flat_lay_image=product.flat_lay_png(),
            source="grpc-test",
        )
        accepted = stub.UpsertProduct(request, metadata=auth, timeout=30)
        assert accepted.sku == product.sku and accepted.created
        request.colour.r = 300
        with pytest.raises(grpc.RpcError) as rejected:
            stub.UpsertProduct(request, metadata=auth, timeout=30)
    assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rejected.value.details().startswith("colour:")
    twins = twins_planned(plans, product.sku)
    assert {a.twin_id for a in collect(feed, product.sku, len(twins))} == twins


def prometheus_services(expression: str) -> set[str]:
    """The ``service`` labels of the series that Prometheus returns for ``expression``."""
    query = urllib.parse.quote(expression)
    with urllib.request.urlopen(f"http://127.0.0.1:9090/api/v1/query?query={query}", timeout=5) as response:
        return {r["metric"].get("service", "") for r in json.loads(response.read())["data"]["result"]}


def test_services_export_metrics_that_prometheus_scrapes(services):
    consumers = {"twin_builder", "render", "publisher"}
    expressions = [
        "sum by (service) (twinwear_events_consumed_total)",
        "sum by (service) (twinwear_handler_duration_seconds_count)",
        "max by (service) (twinwear_consumer_lag)",
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        missing = {e: consumers - prometheus_services(e) for e in expressions}
        if not any(missing.values()):
            break
        time.sleep(2)
    assert not any(missing.values()), f"Prometheus lacks series: {missing}"
    assert "ingestion" in prometheus_services("sum by (service) (twinwear_events_produced_total)")


def test_sigterm_stops_a_service_cleanly(services):
    # Runs last in this module: the publisher stays stopped afterwards.
    assert services.stop("publisher") == 0
