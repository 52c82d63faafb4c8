"""Loads the publisher's slot index from the compacted asset feed itself, so the feed is the one
record of what is published and a restarted publisher knows every slot's newest version."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from services.publisher.slots import SlotAsset, SlotIndex
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import ASSET_FEED
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable

_FEED_EVENTS = EventRegistry(ASSET_FEED.events)


def load_slot_index(bootstrap: str, timeout_seconds: float = 60.0) -> SlotIndex:
    """Read the committed feed from its start to its end."""
    index = SlotIndex()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(ASSET_FEED.name, p) for p in sorted(consumer.partitions_for_topic(ASSET_FEED.name) or ())
        ]
        if not partitions:
            return index
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise Unavailable("kafka", f"could not read {ASSET_FEED.name} to its end in {timeout_seconds:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    _apply(index, record.key, record.value)
    finally:
        consumer.close()
    return index


def _apply(index: SlotIndex, key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    if value is None:
        index.applied(key.decode(), None)
        return
    try:
        _, payload = unwrap(value, _FEED_EVENTS)
    except (MalformedEvent, UnknownEvent):
        return
    if isinstance(payload, events_pb2.AssetPublished):
        index.applied(key.decode(), SlotAsset(payload.product_version, payload.asset_id))
