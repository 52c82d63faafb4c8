"""Reading the inbox topic in the webhook and backfill tests."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PIM_INBOX
from twinwear_runtime.events import EventRegistry, unwrap

_INBOX_EVENTS = EventRegistry(PIM_INBOX.events)


class Inbox:
    """Reads what was written to the inbox topic after it was made, up to the end offsets when
    asked: every record a 200 answer stands for is there by then."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions = [
            TopicPartition(PIM_INBOX.name, p) for p in self._consumer.partitions_for_topic(PIM_INBOX.name)
        ]
        self._consumer.assign(self._partitions)
        for partition, offset in self._consumer.end_offsets(self._partitions).items():
            self._consumer.seek(partition, offset)
        self.records: dict[str, list[events_pb2.PimDelivery]] = {}

    def read(self) -> dict[str, list[events_pb2.PimDelivery]]:
        ends = self._consumer.end_offsets(self._partitions)
        deadline = time.monotonic() + 60
        while any(self._consumer.position(p) < ends[p] for p in self._partitions):
            assert time.monotonic() < deadline, "the inbox topic could not be read to its end"
            for batch in self._consumer.poll(timeout_ms=200).values():
                for record in batch:
                    _, delivery = unwrap(record.value, _INBOX_EVENTS)
                    assert isinstance(delivery, events_pb2.PimDelivery)
                    assert record.key.decode() == f"{delivery.source}:{delivery.event_id}"
                    self.records.setdefault(record.key.decode(), []).append(delivery)
        return self.records

    def close(self) -> None:
        self._consumer.close()
