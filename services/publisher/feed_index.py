"""The asset feed as the publisher reads it back: the compacted topic is the one record of what is
published. ``read_feed`` reads it once to its end (the consumer's slot index is rebuilt from it);
``FeedView`` is what the feed APIs serve, kept current by ``follow_feed``."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from services.publisher.slots import SlotAsset
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import ASSET_FEED
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.kafka import Record

_FEED_EVENTS = EventRegistry(ASSET_FEED.events)
log = structlog.get_logger()
FeedEvent = events_pb2.AssetPublished | events_pb2.AssetWithdrawn | None


@dataclass(frozen=True)
class FeedRecord:
    partition: int
    offset: int
    slot: str
    # None: the slot's tombstone.
    event: FeedEvent


def read_feed(bootstrap: str, timeout_seconds: float = 60.0) -> list[tuple[str, SlotAsset | None]]:
    """Every committed feed record, oldest first per partition (a slot lives on one partition)."""
    try:
        return [(r.slot, _slot_asset(r.event)) for r in _read_to_end(bootstrap, timeout_seconds)]
    except KafkaError as error:
        raise Unavailable("kafka", f"reading {ASSET_FEED.name}: {error}") from error


def _slot_asset(event: FeedEvent) -> SlotAsset | None:
    if isinstance(event, events_pb2.AssetWithdrawn):
        return SlotAsset(event.product_version, event.asset_id, withdrawn=True)
    if event is None:
        return None
    return SlotAsset(event.product_version, event.asset_id, published=event)


def _feed_consumer(bootstrap: str) -> tuple[KafkaConsumer, list[TopicPartition]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False)
    topic = ASSET_FEED.name
    # A topic created a moment ago may not be in this client's metadata yet.
    deadline = time.monotonic() + 30
    while not (known := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            consumer.close()
            raise KafkaTimeoutError(f"{topic}: no partitions in the cluster's metadata after 30 s")
        time.sleep(0.5)
    partitions = [TopicPartition(topic, p) for p in sorted(known)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return consumer, partitions


def _read_to_end(bootstrap: str, timeout_seconds: float) -> Iterator[FeedRecord]:
    consumer, partitions = _feed_consumer(bootstrap)
    try:
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_seconds
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise Unavailable("kafka", f"could not read {ASSET_FEED.name} to its end in {timeout_seconds:.0f} s")
            for records in consumer.poll(timeout_ms=500).values():
                yield from filter(None, map(_record, records))
    finally:
        consumer.close()


def _record(record: Record) -> FeedRecord | None:
    key, value, partition, offset = record.key, record.value, record.partition, record.offset
    if key is None:
        return None
    if value is None:
        return FeedRecord(partition, offset, key.decode(), None)
    try:
        _, payload = unwrap(value, _FEED_EVENTS)
    except (MalformedEvent, UnknownEvent):
        return None
    assert isinstance(payload, events_pb2.AssetPublished | events_pb2.AssetWithdrawn)
    return FeedRecord(partition, offset, key.decode(), payload)


class InvalidCursor(ValueError):
    pass


Cursor = dict[int, int]


def encode_cursor(positions: Cursor) -> str:
    """The next offset to read per partition, as an opaque token."""
    text = ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """Raises :class:`InvalidCursor` for anything ``encode_cursor`` did not make."""
    if not token:
        return {}
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        pairs = [part.split(":") for part in text.split(",")]
        positions = {int(p): int(o) for p, o in pairs}
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor(f"cursor {token[:40]!r} is not one this feed gave") from error
    if any(p < 0 or o < 0 for p, o in positions.items()):
        raise InvalidCursor(f"cursor {token[:40]!r} is not one this feed gave")
    return positions


class FeedView:
    """The feed's records and the asset each slot holds now; safe to read from API threads while
    ``add`` appends. Watchers wait on it for new records."""

    def __init__(self) -> None:
        self._records: list[FeedRecord] = []
        self._assets: dict[str, events_pb2.AssetPublished] = {}
        self._positions: Cursor = {}
        self._changed = threading.Condition()
        self.caught_up = threading.Event()

    def add(self, records: list[FeedRecord]) -> None:
        with self._changed:
            for record in records:
                self._records.append(record)
                if isinstance(record.event, events_pb2.AssetPublished):
                    self._assets[record.slot] = record.event
                else:
                    self._assets.pop(record.slot, None)
                self._positions[record.partition] = record.offset + 1
            self._changed.notify_all()

    def cursor(self) -> Cursor:
        with self._changed:
            return dict(self._positions)

    def assets(self) -> list[events_pb2.AssetPublished]:
        with self._changed:
            return [self._assets[slot] for slot in sorted(self._assets)]

    def assets_for(self, key: str) -> list[events_pb2.AssetPublished]:
        """The assets of a look, or of the look a variant SKU belongs to."""
        return [a for a in self.assets() if key in (a.look_id, a.sku) or key in a.variant_skus]

    def asset(self, asset_id: str) -> events_pb2.AssetPublished | None:
        return next((a for a in self.assets() if a.asset_id == asset_id), None)

    def changes_since(self, cursor: Cursor) -> list[FeedRecord]:
        with self._changed:
            return [r for r in self._records if r.offset >= cursor.get(r.partition, 0)]

    def wait_for_changes(self, cursor: Cursor, timeout_seconds: float) -> list[FeedRecord]:
        """Changes past ``cursor``, waiting up to ``timeout_seconds`` for one to come."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self.changes_since(cursor)), timeout_seconds)
            return self.changes_since(cursor)


def follow_feed(bootstrap: str, view: FeedView, stopped: threading.Event, on_error: Callable[[str], None]) -> None:
    """Read the feed from its start into ``view`` until ``stopped``; sets ``view.caught_up`` once
    it reached the end it found at start. Reconnects after a broker outage."""
    while not stopped.is_set():
        try:
            consumer, partitions = _feed_consumer(bootstrap)
            try:
                positions = view.cursor()
                for tp in partitions:  # after a reconnect, go on where the view stands
                    if tp.partition in positions:
                        consumer.seek(tp, positions[tp.partition])
                ends = consumer.end_offsets(partitions)
                while not stopped.is_set():
                    batch = consumer.poll(timeout_ms=200)
                    view.add([r for records in batch.values() for r in map(_record, records) if r is not None])
                    if not view.caught_up.is_set() and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                        view.caught_up.set()
            finally:
                consumer.close()
        except KafkaError as error:
            on_error(str(error))
            stopped.wait(2.0)
