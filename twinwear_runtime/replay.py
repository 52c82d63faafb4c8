"""Reading topics from their start to their current end, committed records only: how a service
rebuilds state it keeps in Kafka (a compacted registry, a ledger) when it starts."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from twinwear.v1 import envelope_pb2
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.topics import Topic


@dataclass(frozen=True)
class Replayed:
    """One record: its key and, unless it is a tombstone, its envelope and payload."""

    topic: str
    key: str
    envelope: envelope_pb2.EventEnvelope | None
    payload: Message | None


def read_to_end(bootstrap: str, topics: Sequence[Topic], timeout_seconds: float = 120.0) -> list[Replayed]:
    """Every committed record of ``topics`` up to their end offsets now, in order per partition.
    Records that cannot be decoded, or of types the topics do not declare, are skipped (the live
    consumer dead-letters or parks them)."""
    try:
        return list(_records(bootstrap, topics, timeout_seconds))
    except KafkaError as error:
        raise Unavailable("kafka", f"reading {', '.join(t.name for t in topics)}: {error}") from error


def _records(bootstrap: str, topics: Sequence[Topic], timeout_seconds: float) -> Iterator[Replayed]:
    registry = EventRegistry(event for topic in topics for event in topic.events)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic.name) or ())
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise Unavailable("kafka", f"could not read the topics to their end in {timeout_seconds:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.key is None or record.offset >= ends[TopicPartition(record.topic, record.partition)]:
                        continue
                    if record.value is None:
                        yield Replayed(record.topic, record.key.decode(), None, None)
                        continue
                    try:
                        envelope, payload = unwrap(record.value, registry)
                    except (MalformedEvent, UnknownEvent):
                        continue
                    yield Replayed(record.topic, record.key.decode(), envelope, payload)
    finally:
        consumer.close()
