"""Render planning: which twins wear a look, in which size and pose. Pure domain, no I/O.

A look is planned onto:
- the talent twins with a grant for the look's brand that is in force today and whose channels and
  markets meet the look's (the render is cleared for the intersection);
- synthetic twins of the look's brand, chosen so that the campaign policy's sizes and skin tones
  are covered (twins already planned for the look are kept, so the choice does not churn);
- never customer avatars.
Each twin wears the size it would buy from the look's size chart (twinwear_body.sizing).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from services.twin_builder.consent import CHANNELS, Grant
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_body.params import Measurements
from twinwear_body.sizing import (
    COMMON_CHART,
    COMMON_CHARTS,
    GARMENT_TYPES,
    SIZE_LABELS,
    SizeAdvice,
    SizeRow,
    recommend_size,
)
from twinwear_runtime.events import derive_id

# What a look without a garment type is sized as (ingestion before looks sent none).
DEFAULT_GARMENT_TYPE = "t-shirt"


@dataclass(frozen=True)
class CampaignPolicy:
    """What every look's imagery covers, and how it is shot (TWINWEAR_CAMPAIGN_POLICY, TOML)."""

    sizes: tuple[str, ...] = ("S", "M", "XL", "3XL")
    min_monk_tones: int = 5
    # Synthetic twins per look at most; licensed talent twins come on top.
    max_synthetic_twins: int = 8
    poses: tuple[str, ...] = ("front",)
    background: str = "#f2f2f2"
    width: int = 768
    height: int = 1024
    turntable: bool = False

    @staticmethod
    def from_toml(text: str) -> CampaignPolicy:
        document: dict[str, Any] = tomllib.loads(text)
        coverage, shoot = document.get("coverage", {}), document.get("render", {})
        defaults = CampaignPolicy()
        policy = CampaignPolicy(
            sizes=tuple(coverage.get("sizes", defaults.sizes)),
            min_monk_tones=int(coverage.get("min_monk_tones", defaults.min_monk_tones)),
            max_synthetic_twins=int(coverage.get("max_synthetic_twins", defaults.max_synthetic_twins)),
            poses=tuple(shoot.get("poses", defaults.poses)),
            background=str(shoot.get("background", defaults.background)),
            width=int(shoot.get("width", defaults.width)),
            height=int(shoot.get("height", defaults.height)),
            turntable=bool(shoot.get("turntable", defaults.turntable)),
        )
        if not policy.poses:
            raise ValueError("campaign policy: render.poses must name at least one pose")
        if not 1 <= policy.min_monk_tones <= 10:
            raise ValueError("campaign policy: coverage.min_monk_tones must be 1..10")
        return policy


class Licences(Protocol):
    """The consent ledger as planning reads it."""

    def active(self, twin_id: str, brand: str, today: date) -> list[Grant]: ...


@dataclass(frozen=True)
class Casting:
    """A twin chosen for a look: the size it wears and where the use is cleared."""

    twin: twins_pb2.Twin
    advice: SizeAdvice
    size: SizeRow
    channels: tuple[str, ...]
    markets: tuple[str, ...]
    consent_id: str = ""


def render_id(look_id: str, imagery_digest: str, twin_id: str, twin_version: int, pose: str, size: bytes = b"") -> str:
    """One render per look, imagery, twin version, pose and the size the twin wears (its chart
    row): a product version that changes only price or stock, or a revert to earlier imagery, asks
    for a render that already exists; so does a size chart that gains a size the twin does not wear."""
    return derive_id("render", look_id, imagery_digest, twin_id, str(twin_version), pose, size.hex())


def look_of(product: events_pb2.ProductUpserted) -> str:
    """The look id; products from before looks carry it as the sku only."""
    return product.look_id or product.sku


def brand_of(product: events_pb2.ProductUpserted, default_brand: str) -> str:
    return product.brand or default_brand


