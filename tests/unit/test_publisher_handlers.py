"""The publisher's handlers against in-memory stand-ins: QA gates, publish-time consent, the
slot's version order, withdrawals and review. Derivatives are faked (provenance has its own tests)."""

from __future__ import annotations

import datetime as dt

import pytest

from devkit.memory_store import MemoryStore
from services.publisher.consent import TwinRegistry
from services.publisher.handlers import Publisher, ReviewError
from services.publisher.provenance import DerivativeImage
from services.publisher.publishing import PublishSettings
from services.publisher.qa import QaThresholds
from services.publisher.slots import SlotAsset, SlotIndex
from tests.unit.publisher_media import studio_master
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, PUBLISHED_BUCKET, RENDERS_BUCKET
from twinwear_runtime.events import Incoming, Outgoing, Tombstone, wrap
from twinwear_runtime.faults import PermanentError

TODAY = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class MemoryRecords:
    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}

    def put(self, key, document):
        self.documents[key] = dict(document)

    def get(self, key):
        return dict(self.documents[key]) if key in self.documents else None

    def list(self, prefix):
        return [dict(self.documents[k]) for k in sorted(self.documents) if k.startswith(prefix)]


class Twins:
    def __init__(self) -> None:
        self.registry = TwinRegistry()

    def synced(self):
        return self.registry


class Sink:
    def __init__(self) -> None:
        self.published = []

    def publish(self, events):
        self.published.extend(events)


def fake_files(render, master, facts, channels):
    plain = tuple(c for c in channels if c != "social")
    made = [DerivativeImage("jpeg-1024", "jpg", 1024, 1536, plain, False, b"jpeg"),
            DerivativeImage("square-1500", "jpg", 1500, 1500, plain, False, b"square")]  # fmt: skip
    if "social" in channels:
        made.append(DerivativeImage("social-1024", "jpg", 1024, 1536, ("social",), True, b"labelled"))
    return made


def event(payload, event_id="e1", occurred_at=TODAY) -> Incoming:
    return Incoming(
        wrap(payload, producer="t", key="k", event_id=event_id, correlation_id="c", occurred_at=occurred_at), payload
    )


def grant(consent_id="consent-a", channels=("ecommerce", "social"), end="2027-12-31", twin="twin-a", fee=1500):
    return twins_pb2.ConsentGranted(
        grant=twins_pb2.ConsentGrant(
            consent_id=consent_id, twin_id=twin, brand="acme", channels=list(channels), markets=["DE", "FR"],
            start_date="2026-01-01", end_date=end, fee_per_image_minor=fee, currency="EUR",
        )
    )  # fmt: skip


@pytest.fixture
def world():
    store, records, twins, sink = MemoryStore(), MemoryRecords(), Twins(), Sink()
    twins.registry.apply(twins_pb2.TwinUpserted(twin=twins_pb2.Twin(twin_id="twin-a", twin_version=1, kind="talent")))
    twins.registry.apply(grant())
    twins.registry.apply(twins_pb2.TwinUpserted(twin=twins_pb2.Twin(twin_id="synth", kind="synthetic", brand="acme")))
    publisher = Publisher(
        store=store,
        slots=SlotIndex(lambda: []),
        twins=twins,
        files=fake_files,
        records=records,
        settings=PublishSettings("https://cdn.example/pub"),
        thresholds=QaThresholds(),
        sink=sink,
        now=lambda: TODAY,
    )
    return publisher


def completed(publisher, render_id="r1", version=1, twin="twin-a", consent="consent-a", image=None, **fields):
    ref = publisher.store.put(RENDERS_BUCKET, f"{render_id}.png", image or studio_master(384, 512), "image/png")
    defaults = {"channels": ["ecommerce", "social"], "markets": ["DE"], "twin_kind": "talent", "pose": "front"}
    return events_pb2.RenderCompleted(
        render_id=render_id, sku="V-1-M", look_id="LOOK-1", variant_skus=["V-1-S", "V-1-M"], twin_id=twin,
        consent_id=consent, product_version=version, image=ref, brand="acme", **(defaults | fields),
    )  # fmt: skip


def publish(publisher, render, event_id="e1"):
    outputs = publisher.render_completed(event(render, event_id))
    publisher.slots.committed()
    return outputs


