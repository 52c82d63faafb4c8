"""The canonical product as the aggregator sees it: what one PIM event says about one variant (or a
look as a whole), before images are fetched. Pure values, ordered and hashable, so that folding
them is deterministic."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unmappable(ValueError):
    """A product the mapping cannot turn into a look; ``reason`` says what a merchandiser can fix."""

    def __init__(self, reason: str, look_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.look_id = look_id


def micros(timestamp: str, field_name: str) -> int:
    """Microseconds since the epoch of an ISO 8601 time, exactly (no float on the way)."""
    try:
        parsed = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        raise Unmappable(f"{field_name} {timestamp!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Garment:
    type: str
    sleeve_length: str = ""
    length: str = ""
    fit: str = ""


@dataclass(frozen=True)
class Colour:
    code: str
    # Empty when the mapping does not know the code: then it is estimated from the images.
    name: str = ""
    rgb: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Range:
    min_cm: float
    max_cm: float


@dataclass(frozen=True)
class LookFields:
    """What every variant of a look shares; taken from the look's newest observation."""

    title: str
    brand: str
    garment: Garment
    colour: Colour
    # The named chart sizes are looked up in, when the variants carry no measures of their own.
    size_chart: str = ""
    materials: tuple[str, ...] = ()
    # (role, url), in the mapping's role order.
    images: tuple[tuple[str, str], ...] = ()
    channels: tuple[str, ...] = ()
    markets: tuple[str, ...] = ()
    campaign_tags: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class VariantFields:
    sku: str
    size_label: str
    source_id: str = ""
    price: str = ""
    currency: str = ""
    stock: int = 0
    barcode: str = ""
    enabled: bool = True
    # Body measures this size fits, from the variant's own attributes: (measure, range), sorted.
    measures: tuple[tuple[str, Range], ...] = ()


class Change(enum.Enum):
    UPSERT = "upsert"
    # The variant is gone from the PIM: ProductRetired for it.
    REMOVE = "remove"
    # Look-level attributes only (an Akeneo product model): no variant is touched.
    LOOK = "look"


@dataclass(frozen=True)
class Observation:
    """What one PIM event says about one variant of one look, at the PIM's time ``version`` (µs),
    ties broken by ``event_id``."""

    look_id: str
    change: Change
    version: int
    event_id: str
    source: str
    sku: str = ""
    variant: VariantFields | None = None
    look: LookFields | None = None

    @property
    def order(self) -> tuple[int, str]:
        return self.version, self.event_id


@dataclass(frozen=True)
class StoredImage:
    """An image of a look, fetched, checked and stored content-addressed."""

    role: str
    url: str
    bucket: str
    key: str
    content_type: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    dominant: tuple[int, int, int]
