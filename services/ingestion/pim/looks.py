"""A look's state and how observations fold into it. Pure: no I/O.

Each variant keeps its newest observation by (PIM time, event id); a removal is kept as a
tombstone, so an older update arriving late is stale. Folding is a per-variant maximum, so any
order or repetition of the same observations gives the same look. The look's own fields come from
its newest live variant, overlaid by a newer product-model observation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.ingestion.pim.canonical import (
    Change,
    Colour,
    Garment,
    LookFields,
    Observation,
    Range,
    StoredImage,
    Unmappable,
    VariantFields,
)
from services.ingestion.pim.mapping import Mapping
from twinwear.v1 import events_pb2


@dataclass(frozen=True)
class Entry:
    """The newest observation of one variant (or of the look's product model)."""

    version: int
    event_id: str
    removed: bool = False
    variant: VariantFields | None = None
    look: LookFields | None = None

    @property
    def order(self) -> tuple[int, str]:
        return self.version, self.event_id


@dataclass
class LookState:
    look_id: str
    source: str = ""
    variants: dict[str, Entry] = field(default_factory=dict)
    model: Entry | None = None
    # A removal of the whole look (an Akeneo product model): variants older than it are stale.
    removed: tuple[int, str] = (0, "")
    # What was last emitted for the look.
    emitted_version: int = 0
    emitted_revision: str = ""
    retired: bool = False
    # Images already fetched, by URL: a repeated URL is not fetched again.
    images: dict[str, StoredImage] = field(default_factory=dict)

    def live(self) -> list[tuple[str, Entry]]:
        return sorted((sku, e) for sku, e in self.variants.items() if not e.removed and e.variant is not None)


@dataclass(frozen=True)
class Folded:
    """What a batch of observations changed in a look."""

    # Observations that were newer than what the look held.
    applied: tuple[Observation, ...]
    # Variants that were live and are removed now.
    retired_skus: tuple[str, ...]
    was_live: bool


def fold(state: LookState, observations: Iterable[Observation]) -> Folded:
    """Apply every observation newer than what ``state`` holds for its variant (in place)."""
    was_live = bool(state.live())
    before = {sku for sku, _ in state.live()}
    applied = [o for o in observations if _apply(state, o)]
    after = {sku for sku, _ in state.live()}
    return Folded(tuple(applied), tuple(sorted(before - after)), was_live)


def _apply(state: LookState, observation: Observation) -> bool:
    order = observation.order
    if observation.change is Change.LOOK:
        if state.model is not None and state.model.order >= order:
            return False
        state.model = Entry(observation.version, observation.event_id, look=observation.look)
        return True
    if observation.change is Change.REMOVE and not observation.sku:
        if state.removed >= order:
            return False
        state.removed = order
        for sku, entry in list(state.variants.items()):
            if entry.order < order:
                state.variants[sku] = Entry(observation.version, observation.event_id, removed=True)
        return True
    current = state.variants.get(observation.sku)
    if (current is not None and current.order >= order) or state.removed >= order:
        return False
    removed = observation.change is Change.REMOVE
    state.variants[observation.sku] = Entry(
        observation.version, observation.event_id, removed, None if removed else observation.variant, observation.look
    )
    if not state.source:
        state.source = observation.source
    return True


def look_fields(state: LookState) -> LookFields | None:
    """The look's fields: its newest live variant's, overlaid by a newer product model's."""
    live = state.live()
    if not live:
        return None
    newest = max((entry for _, entry in live), key=lambda e: e.order)
    fields = newest.look
    assert fields is not None
    model = state.model
    if model is not None and model.look is not None and model.order > newest.order:
        overlay = {
            f.name: getattr(model.look, f.name)
            for f in dataclasses.fields(LookFields)
            if getattr(model.look, f.name) not in ("", (), Colour(""))
        }
        fields = dataclasses.replace(fields, **overlay)
    return fields


def source_event_ids(state: LookState) -> list[str]:
    ids = {entry.event_id for _, entry in state.live()}
    if state.model is not None:
        ids.add(state.model.event_id)
    return sorted(ids)


# -- the product event ---------------------------------------------------------------------------


def next_version(state: LookState, folded: Folded) -> int:
    """The PIM time of the newest change, and always past what was emitted, so that consumers
    that keep the newest version apply it."""
    newest = max((o.version for o in folded.applied), default=0)
    return max(newest, state.emitted_version + 1)


def product_upserted(
    state: LookState, fields: LookFields, images: Sequence[StoredImage], mapping: Mapping, version: int
) -> events_pb2.ProductUpserted:
    """The look as one event, or Unmappable saying what stops it (no flat lay, a size not in the chart)."""
    flat_lay = next((image for image in images if image.role == "flat_lay"), None)
    if flat_lay is None:
        raise Unmappable("the look has no flat_lay image (see the mapping's images.flat_lay)", state.look_id)
    live = state.live()
    variants = [entry.variant for _, entry in live if entry.variant is not None]
    variants.sort(key=lambda v: (mapping.rank(v.size_label, fields.size_chart), v.size_label, v.sku))
    colour, colour_name, estimated = _colour(fields.colour, flat_lay, mapping)
    rows = _size_chart(variants, fields.size_chart, mapping, state.look_id)
    event = events_pb2.ProductUpserted(
        sku=state.look_id,
        look_id=state.look_id,
        title=fields.title,
        category=fields.garment.type,
        flat_lay=_ref(flat_lay),
        colour=events_pb2.Rgb(r=colour[0], g=colour[1], b=colour[2]),
        colour_name=colour_name,
        colour_estimated=estimated,
        source=state.source,
        product_version=version,
        brand=fields.brand,
        garment=events_pb2.Garment(
            type=fields.garment.type,
            sleeve_length=fields.garment.sleeve_length,
            length=fields.garment.length,
            fit=fields.garment.fit,
        ),
        variants=[_variant(v) for v in variants],
        size_chart=rows,
        images=[_image(image) for image in images],
        materials=fields.materials,
        channels=fields.channels,
        markets=fields.markets,
        campaign_tags=fields.campaign_tags,
        enabled=fields.enabled and any(v.enabled for v in variants),
        source_event_ids=source_event_ids(state),
    )
    event.imagery_digest = imagery_digest(event, mapping.imagery_attributes)
    event.revision = revision(event)
    return event


def revision(event: events_pb2.ProductUpserted) -> str:
    """Hash of the look's content, whatever its version and the events it came from."""
    content = events_pb2.ProductUpserted()
    content.CopyFrom(event)
    content.ClearField("product_version")
    content.ClearField("source_event_ids")
    content.ClearField("revision")
    return hashlib.sha256(content.SerializeToString(deterministic=True)).hexdigest()[:20]


def imagery_digest(event: events_pb2.ProductUpserted, attributes: Sequence[str]) -> str:
    """Hash of the imagery-relevant attributes only: price, stock and copy changes keep it."""
    digest = hashlib.sha256()
    parts: dict[str, object] = {
        "images": [(i.role, i.object.sha256) for i in event.images],
        "colour": (event.colour.r, event.colour.g, event.colour.b),
        "garment": event.garment.SerializeToString(deterministic=True).hex(),
        "size_chart": [row.SerializeToString(deterministic=True).hex() for row in event.size_chart],
    }
    for attribute in attributes:
        digest.update(json.dumps([attribute, parts[attribute]]).encode() + b"\x1f")
    return digest.hexdigest()[:20]


def _ref(image: StoredImage) -> events_pb2.ObjectRef:
    return events_pb2.ObjectRef(
        bucket=image.bucket,
        key=image.key,
        content_type=image.content_type,
        sha256=image.sha256,
        size_bytes=image.size_bytes,
    )


def _image(image: StoredImage) -> events_pb2.ProductImage:
    r, g, b = image.dominant
    return events_pb2.ProductImage(
        role=image.role,
        object=_ref(image),
        width=image.width,
        height=image.height,
        dominant_colour=events_pb2.Rgb(r=r, g=g, b=b),
        source_url=image.url,
    )


def _variant(variant: VariantFields) -> events_pb2.Variant:
    return events_pb2.Variant(
        sku=variant.sku,
        size_label=variant.size_label,
        source_id=variant.source_id,
        price=variant.price,
        currency=variant.currency,
        stock=variant.stock,
        barcode=variant.barcode,
        enabled=variant.enabled,
    )


def _colour(colour: Colour, flat_lay: StoredImage, mapping: Mapping) -> tuple[tuple[int, int, int], str, bool]:
    """The mapped colour, or the flat lay's garment colour named after the nearest mapped one."""
    if colour.rgb is not None:
        return colour.rgb, colour.name, False
    rgb = flat_lay.dominant
    known = [c for c in mapping.colours.values() if c.rgb is not None]
    if not known:
        return rgb, colour.code or "#{:02x}{:02x}{:02x}".format(*rgb), True
    nearest = min(known, key=lambda c: sum((a - b) ** 2 for a, b in zip(c.rgb or rgb, rgb, strict=True)))
    return rgb, nearest.name, True


def _size_chart(
    variants: Sequence[VariantFields], chart: str, mapping: Mapping, look_id: str
) -> list[events_pb2.SizeChartRow]:
    rows: dict[str, events_pb2.SizeChartRow] = {}
    for variant in variants:
        charted = mapping.size_charts[chart].rows.get(variant.size_label) if chart else None
        if chart and charted is None and not variant.measures:
            raise Unmappable(f"size '{variant.size_label}' is not in size chart '{chart}'", look_id)
        if not chart and not variant.measures:
            raise Unmappable(
                f"size '{variant.size_label}' of {variant.sku} has no measures and the look has no size chart", look_id
            )
        # The variant's own measures win over the chart's.
        measures = dict(charted or ()) | dict(variant.measures)
        row = events_pb2.SizeChartRow(size_label=variant.size_label, rank=mapping.rank(variant.size_label, chart))
        for measure, bounds in measures.items():
            getattr(row, measure).CopyFrom(events_pb2.MeasureRange(min_cm=bounds.min_cm, max_cm=bounds.max_cm))
        rows.setdefault(variant.size_label, row)
    return sorted(rows.values(), key=lambda r: (r.rank, r.size_label))


# -- state as JSON -------------------------------------------------------------------------------


def dump_state(state: LookState) -> dict[str, object]:
    return dataclasses.asdict(state)


def load_state(document: dict[str, object]) -> LookState:
    variants = document.get("variants") or {}
    model = document.get("model")
    images = document.get("images") or {}
    assert isinstance(variants, dict) and isinstance(images, dict)
    return LookState(
        look_id=str(document["look_id"]),
        source=str(document.get("source") or ""),
        variants={sku: _entry(entry) for sku, entry in variants.items()},
        model=_entry(model) if isinstance(model, dict) else None,
        removed=tuple(document.get("removed") or (0, "")),  # type: ignore[arg-type]
        emitted_version=int(document.get("emitted_version") or 0),  # type: ignore[call-overload]
        emitted_revision=str(document.get("emitted_revision") or ""),
        retired=bool(document.get("retired")),
        images={url: _stored_image(image) for url, image in images.items()},
    )


def _entry(document: dict[str, object]) -> Entry:
    variant, look = document.get("variant"), document.get("look")
    return Entry(
        version=int(document["version"]),  # type: ignore[call-overload]
        event_id=str(document["event_id"]),
        removed=bool(document.get("removed")),
        variant=_variant_fields(variant) if isinstance(variant, dict) else None,
        look=_look_fields(look) if isinstance(look, dict) else None,
    )


def _variant_fields(document: dict[str, object]) -> VariantFields:
    measures = document.get("measures") or []
    assert isinstance(measures, list)
    values = {k: v for k, v in document.items() if k != "measures"}
    return VariantFields(**values, measures=tuple((m, Range(**r)) for m, r in measures))  # type: ignore[arg-type]


def _look_fields(document: dict[str, object]) -> LookFields:
    garment, colour = document["garment"], document["colour"]
    assert isinstance(garment, dict) and isinstance(colour, dict)
    rgb = colour.get("rgb")
    tuples = {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) for k, v in document.items() if isinstance(v, list)
    }
    plain = {k: v for k, v in document.items() if k not in tuples and k not in ("garment", "colour")}
    return LookFields(
        **plain,  # type: ignore[arg-type]
        **tuples,  # type: ignore[arg-type]
        garment=Garment(**garment),
        colour=Colour(str(colour["code"]), str(colour.get("name") or ""), tuple(rgb) if rgb else None),  # type: ignore[arg-type]
    )


def _stored_image(document: dict[str, object]) -> StoredImage:
    return StoredImage(**{**document, "dominant": tuple(document["dominant"])})  # type: ignore[arg-type]
