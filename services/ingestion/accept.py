"""Accepting a product: store its flat-lay, then emit ProductUpserted. Shared by the HTTP and
gRPC APIs."""

from __future__ import annotations

from dataclasses import dataclass

from services.ingestion.domain import ProductSubmission
from twinwear.v1 import events_pb2
from twinwear_runtime.events import derive_id, wrap
from twinwear_runtime.kafka import EventSink
from twinwear_runtime.storage import FLAT_LAYS_BUCKET, ObjectStore
from twinwear_runtime.topics import PRODUCTS

SERVICE = "ingestion"


@dataclass(frozen=True)
class Accepted:
    sku: str
    revision: str
    event_id: str
    created: bool


def accept_product(submission: ProductSubmission, store: ObjectStore, sink: EventSink) -> Accepted:
    """Idempotent: the same product content gives the same revision and event id, so a PIM that
    sends it twice causes one set of renders. The event is durable before this returns."""
    created = not store.exists(FLAT_LAYS_BUCKET, submission.flat_lay_key)
    flat_lay = store.put(
        FLAT_LAYS_BUCKET, submission.flat_lay_key, submission.flat_lay, submission.flat_lay_content_type
    )
    r, g, b = submission.colour
    event = events_pb2.ProductUpserted(
        sku=submission.sku,
        title=submission.title,
        category=submission.category,
        revision=submission.revision,
        flat_lay=flat_lay,
        colour=events_pb2.Rgb(r=r, g=g, b=b),
        source=submission.source,
    )
    event_id = derive_id(SERVICE, submission.sku, submission.revision)
    envelope = wrap(event, producer=SERVICE, key=submission.sku, event_id=event_id, correlation_id=event_id)
    sink.publish([(PRODUCTS.name, envelope)])
    return Accepted(submission.sku, submission.revision, event_id, created)
