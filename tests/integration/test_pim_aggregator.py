"""The PIM aggregator on the real Kafka and MinIO: PimDelivery records produced to an inbox topic,
looks read back from a products topic (read_committed), rejections through GET /v1/rejections,
images served by a local HTTP server. Each run has its own topics, consumer group and state
prefix, so that it never meets another run's records."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from devkit.catalogue import draw_flat_lay
from devkit.fake_akeneo import FakeAkeneo
from devkit.topic_reader import TopicReader
from services.ingestion.akeneo_rest import AkeneoClient
from services.ingestion.http_api import RouteFactory, start_http_api
from services.ingestion.pim.aggregator import Aggregator, Ports
from services.ingestion.pim.images import FetchLimits, ImageFetcher, ImageLibrary, ImageRejected
from services.ingestion.pim.mapping import load_mapping
from services.ingestion.pim.stores import IndexStore, LookStore, RejectionStore
from services.ingestion.rejections_api import rejection_routes
from tests.bad_images import png_header_only
from tests.integration.test_runtime import running, wait_for
from tests.pim_payloads import (
    MAPPING_FILE,
    SHOPIFY_PRODUCT_ID,
    akeneo_event,
    akeneo_product,
    cloud_event,
    salsify_delivery,
    salsify_parent,
    salsify_variant,
    shopify_delivery,
    shopify_product,
)
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import PIM_INBOX, PRODUCTS
from twinwear_runtime.auth import ApiTokens
from twinwear_runtime.events import EventRegistry, derive_id, unwrap, wrap
from twinwear_runtime.http_server import HttpServer
from twinwear_runtime.kafka import ConsumerSettings, EventProducer, RecordProcessor, TransactionalConsumer
from twinwear_runtime.ops_server import Health
from twinwear_runtime.storage import PreconditionFailed
from twinwear_runtime.topics import Topic, ensure_topics

pytestmark = pytest.mark.integration

TOKEN = "itest-pim-token"
NAVY = draw_flat_lay("tee", "solid", "#1f2a44")
RED = draw_flat_lay("tee", "solid", "#c0392b")
# Nothing listens there (the port range of this suite, never bound by it).
UNREACHABLE_PORT = 18299
IMAGES = {
    "/navy.png": ("image/png", NAVY),
    "/red.png": ("image/png", RED),
    "/bomb.png": ("image/png", png_header_only(20000, 20000)),
    "/not-an-image.jpg": ("image/jpeg", b"<html><body>404 page not found</body></html>"),
    "/api/rest/v1/media-files/8/e/2/a/tee.png/download": ("image/png", NAVY),
}
PRODUCT_EVENTS = EventRegistry(PRODUCTS.events)


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/api/rest/v1/media-files/") and self.headers.get("Authorization") != "Bearer akeneo":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        content_type, body = IMAGES.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in IMAGES else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    for port in range(18210, 18240):
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _ImageHandler)
            break
        except OSError:
            continue
    else:
        pytest.fail("no free port in 18210-18239 for the image server")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass
class PimRun:
    """One aggregator on its own inbox and products topics."""

    stack: object
    store: object
    allow_private: bool = True
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.inbox = Topic(f"itest.pim-inbox.{self.name}", partitions=1, events=PIM_INBOX.events)
        self.products = Topic(f"itest.products.{self.name}", partitions=1, events=PRODUCTS.events)
        self.service = f"itest-pim-{self.name}"
        ensure_topics(self.stack.kafka_bootstrap, 1, (self.inbox, self.products))
        self.store.ensure_buckets(FLAT_LAYS_BUCKET, STATE_BUCKET)
        self.producer = EventProducer(self.stack.kafka_bootstrap, self.service)
        prefix = f"itest/pim-{self.name}"
        self.rejections = RejectionStore(self.store, prefix)
        self.fetcher = ImageFetcher(FetchLimits(attempts=2, retry_base_seconds=0.1, allow_private=self.allow_private))
        self.ports = Ports(
            LookStore(self.store, prefix),
            IndexStore(self.store, prefix),
            self.rejections,
            ImageLibrary(self.fetcher, self.store),
        )
        self.aggregator = Aggregator(load_mapping(MAPPING_FILE), self.ports, self.products.name)
        self.server, url = rejections_api(functools.partial(rejection_routes, self.rejections))
        self.api = httpx.Client(base_url=url)
        self.seen: list[tuple[str, object]] = []
        self._reader = TopicReader(self.products.name, from_beginning=True)

    def consumer(self) -> TransactionalConsumer:
        processor = RecordProcessor(
            self.service, EventRegistry(PIM_INBOX.events), {events_pb2.PimDelivery: self.aggregator.handle}, 3
        )
        settings = ConsumerSettings(instance_id="a", batch_size=10, retry_base_seconds=0.2, retry_cap_seconds=1.0)
        return TransactionalConsumer(
            self.service, self.stack.kafka_bootstrap, [self.inbox], processor, Health(), settings
        )

    def send(self, *deliveries: events_pb2.PimDelivery) -> None:
        envelopes = [
            wrap(
                d,
                producer="itest",
                key=d.event_id,
                event_id=derive_id("itest-inbox", d.source, d.event_id),
                correlation_id=d.event_id,
            )
            for d in deliveries
        ]
        self.producer.publish([(self.inbox.name, envelope) for envelope in envelopes])

    def read_until(self, look_id: str, timeout: float = 60.0) -> list[tuple[str, object]]:
        """Every product event so far, read (read_committed) until one for ``look_id`` arrived."""
        for record in self._reader.records(timeout):
            _, payload = unwrap(record.value, PRODUCT_EVENTS)
            self.seen.append((record.key.decode(), payload))
            if record.key.decode() == look_id:
                return self.seen
        pytest.fail(f"no product event for {look_id} within {timeout} s")

    def events_of(self, look_id: str) -> list[object]:
        return [payload for key, payload in self.seen if key == look_id]

    def close(self) -> None:
        self.api.close()
        self.server.shutdown()
        self._reader.close()
        self.producer.close()
        self.fetcher.close()


def rejections_api(routes: RouteFactory) -> tuple[HttpServer, str]:
    """The ingestion HTTP API with the rejection routes, on a free port of this suite's range."""
    for port in range(18240, 18270):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                continue
        server = start_http_api(port, _unused, _unused, ApiTokens(TOKEN), "127.0.0.1", extra_routes=routes)
        return server, f"http://127.0.0.1:{port}"
    pytest.fail("no free port in 18240-18269 for the API")


