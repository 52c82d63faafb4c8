"""Garment ease and size advice on EN 13402-3 style body charts. Pure.

A size chart row gives the BODY a size is made for (EN 13402-3: ranges of body measures per size). The
garment's own girth is that body plus the ease its type needs (the room a garment leaves to move and hang),
so a body between the row's limits gets about the garment type's ease: a "regular" fit. A body above the row
gets less ease ("tight"), below it more ("loose"). Inside leg is a length: "tight" there means too short.

EASE_CM: wearing ease per garment type and measure, in cm, after the ranges in W. Aldrich, "Metric Pattern
Cutting for Women's Wear" (6th ed., close-fitting to easy-fitting blocks) and "... for Menswear"; mid values.
They are assumptions for imagery and advice, not a pattern-maker's spec for a particular product.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from twinwear.v1 import events_pb2
from twinwear_body.params import Measurements

GARMENT_TYPES = (
    "t-shirt",
    "long-sleeve-top",
    "shirt",
    "knitwear",
    "tank",
    "dress",
    "skirt",
    "trousers",
    "shorts",
    "jacket",
)
# Chart measure -> the Measurements field it sizes.
CHART_MEASURES: Mapping[str, str] = MappingProxyType(
    {"chest": "chest_girth_cm", "waist": "waist_girth_cm", "hip": "hip_girth_cm", "inside_leg": "inside_leg_cm"}
)
EASE_CM: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "t-shirt": MappingProxyType({"chest": 8.0, "waist": 10.0}),
        "long-sleeve-top": MappingProxyType({"chest": 8.0, "waist": 10.0}),
        "shirt": MappingProxyType({"chest": 12.0, "waist": 12.0}),
        "knitwear": MappingProxyType({"chest": 8.0, "waist": 8.0}),
        "tank": MappingProxyType({"chest": 4.0, "waist": 6.0}),
        "dress": MappingProxyType({"chest": 6.0, "waist": 4.0, "hip": 6.0}),
        "skirt": MappingProxyType({"waist": 2.0, "hip": 5.0}),
        "trousers": MappingProxyType({"waist": 2.0, "hip": 6.0, "inside_leg": 0.0}),
        "shorts": MappingProxyType({"waist": 2.0, "hip": 6.0}),
        "jacket": MappingProxyType({"chest": 14.0, "waist": 14.0}),
    }
)


@dataclass(frozen=True)
class SizeRow:
    """The body one size is made for: (min_cm, max_cm) per measure, None where the chart says nothing."""

    size_label: str
    rank: int
    chest: tuple[float, float] | None = None
    waist: tuple[float, float] | None = None
    hip: tuple[float, float] | None = None
    inside_leg: tuple[float, float] | None = None

    @staticmethod
    def from_proto(row: events_pb2.SizeChartRow) -> SizeRow:
        def span(measure: str) -> tuple[float, float] | None:
            if not row.HasField(measure):
                return None
            value = getattr(row, measure)
            return (float(value.min_cm), float(value.max_cm))

        return SizeRow(
            row.size_label,
            row.rank,
            span("chest_girth"),
            span("waist_girth"),
            span("hip_girth"),
            span("inside_leg"),
        )


@dataclass(frozen=True)
class SizeAdvice:
    size_label: str
    fit: dict[str, str]  # measure -> "tight" | "regular" | "loose"
    confidence: float  # 0..1: 1 when the body sits mid-row on every measure the garment type uses
    ease_cm: dict[str, float]  # garment girth - body girth per measure for that size


def _rows(spec: Sequence[tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]]]):
    return tuple(SizeRow(label, rank, chest, waist, hip) for rank, (label, chest, waist, hip) in enumerate(spec))


SIZE_LABELS = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL")
# EN 13402-3 style body charts (bust/chest, waist, hip girth in cm), 4-8 cm steps as in the standard's
# tables; inside leg is left to the product's chart.
COMMON_CHARTS: Mapping[str, tuple[SizeRow, ...]] = MappingProxyType(
    {
        "female": _rows(
            [
                ("XXS", (74, 78), (58, 62), (82, 86)),
                ("XS", (78, 82), (62, 66), (86, 90)),
                ("S", (82, 88), (66, 72), (90, 96)),
                ("M", (88, 94), (72, 78), (96, 102)),
                ("L", (94, 100), (78, 84), (102, 108)),
                ("XL", (100, 108), (84, 92), (108, 116)),
                ("XXL", (108, 116), (92, 100), (116, 124)),
                ("3XL", (116, 124), (100, 108), (124, 132)),
                ("4XL", (124, 132), (108, 116), (132, 140)),
            ]
        ),
        "male": _rows(
            [
                ("XXS", (80, 84), (68, 72), (82, 86)),
                ("XS", (84, 88), (72, 76), (86, 90)),
                ("S", (88, 94), (76, 82), (90, 96)),
                ("M", (94, 100), (82, 88), (96, 102)),
                ("L", (100, 106), (88, 94), (102, 108)),
                ("XL", (106, 112), (94, 100), (108, 114)),
                ("XXL", (112, 118), (100, 106), (114, 120)),
                ("3XL", (118, 124), (106, 112), (120, 126)),
                ("4XL", (124, 130), (112, 118), (126, 132)),
            ]
        ),
    }
)
COMMON_CHART: tuple[SizeRow, ...] = COMMON_CHARTS["female"]


def _deviation(body: float, span: tuple[float, float]) -> float:
    """Where the body sits in the row: 0 mid-row, +-1 at its limits, beyond that outside it."""
    low, high = span
    return (body - (low + high) / 2) / max((high - low) / 2, 0.5)


def recommend_size(body: Measurements, chart: Sequence[SizeRow], garment_type: str) -> SizeAdvice:
    """The size whose body ranges suit `body` best on the measures `garment_type` is sized by."""
    if garment_type not in EASE_CM:
        raise ValueError(f"garment_type: unknown {garment_type!r}; accepted: {', '.join(GARMENT_TYPES)}")
    if not chart:
        raise ValueError("chart: no size rows")
    ease = EASE_CM[garment_type]

    def deviations(row: SizeRow) -> dict[str, float]:
        spans = {m: getattr(row, m) for m in ease if getattr(row, m) is not None}
        return {m: _deviation(getattr(body, CHART_MEASURES[m]), span) for m, span in spans.items()}

    scored = [(row, deviations(row)) for row in chart]
    scored = [(row, devs) for row, devs in scored if devs] or [(row, {}) for row in chart]

    # Best: the smallest worst misfit, then the smaller size. Too tight counts double: a garment too small
    # on one measure cannot be worn, one too loose can (a belt, a tuck).
    def misfit(devs: dict[str, float]) -> float:
        return max((d if d > 0 else -d / 2 for d in devs.values()), default=0.0)

    row, devs = min(scored, key=lambda s: (misfit(s[1]), s[0].rank))
    fit = {m: "tight" if d > 1 else "loose" if d < -1 else "regular" for m, d in devs.items()}
    garment_ease = {}
    for measure in devs:
        low, high = getattr(row, measure)
        garment_ease[measure] = round((low + high) / 2 + ease[measure] - getattr(body, CHART_MEASURES[measure]), 1)
    worst = max((abs(d) for d in devs.values()), default=2.0)
    confidence = round(math.exp(-0.5 * worst**2), 3)
    return SizeAdvice(row.size_label, fit, confidence, garment_ease)
