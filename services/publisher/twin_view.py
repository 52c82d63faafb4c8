"""The publisher's view of twins and consent, read from twinwear.twin.v1 and twinwear.consent.v1.

Ordering: those topics and the render results are different topics, so a render result may be
consumed before the TwinUpserted or ConsentGranted it depends on has been read. ``synced`` reads
both topics to the end committed *at the moment of the decision* before the registry is consulted.
The twin builder commits a twin and its grant before it plans the renders of it, so whatever a
genuine render depends on is then known: a twin still unknown after the sync does not exist (a
forged result, dead-lettered), and a revocation committed before the decision is always seen.
"""

from __future__ import annotations

import threading
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from services.publisher.consent import TwinRegistry
from twinwear_contracts.topics import CONSENT, TWINS
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable

_EVENTS = EventRegistry((*TWINS.events, *CONSENT.events))


class TwinConsentView:
    """Follows the twins and consent topics from their start (read_committed, no consumer group)."""

    def __init__(self, bootstrap: str, sync_timeout_seconds: float = 30.0) -> None:
        self._bootstrap = bootstrap
        self._timeout = sync_timeout_seconds
        self._registry = TwinRegistry()
        self._consumer: KafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._lock = threading.Lock()

    def synced(self) -> TwinRegistry:
        """The registry with every twin and consent event committed until now applied."""
        with self._lock:
            try:
                self._read_to_end()
            except KafkaError as error:
                self._close()
                raise Unavailable("kafka", f"reading twins and consent: {error}") from error
            return self._registry

    def _read_to_end(self) -> None:
        consumer = self._connect()
        ends = consumer.end_offsets(self._partitions)
        deadline = time.monotonic() + self._timeout
        while any(consumer.position(tp) < ends[tp] for tp in self._partitions):
            if time.monotonic() > deadline:
                raise Unavailable("kafka", f"could not read twins and consent to their end in {self._timeout:.0f} s")
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    if record.value is None:  # a deleted twin's tombstone: TwinDeleted came first
                        continue
                    try:
                        _, payload = unwrap(record.value, _EVENTS)
                    except (MalformedEvent, UnknownEvent):
                        continue
                    self._registry.apply(payload)

    def _connect(self) -> KafkaConsumer:
        if self._consumer is None:
            consumer = KafkaConsumer(
                bootstrap_servers=self._bootstrap, isolation_level="read_committed", enable_auto_commit=False
            )
            partitions = [
                TopicPartition(topic.name, p)
                for topic in (TWINS, CONSENT)
                for p in sorted(consumer.partitions_for_topic(topic.name) or ())
            ]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            # A fresh read from the start: the registry is rebuilt, never applied twice.
            self._registry, self._consumer, self._partitions = TwinRegistry(), consumer, partitions
        return self._consumer

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def close(self) -> None:
        with self._lock:
            self._close()
