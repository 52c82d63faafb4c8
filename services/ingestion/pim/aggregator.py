"""The inbox consumer's handler: one PimDelivery in, the looks it changed out (ProductUpserted,
ProductRetired keyed by look id), the rest recorded as rejections."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from google.protobuf.message import Message
from prometheus_client import Counter

from services.ingestion.pim import akeneo, salsify, shopify
from services.ingestion.pim.canonical import LookFields, Observation, StoredImage, Unmappable
from services.ingestion.pim.delivery import (
    IndexLookup,
    Mapped,
    ProductFetcher,
    Rejection,
    UndecodableDelivery,
    rejection,
)
from services.ingestion.pim.images import ImageRejected
from services.ingestion.pim.looks import LookState, fold, look_fields, next_version, product_upserted
from services.ingestion.pim.mapping import Mapping
from services.ingestion.pim.stores import IndexStore, LookStore, RejectionStore
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PRODUCTS
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.storage import PreconditionFailed

log = structlog.get_logger()

REJECTIONS = Counter(
    "twinwear_pim_rejections_total",
    "PIM products that could not become a look, by source and kind (mapping or image).",
    ["source", "kind"],
)
EVENT_PLATFORM_NOT_CONFIGURED = (
    "TWINWEAR_AKENEO_API_URL is not set: Event Platform events carry only a uuid and cannot be resolved"
)

# Reads and folds of one look before the record is left to the consumer's retries.
_CONFLICT_ATTEMPTS = 5

Mapper = Callable[[events_pb2.PimDelivery, Mapping, IndexLookup], Mapped]


class LookContended(RuntimeError):
    """Other writers kept changing the look: the consumer tries the record again later."""


class Images(Protocol):
    def get(self, role: str, url: str, deadline: float) -> StoredImage: ...


@dataclass(frozen=True)
class Ports:
    looks: LookStore
    index: IndexStore
    rejections: RejectionStore
    images: Images
    # Akeneo's REST API; None when it is not configured.
    fetcher: ProductFetcher | None = None
    # Seconds one delivery may spend fetching images, so that handling a record stays well inside
    # the consumer's transaction timeout (120 s) however many image hosts are slow.
    image_seconds: float = 60.0


class Aggregator:
    def __init__(self, mapping: Mapping, ports: Ports, products_topic: str = PRODUCTS.name) -> None:
        self._mapping = mapping
        self._ports = ports
        self._topic = products_topic
        self._mappers: dict[str, Mapper] = {
            "akeneo": akeneo.map_events_api,
            "akeneo-rest": akeneo.map_rest,
            "salsify": salsify.map_salsify,
            "shopify": shopify.map_shopify,
        }
        if ports.fetcher is not None:
            self._mappers["akeneo-event-platform"] = functools.partial(akeneo.map_event_platform, fetcher=ports.fetcher)

    def handle(self, incoming: Incoming) -> list[Outgoing]:
        delivery = incoming.payload
        assert isinstance(delivery, events_pb2.PimDelivery)
        mapped = self._map(delivery)
        # Where the record sits, and its id: a topic made again reuses offsets, never ids.
        record = f"{incoming.topic}/{incoming.partition}/{incoming.offset}/{incoming.event_id}"
        by_look: dict[str, list[Observation]] = defaultdict(list)
        for observation in mapped.observations:
            by_look[observation.look_id].append(observation)
        outputs: list[Outgoing] = []
        deadline = time.monotonic() + self._ports.image_seconds
        for look_id in sorted(by_look):
            try:
                outputs += self._look(look_id, by_look[look_id], record, deadline)
            except Unmappable as error:
                event_ids = ",".join(sorted({o.event_id for o in by_look[look_id]}))
                skus = ",".join(sorted({o.sku for o in by_look[look_id] if o.sku}))
                found = rejection(delivery, Unmappable(error.reason, look_id), skus, event_ids)
                mapped.rejections.append(
                    dataclasses.replace(found, url=error.url) if isinstance(error, ImageRejected) else found
                )
        for found in mapped.rejections:
            self._reject(found, delivery.received_at_us)
        for key, document in mapped.index.items():
            self._ports.index.put(key, document)
        return outputs

    def _map(self, delivery: events_pb2.PimDelivery) -> Mapped:
        mapper = self._mappers.get(delivery.source)
        if mapper is None and delivery.source == "akeneo-event-platform":
            return Mapped(rejections=[rejection(delivery, Unmappable(EVENT_PLATFORM_NOT_CONFIGURED))])
        if mapper is None:
            raise UndecodableDelivery(f"unknown PIM source {delivery.source!r}")
        try:
            return mapper(delivery, self._mapping, self._ports.index.get)
        except Unmappable as error:  # no section for the source in the mapping file
            return Mapped(rejections=[rejection(delivery, error)])

    def _reject(self, found: Rejection, received_at_us: int) -> None:
        kind = "image" if found.url else "mapping"
        REJECTIONS.labels(found.source, kind).inc()
        log.warning(
            "pim product rejected",
            source=found.source,
            source_event_id=found.source_event_id,
            look_id=found.look_id,
            sku=found.sku,
            reason=found.reason,
        )
        self._ports.rejections.record(found, received_at_us)

    def _look(self, look_id: str, observations: Sequence[Observation], record: str, deadline: float) -> list[Outgoing]:
        """The look's events, from its state as stored now: another replica may have changed it
        between the read and the write, and then it is read and folded again."""
        for _ in range(_CONFLICT_ATTEMPTS):
            try:
                return self._fold_and_store(look_id, observations, record, deadline)
            except PreconditionFailed:
                log.info("look changed by another writer meanwhile; folding again", look_id=look_id)
        raise LookContended(f"look {look_id} kept changing under {_CONFLICT_ATTEMPTS} attempts")

    def _fold_and_store(
        self, look_id: str, observations: Sequence[Observation], record: str, deadline: float
    ) -> list[Outgoing]:
        """The events a delivery's observations of one look produce, and the look's new state."""
        stored = self._ports.looks.get(look_id)
        if record in stored.applied:  # handled before, its transaction aborted: the same events again
            return stored.applied[record]
        state = stored.state
        folded = fold(state, observations)
        if not folded.applied:
            return []  # stale or duplicate
        version = next_version(state, folded)
        events: list[Message] = []
        for sku in folded.retired_skus:
            events.append(self._retired(state, version + len(events), sku))
        fields = look_fields(state)
        if fields is None:
            if folded.was_live and not state.retired:
                events.append(self._retired(state, version + len(events)))
                state.retired = True
        else:
            upserted = product_upserted(
                state, fields, self._images(state, fields, deadline), self._mapping, version + len(events)
            )
            if upserted.revision != state.emitted_revision or state.retired:
                events.append(upserted)
                state.emitted_revision, state.retired = upserted.revision, False
        if events:
            state.emitted_version = version + len(events) - 1
        outputs = [self._outgoing(look_id, event) for event in events]
        stored.applied[record] = outputs
        self._ports.looks.put(stored)
        return outputs

    def _images(self, state: LookState, fields: LookFields, deadline: float) -> list[StoredImage]:
        """The look's images, fetched unless fetched before; the state keeps only those in use."""
        images = []
        for role, url in fields.images:
            known = state.images.get(url)
            image = known if known is not None else self._ports.images.get(role, url, deadline)
            images.append(dataclasses.replace(image, role=role))
        state.images = {image.url: image for image in images}
        return images

    @staticmethod
    def _retired(state: LookState, version: int, sku: str = "") -> events_pb2.ProductRetired:
        """A variant that left (``sku``), or the whole look."""
        entries = [state.variants[sku]] if sku else list(state.variants.values())
        return events_pb2.ProductRetired(
            sku=sku or state.look_id,
            look_id=state.look_id,
            variant_sku=sku,
            product_version=version,
            source=state.source,
            source_event_ids=sorted({entry.event_id for entry in entries}),
        )

    def _outgoing(self, look_id: str, event: Message) -> Outgoing:
        assert isinstance(event, events_pb2.ProductUpserted | events_pb2.ProductRetired)
        kind = "upserted" if isinstance(event, events_pb2.ProductUpserted) else f"retired:{event.variant_sku}"
        return Outgoing(self._topic, look_id, event, f"{look_id}/{kind}/{event.product_version}")