def _unused(*args: object) -> None:
    raise AssertionError("only GET /v1/rejections is used here")


@pytest.fixture
def pim(stack, store) -> Iterator[PimRun]:
    run = PimRun(stack, store)
    yield run
    run.close()


def sentinel(run: PimRun, image_server: str) -> str:
    """A delivery sent last: once its look is out, everything before it on the partition was handled."""
    look = f"SENTINEL-{uuid.uuid4().hex[:6]}"
    product = akeneo_product(f"{look}-M", look, "M", f"{image_server}/navy.png")
    run.send(akeneo_event("product.created", product, f"{look}-ev", "2026-05-01T10:00:00Z"))
    return look


def test_variants_group_into_one_look_and_duplicates_and_stale_updates_add_nothing(pim, image_server):
    look = f"NW-TEE-{pim.name}"
    flat = f"{image_server}/navy.png"

    def variant(size: str, event_id: str, when: str, title: str = "Linen tee") -> events_pb2.PimDelivery:
        return akeneo_event(
            "product.updated", akeneo_product(f"{look}-{size}", look, size, flat, title=title), event_id, when
        )

    created = [variant(size, f"{look}-c{n}", f"2026-05-01T10:00:0{n}Z") for n, size in enumerate(["S", "M", "L"])]
    newer = variant("S", f"{look}-u2", "2026-05-01T12:00:00Z", title="Linen tee, new")
    older = variant("S", f"{look}-u1", "2026-05-01T11:00:00Z", title="Linen tee, old")
    with running(pim.consumer()):
        # Last, M again at a newer time with the same content: a new PIM version, but no new look.
        pim.send(
            *created,
            created[1],
            newer,
            older,
            newer,
            variant("M", f"{look}-u3", "2026-05-01T13:00:00Z", title="Linen tee, new"),
        )
        pim.read_until(sentinel(pim, image_server))
    upserts = pim.events_of(look)
    assert len(upserts) == 4  # three sizes arriving, then the newer title; the rest changed nothing
    last = upserts[-1]
    assert isinstance(last, events_pb2.ProductUpserted)
    assert (last.title, [v.size_label for v in last.variants]) == ("Linen tee, new", ["S", "M", "L"])
    assert [e.product_version for e in upserts] == sorted({e.product_version for e in upserts})
    # The flat lay is stored once, content-addressed, and every version points at it.
    assert {e.flat_lay.key for e in upserts} == {last.flat_lay.key}
    assert last.flat_lay.key.startswith("originals/") and pim.store.exists(FLAT_LAYS_BUCKET, last.flat_lay.key)
    assert (last.images[0].width, last.images[0].height) == (256, 256)
    assert pim.api.get(
        "/v1/rejections", params={"look_id": look}, headers={"Authorization": f"Bearer {TOKEN}"}
    ).json() == {"rejections": []}


