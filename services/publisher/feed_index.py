"""Reads the committed asset feed from its start, so the feed is the one record of what is
published: the publisher's slot index is rebuilt from it (see ``slots.SlotIndex``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from services.publisher.slots import SlotAsset
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import ASSET_FEED
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable

_FEED_EVENTS = EventRegistry(ASSET_FEED.events)


def read_feed(bootstrap: str, timeout_seconds: float = 60.0) -> list[tuple[str, SlotAsset | None]]:
    """Every committed feed record, oldest first per partition (a slot lives on one partition)."""
    try:
        return list(_records(bootstrap, timeout_seconds))
    except KafkaError as error:
        raise Unavailable("kafka", f"reading {ASSET_FEED.name}: {error}") from error


def _records(bootstrap: str, timeout_seconds: float) -> Iterator[tuple[str, SlotAsset | None]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False)
    try:
        topic = ASSET_FEED.name
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise Unavailable("kafka", f"could not read {topic} to its end in {timeout_seconds:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if (entry := _entry(record.key, record.value)) is not None:
                        yield entry
    finally:
        consumer.close()


def _entry(key: bytes | None, value: bytes | None) -> tuple[str, SlotAsset | None] | None:
    if key is None:
        return None
    if value is None:
        return key.decode(), None
    try:
        _, payload = unwrap(value, _FEED_EVENTS)
    except (MalformedEvent, UnknownEvent):
        return None
    if not isinstance(payload, events_pb2.AssetPublished):
        return None
    return key.decode(), SlotAsset(payload.product_version, payload.asset_id)