def size_chart(product: events_pb2.ProductUpserted, sex: str) -> tuple[SizeRow, ...]:
    """The look's chart, or the common chart for the wearer's sex when the PIM gave none."""
    return tuple(SizeRow.from_proto(row) for row in product.size_chart) or COMMON_CHARTS.get(sex, COMMON_CHART)


def garment_type(product: events_pb2.ProductUpserted) -> str:
    kind = product.garment.type
    return kind if kind in GARMENT_TYPES else DEFAULT_GARMENT_TYPE


def body_of(twin: twins_pb2.Twin) -> Measurements:
    """What the twin's mesh measures (fitted), else what it was built from."""
    return Measurements.from_proto(twin.fitted if twin.HasField("fitted") else twin.measurements)


def _cleared(allowed: Iterable[str], wanted: Sequence[str]) -> tuple[str, ...]:
    """Allowed values a use is cleared for: all of them when the product names none."""
    return tuple(sorted(set(allowed) & set(wanted))) if wanted else tuple(sorted(allowed))


Sizing = Callable[[twins_pb2.Twin], tuple[SizeAdvice, SizeRow]]
# Size advice per chart and garment type, then per twin version: a backfill sizes the same roster
# on the same few charts again and again. Bounded; advice for old twin versions simply ages out.
_ADVICE: dict[tuple[tuple[SizeRow, ...], str], dict[tuple[str, int], tuple[SizeAdvice, SizeRow]]] = {}
_ADVICE_CHARTS = 1_000


def sizing_for(product: events_pb2.ProductUpserted) -> Sizing:
    """The size each twin would wear of this product, and that size's row of its chart."""
    given, garment = tuple(SizeRow.from_proto(row) for row in product.size_chart), garment_type(product)
    if len(_ADVICE) >= _ADVICE_CHARTS:
        _ADVICE.clear()
    known = _ADVICE.setdefault((given, garment), {})  # () stands for the common charts

    def fit(twin: twins_pb2.Twin) -> tuple[SizeAdvice, SizeRow]:
        key = (twin.twin_id, twin.twin_version)
        if (advice_and_row := known.get(key)) is None:
            chart = given or COMMON_CHARTS.get(twin.sex, COMMON_CHART)
            advice = recommend_size(body_of(twin), chart, garment)
            [row] = [r for r in chart if r.size_label == advice.size_label]
            advice_and_row = known[key] = (advice, row)
        return advice_and_row

    return fit


def cast_talent(
    product: events_pb2.ProductUpserted,
    twins: Iterable[twins_pb2.Twin],
    licences: Licences,
    brand: str,
    today: date,
    sizing: Sizing,
) -> list[Casting]:
    """Talent twins with a grant in force for ``brand`` that meets the look's channels and markets."""
    castings = []
    for twin in twins:
        if twin.kind != "talent":
            continue
        for grant in licences.active(twin.twin_id, brand, today):
            channels = _cleared(grant.channels, product.channels)
            markets = _cleared(grant.markets, product.markets)
            if channels and markets:
                advice, row = sizing(twin)
                castings.append(Casting(twin, advice, row, channels, markets, grant.consent_id))
                break
    return castings


