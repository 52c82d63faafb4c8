"""Which events a consumer group has already handled, so a redelivered event has one effect.

Markers are small objects in MinIO, shared by every replica of a service and kept across restarts.
A marker is written only after the handler's effects and produced events are durable.
"""

from __future__ import annotations

from typing import Protocol

from twinwear_runtime.storage import STATE_BUCKET, ObjectStore


class IdempotencyStore(Protocol):
    def seen(self, event_id: str) -> bool: ...

    def mark(self, event_id: str) -> None: ...


# A redelivery can only come from a message still in Kafka (7 days' retention on the local
# stack), so markers older than this can go.
MARKER_DAYS = 30


class ObjectStoreIdempotency:
    def __init__(self, store: ObjectStore, consumer_group: str) -> None:
        self._store = store
        self._prefix = f"processed/{consumer_group}/"
        store.ensure_buckets(STATE_BUCKET)
        store.expire_after(STATE_BUCKET, "processed/", MARKER_DAYS)

    def seen(self, event_id: str) -> bool:
        return self._store.exists(STATE_BUCKET, self._prefix + event_id)

    def mark(self, event_id: str) -> None:
        self._store.put(STATE_BUCKET, self._prefix + event_id, b"", "application/octet-stream")