def test_bad_images_are_rejections_listed_newest_first_with_url_and_reason(pim, image_server):
    cases = {
        "bomb": (f"{image_server}/bomb.png", "more than 40000000 pixels (not decoded)"),
        "html": (f"{image_server}/not-an-image.jpg", "is not a PNG, JPEG or WebP image"),
        "down": (f"http://127.0.0.1:{UNREACHABLE_PORT}/gone.png", "unreachable after 2 attempts"),
    }
    looks = {case: f"NW-{case.upper()}-{pim.name}" for case in cases}
    with running(pim.consumer()):
        for n, (case, (url, _)) in enumerate(cases.items()):
            product = akeneo_product(f"{looks[case]}-M", looks[case], "M", url)
            event = akeneo_event("product.created", product, f"{looks[case]}-ev", "2026-05-01T10:00:00Z")
            event.received_at_us += n  # received one after the other
            pim.send(event)
        pim.read_until(sentinel(pim, image_server))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for case, (url, reason) in cases.items():
        assert pim.events_of(looks[case]) == []
        response = pim.api.get("/v1/rejections", params={"look_id": looks[case]}, headers=auth)
        [rejection] = response.json()["rejections"]
        assert (rejection["url"], rejection["source_event_id"], rejection["sku"]) == (
            url,
            f"{looks[case]}-ev",
            f"{looks[case]}-M",
        )
        assert reason in rejection["reason"] and url in rejection["reason"]
    listed = pim.api.get("/v1/rejections", headers=auth).json()["rejections"]
    assert [r["look_id"] for r in listed] == list(looks.values())[::-1]  # newest first
    assert pim.api.get("/v1/rejections").status_code == 401
    assert pim.api.get("/v1/rejections", params={"limit": "0"}, headers=auth).status_code == 400


