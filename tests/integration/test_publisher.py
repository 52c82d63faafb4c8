"""The publisher as a process against the real Kafka and MinIO: QA gates and review, publish-time
consent, forged results, withdrawal with its audit entry, the compacted feed, cursors across a
restart, the Merchant Center feed with links that resolve, the ledger and replays."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from kafka import KafkaConsumer, TopicPartition

from devkit.publisher_process import API_TOKEN, Ports, PublisherProcess
from services.publisher.provenance import verify
from tests.unit.publisher_media import studio_master
from twinwear.v1 import asset_feed_pb2, asset_feed_pb2_grpc, events_pb2, twins_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, RENDERS_BUCKET
from twinwear_contracts.topics import ASSET_FEED, CONSENT, PRODUCTS, RENDER_RESULTS, TWINS
from twinwear_runtime.topics import DEAD_LETTER

pytestmark = pytest.mark.integration
T = TypeVar("T")
MASTER = studio_master(768, 1024)
PORTS = Ports(ops=18601, http=18690, grpc=18652)


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    """Poll until ``check`` gives something (the publisher works asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(scope="module")
def publisher(stack, tmp_path_factory) -> Iterator[PublisherProcess]:
    running = PublisherProcess(stack.kafka_bootstrap, tmp_path_factory.mktemp("publisher"), PORTS)
    running.start()
    try:
        yield running
    finally:
        running.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def add_twin(publisher: PublisherProcess, kind: str = "talent", brand: str = "") -> str:
    twin_id = unique("itest-twin")
    twin = twins_pb2.Twin(twin_id=twin_id, twin_version=1, kind=kind, brand=brand)
    publisher.send(TWINS.name, twin_id, twins_pb2.TwinUpserted(twin=twin, actor="itest"))
    return twin_id


def add_grant(publisher: PublisherProcess, twin_id: str, channels=("ecommerce", "social")) -> str:
    consent_id = unique("itest-consent")
    grant = twins_pb2.ConsentGrant(
        consent_id=consent_id, twin_id=twin_id, brand="acme", channels=list(channels), markets=["DE", "FR"],
        start_date="2026-01-01", end_date="2099-12-31", fee_per_image_minor=2500, currency="EUR",
    )  # fmt: skip
    publisher.send(CONSENT.name, twin_id, twins_pb2.ConsentGranted(grant=grant, actor="itest"))
    return consent_id


def consented_twin(publisher: PublisherProcess) -> tuple[str, str]:
    """A talent twin with a grant for ecommerce and social."""
    twin_id = add_twin(publisher)
    return twin_id, add_grant(publisher, twin_id)


def send_poses(publisher: PublisherProcess, store, look: str, twin_id: str, consent_id: str) -> None:
    for pose in ("front", "back"):
        send_render(publisher, store, look, twin_id, consent_id, pose=pose)


def send_render(
    publisher: PublisherProcess,
    store,
    look: str,
    twin_id: str,
    consent_id: str,
    *,
    pose: str = "front",
    image: bytes = MASTER,
    bucket: str = RENDERS_BUCKET,
    version: int = 1,
    event_id: str | None = None,
    render_id: str | None = None,
) -> events_pb2.RenderCompleted:
    render_id = render_id or unique("itest-render")
    ref = store.put(bucket, f"itest/{render_id}.png", image, "image/png")
    render = events_pb2.RenderCompleted(
        render_id=render_id, sku=f"{look}-M", look_id=look, variant_skus=[f"{look}-S", f"{look}-M"], twin_id=twin_id,
        consent_id=consent_id, image=ref, width=768, height=1024, model="garment_on_twin", product_version=version,
        pose=pose, twin_kind="talent", brand="acme", channels=["ecommerce", "social"], markets=["DE"],
        compute_seconds=1.5, garment_type="dress", size_label="M", monk_skin_tone=5, body_type="athletic",
    )  # fmt: skip
    publisher.send(RENDER_RESULTS.name, look, render, event_id)
    return render


def assets_of(publisher: PublisherProcess, key: str) -> list[dict]:
    response = publisher.get("/v1/assets", sku=key)
    assert response.status_code == 200, response.text
    return response.json()["assets"]


def published(publisher: PublisherProcess, look: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: (a := assets_of(publisher, look)) and len(a) >= count and a, f"{count} assets of {look}")


def feed_records(bootstrap: str, slot: str) -> list[bytes | None]:
    """Values of the feed topic's records for ``slot``, in order (None: a tombstone)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False)
    try:
        partitions = [TopicPartition(ASSET_FEED.name, p) for p in consumer.partitions_for_topic(ASSET_FEED.name)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                values += [r.value for r in records if r.key == slot.encode()]
        return values
    finally:
        consumer.close()


def test_a_render_passing_the_gates_is_published_signed_with_public_links(publisher, store):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-LOOK")
    send_render(publisher, store, look, twin, consent)
    [asset] = published(publisher, f"{look}-S")  # by a variant's SKU
    assert asset["slot"] == f"{look}/{twin}/front" and asset["provenance"] == "signed"
    assert asset["channels"] == ["ecommerce", "social"] and asset["garment_type"] == "dress"
    names = {d["name"]: d for d in asset["derivatives"]}
    assert {"jpeg-1024", "webp-512", "square-1500", "social-1024"} <= names.keys()
    square = httpx.get(names["square-1500"]["url"])  # anonymous, as a shop's browser would
    assert square.status_code == 200 and square.headers["content-type"] == "image/jpeg"
    assert square.headers["cache-control"] == "public, max-age=60"
    assert verify(square.content, "image/jpeg", publisher.ca_pem.read_text()).valid
    assert httpx.get(names["webp-512"]["url"]).headers["content-type"] == "image/webp"


@pytest.mark.parametrize(
    ("image", "quality", "gate"),
    [
        (studio_master(200, 300), None, "resolution"),
        (b"\x89PNG\r\n\x1a\n broken", None, "corrupt"),
        (
            studio_master(768, 1024),
            events_pb2.RenderQuality(garment_delta_e2000=25, garment_coverage=1),
            "garment_colour",
        ),
    ],
)
def test_a_render_failing_a_gate_is_quarantined_and_an_approval_publishes_it(publisher, store, image, quality, gate):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-QA")
    render = send_render(publisher, store, look, twin, consent, image=image)
    if quality is not None:  # the same render again, with figures that fail
        render.render_id = unique("itest-render")
        render.quality.CopyFrom(quality)
        publisher.send(RENDER_RESULTS.name, look, render)

    def listed():
        return [r for r in publisher.get("/v1/review", admin=True).json()["reviews"] if r["look_id"] == look]

    [review] = (
        wait_for(listed, f"{look} listed for review")
        if quality is None
        else wait_for(lambda: [r for r in listed() if gate in r.get("gates", [])], "quarantined by the quality gate")
    )
    assert review["status"] == "pending" and gate in review["gates"]
    if gate == "corrupt":  # nothing to publish: the reviewer rejects it
        assert publisher.post(f"/v1/review/{review['review_id']}/reject").json()["status"] == "rejected"
        assert publisher.post(f"/v1/review/{review['review_id']}/approve").status_code == 409
        return
    approved = publisher.post(f"/v1/review/{review['review_id']}/approve")
    assert approved.status_code == 200, approved.text
    [asset] = published(publisher, look)
    assert asset["asset_id"] == approved.json()["asset"]["asset_id"]


def test_a_failed_render_is_listed_for_review_with_its_reason(publisher):
    look = unique("ITEST-FAILED")
    failed = events_pb2.RenderFailed(render_id=unique("r"), look_id=look, sku=look, code="flat_lay_unreadable",
                                     reason="the flat-lay background is not separable")  # fmt: skip
    publisher.send(RENDER_RESULTS.name, look, failed)
    [review] = wait_for(
        lambda: [r for r in publisher.get("/v1/review", admin=True).json()["reviews"] if r["look_id"] == look],
        "the failure listed",
    )
    assert review["kind"] == "render_failed" and review["reasons"] == ["the flat-lay background is not separable"]


def dead_letters(bootstrap: str, start: int, key: str) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(DEAD_LETTER.name, 0)
        consumer.assign([tp])
        consumer.seek(tp, start)
        end = consumer.end_offsets([tp])[tp]
        reasons = []
        while consumer.position(tp) < end:
            for record in consumer.poll(timeout_ms=500).get(tp, []):
                if record.key == key.encode():
                    reasons.append(dict(record.headers)["dlq.reason"].decode())
        return reasons
    finally:
        consumer.close()


def test_a_forged_render_result_goes_to_the_dead_letter_topic_with_the_reason(publisher, store, stack):
    consumer = KafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
    tp = TopicPartition(DEAD_LETTER.name, 0)
    start = consumer.end_offsets([tp])[tp]
    consumer.close()
    twin = add_twin(publisher)
    look = unique("ITEST-FORGED")
    send_render(publisher, store, look, "twin-nobody", "")
    send_render(publisher, store, look, twin, "", pose="side")
    send_render(publisher, store, look, twin, add_grant(publisher, twin), pose="back", bucket=FLAT_LAYS_BUCKET)
    reasons = wait_for(
        lambda: (r := dead_letters(stack.kafka_bootstrap, start, look)) and len(r) == 3 and r, "three dead letters"
    )
    assert "unknown_twin" in reasons[0] and "no_consent" in reasons[1] and "twinwear-renders" in reasons[2]
    assert assets_of(publisher, look) == []


def test_revocation_withdraws_the_assets_within_the_goal_with_an_audit_entry_and_a_late_render_stays_out(
    publisher, store, stack
):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-REVOKE")
    send_render(publisher, store, look, twin, consent)
    [asset] = published(publisher, look)
    links = [d["url"] for d in asset["derivatives"]]
    revocation = publisher.send(CONSENT.name, twin, twins_pb2.ConsentRevoked(consent_id=consent, twin_id=twin))
    wait_for(lambda: assets_of(publisher, look) == [] or None, "the asset withdrawn")
    assert all(httpx.get(url).status_code in (403, 404) for url in links)
    [audit] = [a for a in publisher.get("/v1/withdrawals", admin=True).json()["withdrawals"] if a["look_id"] == look]
    assert audit["cause_event_id"] == revocation.event_id and audit["reason"] == "consent_revoked"
    assert audit["latency_seconds"] <= 60 and audit["objects_deleted"] == len(links)
    values = feed_records(stack.kafka_bootstrap, asset["slot"])
    assert values[-1] is None and len(values) == 3  # published, withdrawn, then the tombstone
    # A render of the revoked grant arriving late is never published; a later one of another
    # twin on the same look (same partition, so handled after it) shows the publisher got past it.
    send_render(publisher, store, look, twin, consent, version=2)
    other = add_twin(publisher)
    send_render(publisher, store, look, other, add_grant(publisher, other))
    [only] = published(publisher, look)
    assert only["twin_id"] == other


def test_a_replayed_render_completed_publishes_nothing_twice(publisher, store, stack):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-REPLAY")
    render = send_render(publisher, store, look, twin, consent, event_id=unique("event"))
    [asset] = published(publisher, look)
    publisher.send(RENDER_RESULTS.name, look, render)  # the same result again, as a new event
    marker_twin = add_twin(publisher)
    send_render(publisher, store, look, marker_twin, add_grant(publisher, marker_twin), pose="back")
    published(publisher, look, count=2)
    assert len(feed_records(stack.kafka_bootstrap, asset["slot"])) == 1


def test_the_feed_resumes_from_a_cursor_after_a_publisher_restart(publisher, store):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-CURSOR")
    send_render(publisher, store, look, twin, consent)
    published(publisher, look)
    cursor = publisher.get("/v1/assets", sku=look).json()["cursor"]
    assert publisher.stop() == 0
    publisher.start()
    send_render(publisher, store, look, twin, consent, pose="back")
    changes = wait_for(
        lambda: [c for c in publisher.get("/v1/assets/changes", cursor=cursor).json()["changes"]
                 if c["slot"].startswith(look)],
        "the change after the cursor",
    )  # fmt: skip
    assert [c["slot"] for c in changes] == [f"{look}/{twin}/back"]
    with grpc.insecure_channel(f"127.0.0.1:{PORTS.grpc}") as channel:
        feed = asset_feed_pb2_grpc.AssetFeedServiceStub(channel)
        metadata = (("authorization", f"Bearer {API_TOKEN}"),)
        watch = feed.WatchAssets(asset_feed_pb2.WatchAssetsRequest(cursor=cursor, look_id=look), metadata=metadata)
        first = next(watch).change
        watch.cancel()
        assert first.slot == f"{look}/{twin}/back" and first.published.look_id == look
        listed = feed.ListAssets(asset_feed_pb2.ListAssetsRequest(look_id=look), metadata=metadata)
        assert sorted(a.pose for a in listed.assets) == ["back", "front"]
        got = feed.GetAsset(asset_feed_pb2.GetAssetRequest(asset_id=listed.assets[0].asset_id), metadata=metadata)
        assert got.asset == listed.assets[0]
        with pytest.raises(grpc.RpcError) as refused:
            feed.GetAsset(asset_feed_pb2.GetAssetRequest(asset_id="x"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Reflection needs no token, so generic clients (grpcurl) can find the service.
        assert "twinwear.v1.AssetFeedService" in ProtoReflectionDescriptorDatabase(channel).get_services()


def test_the_merchant_feed_parses_and_every_link_resolves_without_overlays(publisher, store):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-MERCHANT")
    send_poses(publisher, store, look, twin, consent)
    published(publisher, look, count=2)
    response = publisher.get("/v1/feeds/merchant.tsv")
    assert response.headers["content-type"].startswith("text/tab-separated-values")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text), delimiter="\t")}
    row = rows[f"{look}-S"]
    assert f"{look}-M" in rows
    links = [row["image_link"], row["lifestyle_image_link"], *row["additional_image_link"].split(",")]
    assert len(links) == 3
    for link in links:
        image = httpx.get(link)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert "social" not in link
    assert "square-1500" in row["image_link"]


def test_the_ledger_counts_each_slot_once_per_channel_and_month(publisher, store):
    twin, consent = consented_twin(publisher)
    look = unique("ITEST-LEDGER")
    send_poses(publisher, store, look, twin, consent)
    send_render(publisher, store, look, twin, consent, pose="front", version=2)  # republished: same slot
    wait_for(lambda: [a for a in assets_of(publisher, look) if a["product_version"] == "2"], "the republish")
    rows = [r for r in publisher.get("/v1/ledger", admin=True).json()["ledger"] if r["twin_id"] == twin]
    assert {(r["channel"], r["images"], r["fee_minor"]) for r in rows} == {("ecommerce", 2, 5000), ("social", 2, 5000)}
    exported = publisher.get("/v1/ledger.csv", admin=True).text
    assert sum(twin in line for line in exported.splitlines()) == 2


def test_the_sustainability_report_adds_up_a_campaigns_renders(publisher, store):
    twin, consent = consented_twin(publisher)
    look, campaign = unique("ITEST-CAMPAIGN"), unique("spring")
    product = events_pb2.ProductUpserted(sku=look, look_id=look, product_version=1, campaign_tags=[campaign])
    publisher.send(PRODUCTS.name, look, product)
    send_poses(publisher, store, look, twin, consent)
    published(publisher, look, count=2)

    def report():
        response = publisher.get("/v1/reports/sustainability", admin=True, campaign=campaign)
        return response.status_code == 200 and {f["name"]: f for f in response.json()["figures"]}

    figures = wait_for(report, "the campaign's report")
    assert figures["renders"]["value"] == 2 and figures["compute_seconds"]["value"] == 3.0
    assert all(f["source"] for f in figures.values())


def test_retiring_the_look_and_deleting_the_twin_withdraw_their_assets(publisher, store):
    twin, consent = consented_twin(publisher)
    retired_look, other_look = unique("ITEST-RETIRE"), unique("ITEST-ERASE")
    send_render(publisher, store, retired_look, twin, consent)
    send_render(publisher, store, other_look, twin, consent)
    published(publisher, retired_look)
    published(publisher, other_look)
    publisher.send(PRODUCTS.name, retired_look, events_pb2.ProductRetired(look_id=retired_look, product_version=1))
    wait_for(lambda: assets_of(publisher, retired_look) == [] or None, "the retired look withdrawn")
    assert assets_of(publisher, other_look) != []
    publisher.send(TWINS.name, twin, twins_pb2.TwinDeleted(twin_id=twin, twin_version=2, kind="talent"))
    wait_for(lambda: assets_of(publisher, other_look) == [] or None, "the erased twin's assets withdrawn")
    reasons = {
        a["look_id"]: a["reason"]
        for a in publisher.get("/v1/withdrawals", admin=True).json()["withdrawals"]
        if a["twin_id"] == twin
    }
    assert reasons == {retired_look: "product_retired", other_look: "twin_deleted"}
