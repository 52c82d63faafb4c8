"""Accepting a product: store its flat-lay, then emit ProductUpserted, unless a newer version or
this very content was accepted already; retiring one: emit ProductRetired, ordered by the same
newest version per SKU. Shared by the HTTP and gRPC APIs."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from PIL import Image

from services.ingestion.domain import ProductSubmission
from services.ingestion.pim.images import dominant_colour
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import PRODUCTS
from twinwear_runtime.events import derive_id, wrap
from twinwear_runtime.faults import Unavailable, as_unavailable
from twinwear_runtime.kafka import EventSink
from twinwear_runtime.storage import MissingObject, ObjectStore

SERVICE = "ingestion"
log = structlog.get_logger()


@dataclass(frozen=True)
class Accepted:
    sku: str
    revision: str
    event_id: str
    # True when this request produced a new product event.
    created: bool
    product_version: int
    # True when a newer version of the SKU was accepted before: this one changed nothing.
    stale: bool = False


@dataclass(frozen=True)
class Retired:
    sku: str
    event_id: str
    # True when this request produced a new ProductRetired.
    created: bool
    product_version: int
    # True when a newer version of the SKU was accepted before: this retirement changed nothing.
    stale: bool = False


class UnknownProduct(LookupError):
    """A retirement of a SKU that was never accepted."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"sku {sku} was never accepted")
        self.sku = sku


# The revision recorded for a retired SKU; real revisions are content hashes, so never equal to it.
RETIRED_REVISION = "retired"


@dataclass(frozen=True)
class NewestVersion:
    product_version: int
    revision: str
    event_id: str


class ProductVersions(Protocol):
    """The newest accepted version of each SKU."""

    def newest(self, sku: str) -> NewestVersion | None: ...

    def record(self, sku: str, newest: NewestVersion) -> None: ...


class StoredProductVersions:
    """Newest versions as small JSON objects in the state bucket, shared by every replica."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def newest(self, sku: str) -> NewestVersion | None:
        try:
            document = json.loads(self._store.get(events_pb2.ObjectRef(bucket=STATE_BUCKET, key=self._key(sku))))
        except MissingObject:
            return None
        return NewestVersion(**document)

    def record(self, sku: str, newest: NewestVersion) -> None:
        body = json.dumps(newest.__dict__).encode()
        self._store.put(STATE_BUCKET, self._key(sku), body, "application/json")

    @staticmethod
    def _key(sku: str) -> str:
        return f"ingestion/products/{sku}.json"


def flat_lay_facts(data: bytes) -> tuple[int, int, events_pb2.Rgb]:
    """Width, height and garment colour of a flat lay already checked by the domain."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        r, g, b = dominant_colour(image)
    return width, height, events_pb2.Rgb(r=r, g=g, b=b)


def receive_time_version() -> int:
    return time.time_ns() // 1000


def accept_product(
    submission: ProductSubmission,
    store: ObjectStore,
    sink: EventSink,
    versions: ProductVersions,
    clock: Callable[[], int] = receive_time_version,
) -> Accepted:
    """Idempotent: the same content as the newest accepted version gives that version's event id
    and no new event; an older version gives nothing (stale). The event is durable before this
    returns, and the newest version is recorded after it."""
    version = submission.product_version or clock()
    newest = versions.newest(submission.sku)
    if newest is not None and newest.revision == submission.revision:
        return Accepted(submission.sku, submission.revision, newest.event_id, False, newest.product_version)
    if newest is not None and version <= newest.product_version:
        return Accepted(submission.sku, submission.revision, "", False, version, stale=True)
    flat_lay = store.put(
        FLAT_LAYS_BUCKET, submission.flat_lay_key, submission.flat_lay, submission.flat_lay_content_type
    )
    r, g, b = submission.colour
    width, height, dominant = flat_lay_facts(submission.flat_lay)
    event = events_pb2.ProductUpserted(
        sku=submission.sku,
        title=submission.title,
        category=submission.category,
        revision=submission.revision,
        flat_lay=flat_lay,
        colour=events_pb2.Rgb(r=r, g=g, b=b),
        source=submission.source,
        product_version=version,
        imagery_digest=submission.imagery_digest,
        # The JSON API's product is one look of one variant, both named by the SKU.
        look_id=submission.sku,
        variants=[events_pb2.Variant(sku=submission.sku, enabled=True)],
        images=[
            events_pb2.ProductImage(
                role="flat_lay", object=flat_lay, width=width, height=height, dominant_colour=dominant
            )
        ],
        enabled=True,
    )
    event_id = derive_id(SERVICE, submission.sku, str(version), submission.revision)
    envelope = wrap(event, producer=SERVICE, key=submission.sku, event_id=event_id, correlation_id=event_id)
    sink.publish([(PRODUCTS.name, envelope)])
    versions.record(submission.sku, NewestVersion(version, submission.revision, event_id))
    return Accepted(submission.sku, submission.revision, event_id, True, version)


def retire_product(
    sku: str,
    product_version: int,
    source: str,
    sink: EventSink,
    versions: ProductVersions,
    clock: Callable[[], int] = receive_time_version,
) -> Retired:
    """Emit ProductRetired unless the SKU is already retired (its event id again) or a newer version
    was accepted (stale). Recorded as the SKU's newest version, so that a later upsert with a newer
    version revives the product and an older one is stale. Raises UnknownProduct for a SKU never seen."""
    newest = versions.newest(sku)
    if newest is None:
        raise UnknownProduct(sku)
    if newest.revision == RETIRED_REVISION:
        return Retired(sku, newest.event_id, False, newest.product_version)
    version = product_version or clock()
    if version <= newest.product_version:
        return Retired(sku, "", False, version, stale=True)
    event = events_pb2.ProductRetired(sku=sku, look_id=sku, product_version=version, source=source)
    event_id = derive_id(SERVICE, sku, str(version), RETIRED_REVISION)
    envelope = wrap(event, producer=SERVICE, key=sku, event_id=event_id, correlation_id=event_id)
    sink.publish([(PRODUCTS.name, envelope)])
    versions.record(sku, NewestVersion(version, RETIRED_REVISION, event_id))
    return Retired(sku, event_id, True, version)


def failure_cause(error: Exception) -> Unavailable | None:
    """Log why accepting failed; return the dependency that is down (the caller should retry), or
    None for a bug. Call it from the ``except`` block, so that a bug is logged with its traceback."""
    unavailable = as_unavailable(error)
    if unavailable is None:
        log.exception("product not accepted: unexpected error")
    else:
        log.warning("product not accepted", dependency=unavailable.dependency, error=str(unavailable))
    return unavailable