def test_a_shopify_product_splits_by_colour_and_a_removal_beats_a_late_update(pim, image_server):
    urls = {"Navy": f"{image_server}/navy.png", "Red": f"{image_server}/red.png"}
    variants = [("Navy", "S", 3), ("Navy", "M", 5), ("Navy", "L", 0), ("Red", "S", 2), ("Red", "M", 1)]
    product = shopify_product(variants, urls, "2026-05-01T10:00:00-04:00", title=f"Linen shirt {pim.name}")
    product_id = SHOPIFY_PRODUCT_ID + int(pim.name, 16) % 10**6  # a product of this run's own, still past 2^53
    product["id"] = product_id
    late = shopify_product(variants, urls, "2026-05-02T09:00:00-04:00", title="Renamed too late")
    late["id"] = product_id
    navy, red = f"shopify-{product_id}-Navy", f"shopify-{product_id}-Red"
    deleted = shopify_delivery(
        "products/delete",
        {"id": product_id},
        f"wh-{pim.name}-3",
        **{"X-Shopify-Triggered-At": "2026-05-02T10:00:00-04:00"},
    )
    with running(pim.consumer()):
        pim.send(shopify_delivery("products/update", product, f"wh-{pim.name}-1"), deleted)
        pim.send(shopify_delivery("products/update", late, f"wh-{pim.name}-2"))
        pim.read_until(sentinel(pim, image_server))
    [navy_upsert, *navy_retired] = pim.events_of(navy)
    [red_upsert, *red_retired] = pim.events_of(red)
    assert [v.source_id for v in navy_upsert.variants] == [
        str(9_007_199_254_740_993 + n) for n in (1, 2, 3)
    ]  # ids past 2^53, exact
    assert [v.size_label for v in red_upsert.variants] == ["S", "M"]
    assert (
        red_upsert.colour_name == "Red"
        and navy_upsert.images[0].dominant_colour.b > navy_upsert.images[0].dominant_colour.r
    )
    # Each variant retires, then the look; the update older than the deletion brings nothing back.
    assert [(r.variant_sku, r.look_id) for r in navy_retired] == [
        ("NW-SH-NAV-L", navy),
        ("NW-SH-NAV-M", navy),
        ("NW-SH-NAV-S", navy),
        ("", navy),
    ]
    assert [r.variant_sku for r in red_retired] == ["NW-SH-RED-M", "NW-SH-RED-S", ""]


def test_a_private_address_is_refused_when_the_flag_is_off(stack, store, image_server):
    run = PimRun(stack, store, allow_private=False)
    look = f"NW-PRIVATE-{run.name}"
    product = akeneo_product(f"{look}-M", look, "M", f"{image_server}/navy.png")
    try:
        with running(run.consumer()):
            run.send(akeneo_event("product.created", product, f"{look}-ev", "2026-05-01T10:00:00Z"))
            wait_for(lambda: bool(run.rejections.newest(1, look_id=look)), what="the rejection")
        [rejection] = run.rejections.newest(10, look_id=look)
        assert "is 127.0.0.1, a private or loopback address (not fetched)" in str(rejection["reason"]) or (
            "resolves to 127.0.0.1, a private or loopback address (not fetched)" in str(rejection["reason"])
        )
        assert list(TopicReader(run.products.name, from_beginning=True).records(2.0)) == []
    finally:
        run.close()


def test_a_record_handled_again_after_a_failure_gives_its_look_event_once(pim, image_server):
    """The look's state is written before the transaction commits; when the batch fails after
    that, the record is handled again and gives the same event, once, rather than nothing."""
    look = f"NW-RETRY-{pim.name}"
    product = akeneo_product(f"{look}-M", look, "M", f"{image_server}/red.png", colour="red")
    failed: list[str] = []
    handle = pim.aggregator.handle

    def fail_once_after_handling(incoming):
        outputs = handle(incoming)
        if incoming.payload.event_id == f"{look}-ev" and not failed:
            failed.append(incoming.event_id)
            raise RuntimeError("crash after the state was written")
        return outputs

    pim.aggregator.handle = fail_once_after_handling
    with running(pim.consumer()):
        pim.send(akeneo_event("product.created", product, f"{look}-ev", "2026-05-01T10:00:00Z"))
        pim.read_until(sentinel(pim, image_server))
    assert failed
    [upserted] = pim.events_of(look)
    assert (upserted.colour_name, [v.sku for v in upserted.variants]) == ("Red", [f"{look}-M"])


def test_conditional_writes_on_minio_refuse_a_stale_etag_and_a_second_create(store):
    key = f"itest/cas-{uuid.uuid4().hex}.json"
    store.put_if(STATE_BUCKET, key, b"1", "application/json", None)
    with pytest.raises(PreconditionFailed):
        store.put_if(STATE_BUCKET, key, b"2", "application/json", None)
    data, etag = store.get_versioned(STATE_BUCKET, key)
    store.put_if(STATE_BUCKET, key, b"3", "application/json", etag)
    with pytest.raises(PreconditionFailed):
        store.put_if(STATE_BUCKET, key, b"4", "application/json", etag)
    assert (data, store.get_versioned(STATE_BUCKET, key)[0]) == (b"1", b"3")
    assert store.get_versioned(STATE_BUCKET, f"{key}.missing") is None


