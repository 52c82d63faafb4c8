"""The publisher's handlers against an in-memory stand-in for MinIO (render's: test_render_service.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.publisher.handlers import handle_render_completed, handle_render_failed
from services.publisher.slots import SlotAsset, SlotIndex
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, PUBLISHED_BUCKET, RENDERS_BUCKET
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.storage import MissingObject


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str, dict[str, str]]] = {}
        self.gets = 0

    def put(self, bucket, key, data, content_type, metadata=None):
        self.objects[(bucket, key)] = (data, content_type, dict(metadata or {}))
        return events_pb2.ObjectRef(bucket=bucket, key=key, content_type=content_type, size_bytes=len(data))

    def get(self, ref):
        self.gets += 1
        if (ref.bucket, ref.key) not in self.objects:
            raise MissingObject(f"{ref.bucket}/{ref.key} does not exist")
        return self.objects[(ref.bucket, ref.key)][0]

    def exists(self, bucket, key):
        return (bucket, key) in self.objects

    def copy(self, source, bucket, key, metadata):
        data, content_type, _ = self.objects[(source.bucket, source.key)]
        return self.put(bucket, key, data, content_type, metadata)


def png(colour=(30, 90, 200), size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def incoming(payload) -> Incoming:
    return Incoming(wrap(payload, producer="t", key="k", event_id="e", correlation_id="c"), payload)


def completed(store: MemoryStore, render_id="r1", version=1, bucket=RENDERS_BUCKET) -> events_pb2.RenderCompleted:
    image = store.put(bucket, f"TW-1/{render_id}.png", png(), "image/png")
    return events_pb2.RenderCompleted(
        render_id=render_id, sku="TW-1", twin_id="twin-a", pose="front", product_version=version, image=image
    )


def publish(store, slots, render_completed):
    return handle_render_completed(incoming(render_completed), store, slots)


def test_the_newest_version_wins_its_slot_and_older_or_repeated_results_publish_nothing():
    store, slots = MemoryStore(), SlotIndex(lambda: [])
    [first] = publish(store, slots, completed(store, "r1", version=1))
    slots.committed()
    assert first.key == "TW-1/twin-a/front" and first.payload.slot == first.key
    assert publish(store, slots, completed(store, "r1", version=1)) == []  # replayed
    [newer] = publish(store, slots, completed(store, "r2", version=3))
    slots.committed()
    assert publish(store, slots, completed(store, "r1", version=2)) == []  # stale
    [revert] = publish(store, slots, completed(store, "r1", version=4))  # back to r1, newer version
    assert revert.payload.asset_id == first.payload.asset_id != newer.payload.asset_id
    _, content_type, metadata = store.objects[(PUBLISHED_BUCKET, revert.payload.image.key)]
    assert content_type == "image/png" and metadata["ai-generated"] == "true"


def test_an_aborted_batch_leaves_no_trace_in_the_slot_state():
    store, slots = MemoryStore(), SlotIndex(lambda: [])
    publish(store, slots, completed(store, "r1", version=1))
    slots.discard()  # the transaction holding the feed event never committed
    assert slots.current("TW-1/twin-a/front") is None
    [published] = publish(store, slots, completed(store, "r1", version=1))
    slots.committed()
    assert slots.current("TW-1/twin-a/front") == SlotAsset(1, published.payload.asset_id)


def test_the_publisher_reads_only_from_the_renders_bucket():
    store = MemoryStore()
    with pytest.raises(PermanentError, match="must be in twinwear-renders"):
        publish(store, SlotIndex(lambda: []), completed(store, bucket=FLAT_LAYS_BUCKET))


def test_a_failed_render_publishes_nothing():
    failed = events_pb2.RenderFailed(render_id="r", sku="TW-1", code="flat_lay_unreadable", reason="x")
    assert handle_render_failed(incoming(failed)) == []


def test_the_slot_index_reads_the_feed_again_after_a_discard_and_the_last_record_wins():
    feed = [("s", SlotAsset(1, "b-asset")), ("s", SlotAsset(1, "a-asset")), ("t", SlotAsset(2, "x")), ("t", None)]
    reads = []

    def history():
        reads.append(1)
        return feed

    slots = SlotIndex(history)
    assert slots.current("s") == SlotAsset(1, "a-asset")  # same version, a newer twin: feed order
    assert slots.current("t") is None  # withdrawn
    slots.publish("s", SlotAsset(2, "c-asset"))
    slots.discard()  # e.g. partitions moved: another replica may have written
    feed.append(("s", SlotAsset(3, "d-asset")))
    assert slots.current("s") == SlotAsset(3, "d-asset") and len(reads) == 2
