"""Reading the published asset feed topic from a point in time onwards."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition

from twinwear.v1 import events_pb2
from twinwear_runtime.events import unwrap
from twinwear_runtime.topics import ASSET_FEED


class FeedReader:
    """Reads AssetPublished events written after it was created (no consumer group: it only reads)."""

    def __init__(self, bootstrap: str = "127.0.0.1:9092", topic: str = ASSET_FEED.name) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist (are the services running?)")
        self._consumer.assign(partitions)
        for tp, offset in self._consumer.end_offsets(partitions).items():
            self._consumer.seek(tp, offset)

    def read(self, timeout: float) -> Iterator[tuple[float, events_pb2.AssetPublished]]:
        """Yield (arrival time, event) until ``timeout`` seconds pass without the caller stopping."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in self._consumer.poll(timeout_ms=200).values():
                for record in records:
                    _, payload = unwrap(record.value)
                    assert isinstance(payload, events_pb2.AssetPublished)
                    yield time.monotonic(), payload

    def close(self) -> None:
        self._consumer.close()
