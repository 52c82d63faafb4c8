"""What the vendor modules share: decoding a delivery's body, what mapping it gives, and the
indexes that remember which look a PIM id belongs to (a deletion carries only the id)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from services.ingestion.pim.canonical import Observation, Unmappable, micros
from twinwear.v1 import events_pb2
from twinwear_runtime.faults import PermanentError


class UndecodableDelivery(PermanentError):
    """A delivery whose body is not what its source sends at all: the dead-letter topic's."""


@dataclass(frozen=True)
class Rejection:
    """A product the mapping could not turn into a look; listed at GET /v1/rejections."""

    source: str
    source_event_id: str
    reason: str
    look_id: str = ""
    sku: str = ""
    url: str = ""


@dataclass
class Mapped:
    observations: list[Observation] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Index entries to record once the observations are applied: index key -> document.
    index: dict[str, dict[str, object]] = field(default_factory=dict)

    def extend(self, other: Mapped) -> None:
        self.observations.extend(other.observations)
        self.rejections.extend(other.rejections)
        self.index.update(other.index)


# Index key -> the document recorded under it, or None.
IndexLookup = Callable[[str], dict[str, object] | None]


class ProductFetcher(Protocol):
    """Akeneo's REST API, for the Event Platform's thin events (services/ingestion/akeneo_rest's
    AkeneoClient satisfies it). Raises LookupError for a product that no longer exists, and
    Unavailable when Akeneo cannot answer."""

    def get_product(self, uuid: str) -> dict[str, object]: ...

    def get_product_model(self, code: str) -> dict[str, object]: ...


def decode_json(body: bytes, source: str) -> object:
    """The body's JSON; numbers stay int or Decimal, never float (Shopify ids pass 2^53)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as error:
        raise UndecodableDelivery(f"{source} delivery is not JSON: {type(error).__name__}: {error}") from None


def header(delivery: events_pb2.PimDelivery, name: str) -> str:
    """A header of the delivery, whatever its case."""
    wanted = name.lower()
    return next((v for k, v in delivery.headers.items() if k.lower() == wanted), "")


def version_at(timestamp: object, field_name: str, delivery: events_pb2.PimDelivery) -> int:
    """The PIM's time as µs; ingestion's receive time when the PIM gave none."""
    if timestamp in (None, ""):
        return delivery.received_at_us
    return micros(str(timestamp), field_name)


def rejection(delivery: events_pb2.PimDelivery, error: Unmappable, sku: str = "", event_id: str = "") -> Rejection:
    return Rejection(delivery.source, event_id or delivery.event_id, error.reason, error.look_id, sku)


def check_object(document: object, source: str) -> dict[str, object]:
    if not isinstance(document, dict):
        raise UndecodableDelivery(f"{source} delivery must be a JSON object")
    return document