def test_a_render_that_passes_the_gates_is_published_with_links_labels_only_where_asked_and_a_ledger_fact(world):
    [out] = publish(world, completed(world))
    asset = out.payload
    assert out.key == "LOOK-1/twin-a/front" and asset.slot == out.key
    assert asset.channels == ["ecommerce", "social"] and asset.markets == ["DE"] and asset.consent_id == "consent-a"
    names = {d.name: d for d in asset.derivatives}
    assert names["social-1024"].visible_label and names["social-1024"].channels == ["social"]
    assert names["square-1500"].url == f"https://cdn.example/pub/{names['square-1500'].object.key}"
    _, content_type, metadata = world.store.objects[(PUBLISHED_BUCKET, names["jpeg-1024"].object.key)]
    assert content_type == "image/jpeg" and metadata["Cache-Control"] == "public, max-age=60"
    ledger = world.records.list("ledger/2026-11/twin-a/")
    assert sorted(f["channel"] for f in ledger) == ["ecommerce", "social"]
    assert {f["fee_per_image_minor"] for f in ledger} == {1500}


@pytest.mark.parametrize(
    ("change", "gate"),
    [
        ({"image": b"\x89PNG not really"}, "corrupt"),
        ({"image": studio_master(200, 300)}, "resolution"),
        ({"image": "uniform"}, "blank"),
        ({"quality": events_pb2.RenderQuality(garment_delta_e2000=14, garment_coverage=1)}, "garment_colour"),
        ({"quality": events_pb2.RenderQuality(garment_coverage=0.5)}, "garment_coverage"),
        ({"quality": events_pb2.RenderQuality(garment_coverage=1, skin_delta_e2000=12)}, "skin_colour"),
        ({"quality": events_pb2.RenderQuality(garment_coverage=1, body_through_garment=0.1)}, "body_through_garment"),
    ],
)
def test_each_gate_quarantines_a_render_that_fails_it_and_lists_it_for_review(world, change, gate):
    if change.get("image") == "uniform":
        import io

        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (384, 512), (240, 240, 240)).save(out, "PNG")
        change = {"image": out.getvalue()}
    assert publish(world, completed(world, **change)) == []
    [review] = world.reviews("pending")
    assert review["kind"] == "quarantined" and gate in review["gates"] and "render" not in review


def test_the_quality_figures_pass_within_the_thresholds(world):
    quality = events_pb2.RenderQuality(garment_delta_e2000=3, garment_coverage=0.97, skin_delta_e2000=2)
    assert len(publish(world, completed(world, quality=quality))) == 1


def test_approval_publishes_a_quarantined_render_and_rejection_keeps_it_out(world):
    publish(world, completed(world, render_id="r1", image=studio_master(200, 300)))
    publish(world, completed(world, render_id="r2", image=studio_master(200, 300), pose="back"))
    asset = world.approve("r1", "alice")
    assert asset.slot == "LOOK-1/twin-a/front" and world.sink.published[0][1].partition_key == asset.slot
    assert world.reject("r2", "bob")["status"] == "rejected"
    with pytest.raises(ReviewError, match="rejected already"):
        world.approve("r2", "alice")
    # A replay of the rejected render stays out; one of the approved one is a duplicate.
    assert publish(world, completed(world, render_id="r2", image=studio_master(200, 300), pose="back")) == []
    assert {r["review_id"]: r["status"] for r in world.reviews()} == {"r1": "approved", "r2": "rejected"}


def test_a_failed_render_is_listed_for_review_with_its_reason(world):
    failed = events_pb2.RenderFailed(
        render_id="rf", sku="V-1-M", look_id="LOOK-1", code="flat_lay_unreadable", reason="no garment"
    )
    assert world.render_failed(event(failed)) == []
    [review] = world.reviews()
    assert (review["kind"], review["code"], review["reasons"]) == (
        "render_failed",
        "flat_lay_unreadable",
        ["no garment"],
    )
    with pytest.raises(ReviewError, match="no image to approve"):
        world.approve("rf", "alice")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"twin": "twin-nobody"}, "unknown_twin"),
        ({"consent": ""}, "no_consent"),
        ({"consent": "consent-of-someone-else"}, "unknown_consent"),
        ({"twin_kind": "customer"}, "customer avatar"),
    ],
)
def test_a_forged_render_is_dead_lettered_with_the_reason(world, change, message):
    with pytest.raises(PermanentError, match=message):
        publish(world, completed(world, **change))


def test_the_image_must_come_from_the_renders_bucket(world):
    render = completed(world)
    render.image.CopyFrom(world.store.put(FLAT_LAYS_BUCKET, "flat.png", studio_master(), "image/png"))
    with pytest.raises(PermanentError, match="image must be in twinwear-renders"):
        publish(world, render)
    clip = completed(world)
    clip.turntable_mp4.CopyFrom(world.store.put(PUBLISHED_BUCKET, "someone-elses.mp4", b"mp4", "video/mp4"))
    with pytest.raises(PermanentError, match="turntable_mp4 must be in twinwear-renders"):
        publish(world, clip)