def cast_synthetic(
    product: events_pb2.ProductUpserted,
    twins: Iterable[twins_pb2.Twin],
    brand: str,
    policy: CampaignPolicy,
    sizing: Sizing,
    keep: frozenset[str] = frozenset(),
) -> list[Casting]:
    """Synthetic twins of ``brand`` covering the policy's sizes (those in the look's chart) and at
    least ``min_monk_tones`` tones: the twins in ``keep`` first (already planned for the look), then,
    per missing size, a twin that wears it (a new tone preferred), then twins of new tones."""
    channels = _cleared(CHANNELS, product.channels)
    markets = tuple(sorted(product.markets))
    pool = [
        Casting(twin, *sizing(twin), channels, markets)
        for twin in sorted(twins, key=lambda t: t.twin_id)
        if twin.kind == "synthetic" and twin.brand == brand
    ]
    chosen = [c for c in pool if c.twin.twin_id in keep][: policy.max_synthetic_twins]

    def tones() -> set[int]:
        return {c.twin.appearance.monk_skin_tone for c in chosen}

    def take(candidates: list[Casting]) -> None:
        taken = {c.twin.twin_id for c in chosen}
        free = [c for c in candidates if c.twin.twin_id not in taken]
        if free and len(chosen) < policy.max_synthetic_twins:
            chosen.append(min(free, key=lambda c: (c.twin.appearance.monk_skin_tone in tones(), c.twin.twin_id)))

    in_chart = {row.size_label for row in product.size_chart} or set(SIZE_LABELS)
    for size in policy.sizes:
        if size in in_chart and size not in {c.advice.size_label for c in chosen}:
            take([c for c in pool if c.advice.size_label == size])
    while len(tones()) < policy.min_monk_tones and len(chosen) < policy.max_synthetic_twins:
        worn = {c.advice.size_label for c in chosen}
        new_tones = [c for c in pool if c.twin.appearance.monk_skin_tone not in tones()]
        if not new_tones:
            break
        take([c for c in new_tones if c.advice.size_label not in worn] or new_tones)
    return chosen


def twin_ref(casting: Casting, brand: str) -> events_pb2.TwinRef:
    """What render needs of the twin: body, skin, hair and the size worn; never a talent's name."""
    twin, appearance = casting.twin, casting.twin.appearance
    return events_pb2.TwinRef(
        twin_id=twin.twin_id,
        size_label=casting.advice.size_label,
        monk_skin_tone=appearance.monk_skin_tone,
        body=twin.fitted if twin.HasField("fitted") else twin.measurements,
        consent_id=casting.consent_id,
        skin_rgb=appearance.skin_rgb,
        twin_version=twin.twin_version,
        kind=twin.kind,
        body_parameters=twin.body_parameters,
        appearance=appearance,
        brand=brand,
    )


def size_row_proto(row: SizeRow) -> events_pb2.SizeChartRow:
    def measure(span: tuple[float, float] | None) -> events_pb2.MeasureRange | None:
        return None if span is None else events_pb2.MeasureRange(min_cm=span[0], max_cm=span[1])

    return events_pb2.SizeChartRow(
        size_label=row.size_label,
        rank=row.rank,
        chest_girth=measure(row.chest),
        waist_girth=measure(row.waist),
        hip_girth=measure(row.hip),
        inside_leg=measure(row.inside_leg),
    )


def plan_look(
    product: events_pb2.ProductUpserted,
    twins: Sequence[twins_pb2.Twin],
    licences: Licences,
    policy: CampaignPolicy,
    today: date,
    default_brand: str,
    keep: frozenset[str] = frozenset(),
) -> list[events_pb2.RenderRequested]:
    """Every render the look needs now, one per chosen twin and policy pose; self-contained."""
    brand = brand_of(product, default_brand)
    look_id = look_of(product)
    sizing = sizing_for(product)
    talents = cast_talent(product, twins, licences, brand, today, sizing)
    castings = talents + cast_synthetic(product, twins, brand, policy, sizing, keep)
    variant_skus = [v.sku for v in product.variants if v.sku]
    return [
        events_pb2.RenderRequested(
            render_id=render_id(
                look_id,
                product.imagery_digest,
                c.twin.twin_id,
                c.twin.twin_version,
                pose,
                size_row_proto(c.size).SerializeToString(deterministic=True),
            ),
            sku=product.sku or look_id,
            revision=product.revision,
            twin=twin_ref(c, brand),
            flat_lay=product.flat_lay,
            garment_colour=product.colour,
            product_version=product.product_version,
            pose=pose,
            look_id=look_id,
            size_label=c.advice.size_label,
            size=size_row_proto(c.size),
            garment=product.garment,
            images=product.images,
            background=policy.background,
            width=policy.width,
            height=policy.height,
            turntable=policy.turntable,
            brand=brand,
            channels=c.channels,
            markets=c.markets,
            colour_name=product.colour_name,
            variant_skus=variant_skus,
        )
        for c in castings
        for pose in policy.poses
    ]