def test_akeneo_media_links_are_fetched_with_the_headers_the_api_client_gives(image_server):
    url = f"{image_server}/api/rest/v1/media-files/8/e/2/a/tee.png/download"
    limits = FetchLimits(attempts=1, allow_private=True)
    deadline = time.monotonic() + 30

    def akeneo_token(for_url: str) -> dict[str, str]:
        return {"Authorization": "Bearer akeneo"} if for_url.startswith(f"{image_server}/api/") else {}

    with pytest.raises(ImageRejected, match="HTTP 401"):
        ImageFetcher(limits).fetch(url, deadline)
    assert ImageFetcher(limits, headers_for=akeneo_token).fetch(url, deadline) == NAVY


def test_a_salsify_product_leaving_the_list_is_disabled_and_a_deleted_one_retired(pim, image_server):
    look = f"NW-DRS-{pim.name}"
    parent = salsify_parent(look, f"{image_server}/red.png")
    small = salsify_variant(f"{look}-S", look, "S", "2026-05-01T10:00:00.000Z")
    medium = salsify_variant(f"{look}-M", look, "M", "2026-05-01T10:00:00.000Z")
    left = salsify_variant(f"{look}-S", look, "S", "2026-05-02T10:00:00.000Z")
    gone = {**medium, "salsify:updated_at": "2026-05-03T10:00:00.000Z", "salsify:destroyed_at": "2026-05-03T10:00:00Z"}
    with running(pim.consumer()):
        pim.send(salsify_delivery(f"req-{pim.name}-1", "add", [small, medium], [parent]))
        pim.send(salsify_delivery(f"req-{pim.name}-2", "remove", [left], [parent]))
        pim.send(salsify_delivery(f"req-{pim.name}-3", "remove", [gone], [parent]))
        pim.read_until(sentinel(pim, image_server))
    added, disabled, retired, remaining = pim.events_of(look)
    assert [v.sku for v in added.variants] == [f"{look}-S", f"{look}-M"] and added.enabled
    assert {v.sku: v.enabled for v in disabled.variants} == {f"{look}-S": False, f"{look}-M": True}
    assert (retired.variant_sku, retired.look_id) == (f"{look}-M", look)
    assert [v.sku for v in remaining.variants] == [f"{look}-S"] and not remaining.enabled


def test_the_akeneo_client_resolves_thin_events_and_authorises_only_its_own_media_links(pim, image_server):
    """The Event Platform path end to end: the aggregator fetches the product from (a local
    stand-in for) Akeneo's REST API with the real client."""
    look = f"NW-EP-{pim.name}"
    resource = akeneo_product(f"{look}-M", look, "M", f"{image_server}/navy.png")
    with FakeAkeneo(port=_free_port(18270, 18290), products=[resource]) as akeneo:
        client = AkeneoClient(akeneo.settings)
        try:
            media = f"{akeneo.url}/api/rest/v1/media-files/a/b/flat.png/download"
            assert client.authorization_for(media)["Authorization"].startswith("Bearer ")
            assert client.authorization_for(f"{image_server}/navy.png") == {}
            pim.aggregator = Aggregator(
                load_mapping(MAPPING_FILE), dataclasses.replace(pim.ports, fetcher=client), pim.products.name
            )
            with running(pim.consumer()):
                pim.send(cloud_event("product.updated", str(resource["uuid"]), f"{look}-ce", "2026-05-01T10:00:01Z"))
                pim.read_until(look)
        finally:
            client.close()
    [upserted] = pim.events_of(look)
    assert (upserted.look_id, list(upserted.source_event_ids)) == (look, [f"{look}-ce"])
    assert upserted.product_version == 1_777_629_600_000_000  # the product's own updated time


def _free_port(first: int, last: int) -> int:
    for port in range(first, last):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.fail(f"no free port in {first}-{last}")