def test_a_late_render_of_a_revoked_grant_is_never_published_and_a_synthetic_twin_needs_no_grant(world):
    world.twins.registry.apply(twins_pb2.ConsentRevoked(consent_id="consent-a", twin_id="twin-a"))
    assert publish(world, completed(world)) == []
    [synthetic] = publish(world, completed(world, render_id="r-s", twin="synth", consent="", twin_kind="synthetic"))
    assert synthetic.payload.consent_id == "" and not world.records.list("ledger/2026-11/synth/")


def test_the_newest_version_wins_its_slot_and_a_replay_publishes_nothing_twice(world):
    [first] = publish(world, completed(world, "r1", version=1))
    assert publish(world, completed(world, "r1", version=1), event_id="e-replay") == []
    [newer] = publish(world, completed(world, "r2", version=3))
    assert publish(world, completed(world, "r1", version=2)) == []  # stale
    [revert] = publish(world, completed(world, "r1", version=4))  # back to r1's imagery, newer version
    assert revert.payload.asset_id == first.payload.asset_id != newer.payload.asset_id
    assert len(world.records.list("ledger/")) == 2  # one slot, two channels, one month


def test_revocation_withdraws_every_asset_of_the_grant_with_an_audit_entry(world):
    [out] = publish(world, completed(world))
    keys = [d.object.key for d in out.payload.derivatives]
    world.twins.registry.apply(twins_pb2.ConsentRevoked(consent_id="consent-a", twin_id="twin-a"))
    revoked = twins_pb2.ConsentRevoked(consent_id="consent-a", twin_id="twin-a")
    withdrawn, tombstone = world.consent_ended(event(revoked, "e-revoke", TODAY - dt.timedelta(seconds=3)))
    world.slots.committed()
    assert isinstance(withdrawn, Outgoing) and withdrawn.payload.reason == "consent_revoked"
    assert tombstone == Tombstone("twinwear.asset-feed.v1", "LOOK-1/twin-a/front")
    assert not any((PUBLISHED_BUCKET, k) in world.store.objects for k in keys)
    [audit] = world.records.list("audit/")
    assert (audit["outcome"], audit["latency_seconds"], audit["cause_event_id"]) == ("withdrawn", 3.0, "e-revoke")
    assert publish(world, completed(world), event_id="e-late") == []  # replayed late: stays out
    assert world.consent_ended(event(revoked, "e-revoke")) == []  # a repeated revocation: nothing left


def test_an_asset_still_cleared_by_another_grant_is_republished_on_fewer_channels(world):
    world.twins.registry.apply(grant("consent-b", channels=("ecommerce",)))
    [out] = publish(world, completed(world))
    social = next(d for d in out.payload.derivatives if d.name == "social-1024")
    world.twins.registry.apply(twins_pb2.ConsentRevoked(consent_id="consent-a", twin_id="twin-a"))
    [republished] = world.consent_ended(event(twins_pb2.ConsentRevoked(consent_id="consent-a", twin_id="twin-a")))
    assert republished.payload.channels == ["ecommerce"] and republished.payload.consent_id == "consent-b"
    assert "social-1024" not in {d.name for d in republished.payload.derivatives}
    assert (PUBLISHED_BUCKET, social.object.key) not in world.store.objects
    assert world.records.list("audit/")[0]["outcome"] == "narrowed"


def test_retiring_the_look_or_deleting_the_twin_withdraws_and_a_variant_retirement_narrows(world):
    publish(world, completed(world, "r1"))
    publish(world, completed(world, "r2", pose="back"))
    _, narrowed = world.product_retired(
        event(events_pb2.ProductRetired(look_id="LOOK-1", variant_sku="V-1-S", product_version=5))
    )
    assert narrowed.key == "LOOK-1/twin-a/front" and narrowed.payload.variant_skus == ["V-1-M"]
    world.slots.committed()
    outputs = world.product_retired(event(events_pb2.ProductRetired(look_id="LOOK-1", product_version=5), "e-retire"))
    world.slots.committed()
    assert [o.payload.reason for o in outputs if isinstance(o, Outgoing)] == ["product_retired"] * 2
    assert world.slots.current("LOOK-1/twin-a/front") == SlotAsset(5, narrowed.payload.asset_id, withdrawn=True)
    assert publish(world, completed(world, "r1", version=5)) == []  # a render of the retired version
    publish(world, completed(world, "r3", version=6))  # the look came back
    [withdrawn, _] = world.twin_deleted(event(twins_pb2.TwinDeleted(twin_id="twin-a")))
    assert withdrawn.payload.reason == "twin_deleted"
