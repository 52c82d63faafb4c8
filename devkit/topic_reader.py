"""Reading a topic, such as the published asset feed, from its start or from now on."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from twinwear.v1 import events_pb2
from twinwear_contracts.topics import ASSET_FEED
from twinwear_runtime.events import EventRegistry, unwrap

_FEED_EVENTS = EventRegistry(ASSET_FEED.events)


class TopicReader:
    """Reads a topic's records, those written after it was created unless ``from_beginning``.
    No consumer group: it only watches."""

    def __init__(
        self, topic: str = ASSET_FEED.name, from_beginning: bool = False, bootstrap: str = "127.0.0.1:9092"
    ) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        partitions = [TopicPartition(topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            self._consumer.close()
            raise RuntimeError(f"topic {topic} does not exist (are the services running?)")
        self._consumer.assign(partitions)
        if from_beginning:
            self._consumer.seek_to_beginning(*partitions)
        else:  # the end offsets now, not at the first poll, so nothing written meanwhile is missed
            for tp, offset in self._consumer.end_offsets(partitions).items():
                self._consumer.seek(tp, offset)

    def records(self, timeout: float) -> Iterator[ConsumerRecord]:
        """Yield records as they arrive, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in self._consumer.poll(timeout_ms=200).values():
                yield from batch

    def assets(self, timeout: float) -> Iterator[events_pb2.AssetPublished]:
        """Yield the AssetPublished events of the feed topic as they arrive (withdrawals and their
        tombstones are skipped)."""
        for record in self.records(timeout):
            if record.value is None:
                continue
            _, payload = unwrap(record.value, _FEED_EVENTS)
            if isinstance(payload, events_pb2.AssetPublished):
                yield payload

    def close(self) -> None:
        self._consumer.close()
