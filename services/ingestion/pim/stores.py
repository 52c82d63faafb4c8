"""The aggregator's durable state, as small JSON objects in MinIO's state bucket under
deterministic keys: each look's state, the indexes from PIM ids to looks, and the rejections.

Writes happen before the consumer's transaction commits, so a batch that aborts is handled again
over state that already holds its changes. Each look therefore remembers the inbox records it
applied, with the events they produced: a record handled again gives the same events (the same
ids), while another delivery of the same PIM event is a duplicate and gives none."""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Protocol

from google.protobuf.message import Message

from services.ingestion.pim.delivery import Rejection
from services.ingestion.pim.looks import LookState, dump_state, load_state
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import STATE_BUCKET
from twinwear_runtime.events import Outgoing, derive_id
from twinwear_runtime.storage import MissingObject, ObjectStore

# The prefix of every key the aggregator writes in the state bucket.
STATE_PREFIX = "ingestion/pim"
# Inbox records remembered per look: more than a batch touches one look.
_APPLIED_KEPT = 32
_PAYLOADS: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls for cls in (events_pb2.ProductUpserted, events_pb2.ProductRetired)
}
# Far enough in the future that every received_at_us fits below it in 16 digits.
_KEY_CLOCK = 10**16 - 1


class ListingStore(ObjectStore, Protocol):
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...


class VersionedStore(Protocol):
    """Reads with an ETag and writes only over that ETag (MinioObjectStore): two aggregator
    replicas handling deliveries of one look at once never lose each other's change."""

    def get_versioned(self, bucket: str, key: str) -> tuple[bytes, str] | None: ...

    def put_if(self, bucket: str, key: str, data: bytes, content_type: str, etag: str | None) -> None: ...


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _get_json(store: ObjectStore, key: str) -> dict[str, object] | None:
    try:
        document = json.loads(store.get(events_pb2.ObjectRef(bucket=STATE_BUCKET, key=key)))
    except MissingObject:
        return None
    return document if isinstance(document, dict) else None


def _put_json(store: ObjectStore, key: str, document: object) -> None:
    store.put(STATE_BUCKET, key, json.dumps(document, sort_keys=True).encode(), "application/json")


@dataclass
class StoredLook:
    state: LookState
    # Inbox record ("topic/partition/offset/event id") -> the events it produced, oldest first.
    applied: dict[str, list[Outgoing]] = field(default_factory=dict)
    # The stored object's ETag when read; None: it did not exist.
    etag: str | None = None


class LookStore:
    def __init__(self, store: VersionedStore, prefix: str = STATE_PREFIX) -> None:
        self._store = store
        self._prefix = prefix

    def _key(self, look_id: str) -> str:
        return f"{self._prefix}/looks/{_quote(look_id)}.json"

    def get(self, look_id: str) -> StoredLook:
        found = self._store.get_versioned(STATE_BUCKET, self._key(look_id))
        if found is None:
            return StoredLook(LookState(look_id))
        document = json.loads(found[0])
        state, applied = document["state"], document.get("applied") or []
        return StoredLook(
            load_state(state),
            {item["record"]: [_outgoing(o) for o in item["outputs"]] for item in applied},
            found[1],
        )

    def put(self, look: StoredLook) -> None:
        """Raises PreconditionFailed when another writer changed the look since it was read."""
        applied = list(look.applied.items())[-_APPLIED_KEPT:]
        document = {
            "state": dump_state(look.state),
            "applied": [{"record": r, "outputs": [_outgoing_json(o) for o in outs]} for r, outs in applied],
        }
        body = json.dumps(document, sort_keys=True).encode()
        self._store.put_if(STATE_BUCKET, self._key(look.state.look_id), body, "application/json", look.etag)


def _outgoing_json(outgoing: Outgoing) -> dict[str, str]:
    return {
        "topic": outgoing.topic,
        "key": outgoing.key,
        "identity": outgoing.identity,
        "type": outgoing.payload.DESCRIPTOR.full_name,
        "payload": base64.b64encode(outgoing.payload.SerializeToString(deterministic=True)).decode(),
    }


def _outgoing(document: dict[str, str]) -> Outgoing:
    payload = _PAYLOADS[document["type"]].FromString(base64.b64decode(document["payload"]))
    return Outgoing(document["topic"], document["key"], payload, document["identity"])


class IndexStore:
    """PIM id -> the look (and SKU) it was last seen in, for deletions that carry only the id."""

    def __init__(self, store: ObjectStore, prefix: str = STATE_PREFIX) -> None:
        self._store = store
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}/index/{_quote(key)}.json"

    def get(self, key: str) -> dict[str, object] | None:
        return _get_json(self._store, self._key(key))

    def put(self, key: str, document: dict[str, object]) -> None:
        _put_json(self._store, self._key(key), document)


class RejectionStore:
    """Rejections under keys that sort newest first; the same rejection handled twice is one object."""

    def __init__(self, store: ListingStore, prefix: str = STATE_PREFIX) -> None:
        self._store = store
        self._prefix = f"{prefix}/rejections/"

    def record(self, rejection: Rejection, received_at_us: int) -> None:
        identity = derive_id(
            rejection.source, rejection.source_event_id, rejection.look_id, rejection.sku, rejection.reason
        )
        key = f"{self._prefix}{_KEY_CLOCK - received_at_us:016d}-{identity}.json"
        _put_json(self._store, key, {**asdict(rejection), "received_at_us": received_at_us})

    def newest(
        self, limit: int, look_id: str = "", source_event_id: str = "", scan: int = 5000
    ) -> list[dict[str, object]]:
        """Up to ``limit`` rejections, newest first, optionally of one look or one source event."""
        found: list[dict[str, object]] = []
        for key in sorted(self._store.list_keys(STATE_BUCKET, self._prefix))[:scan]:
            document = _get_json(self._store, key)
            if document is None:
                continue
            if (look_id and document.get("look_id") != look_id) or (
                source_event_id and document.get("source_event_id") != source_event_id
            ):
                continue
            found.append(document)
            if len(found) >= limit:
                break
        return found
