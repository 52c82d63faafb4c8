"""Body parameters (anny's controls) and ISO 8559-1 body measurements, with their proto forms. Pure."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from twinwear.v1 import events_pb2

ANNY_VERSION = "anny-0.6.2"

# anny's phenotype controls, each 0..1 (cupsize, firmness and the three ancestry weights are anny's "all"
# phenotypes; BodyModel builds anny with them).
PHENOTYPE_LABELS: tuple[str, ...] = (
    "gender",
    "age",
    "muscle",
    "weight",
    "height",
    "proportions",
    "cupsize",
    "firmness",
    "african",
    "asian",
    "caucasian",
)

# anny's gender axis runs from its "male" blend shape (0) to its "female" one (1).
GENDER_OF_SEX: Mapping[str, float] = MappingProxyType({"male": 0.0, "female": 1.0})

# Years -> anny age: anny's own morphological-age calibration (anny/data/shape_calibration/{boys,girls}.pth,
# `morphological_age_mapping`, fitted to WHO height-for-age data), piecewise linear. Adults 18..64 span anny
# 0.77..0.83; 70 years is 0.852. (0.5 is a 12-year-old, 0.67 a 16-year-old.)
_ANNY_AGE_ANCHORS = (0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0)
_YEARS_ANCHORS = (0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0)


def _interpolate(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    i = min(max(bisect.bisect_right(xs, x), 1), len(xs) - 1)
    t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


def anny_age(years: float) -> float:
    """anny's age control for an age in years (see _YEARS_ANCHORS)."""
    return _interpolate(years, _YEARS_ANCHORS, _ANNY_AGE_ANCHORS)


def age_years(anny_age_value: float) -> float:
    """The inverse of anny_age."""
    return _interpolate(anny_age_value, _ANNY_AGE_ANCHORS, _YEARS_ANCHORS)


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in mapping.items()})


@dataclass(frozen=True)
class BodyParams:
    """anny's controls for one body; mirrors proto twinwear.v1.BodyParameters."""

    phenotype: Mapping[str, float]
    local_changes: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.phenotype) - set(PHENOTYPE_LABELS))
        if unknown:
            raise ValueError(f"phenotype: unknown controls {unknown}; accepted: {', '.join(PHENOTYPE_LABELS)}")
        object.__setattr__(self, "phenotype", _frozen(self.phenotype))
        object.__setattr__(self, "local_changes", _frozen(self.local_changes))

    @staticmethod
    def from_proto(msg: events_pb2.BodyParameters) -> BodyParams:
        return BodyParams(phenotype=dict(msg.phenotype), local_changes=dict(msg.local_changes))

    def to_proto(self) -> events_pb2.BodyParameters:
        return events_pb2.BodyParameters(
            phenotype=dict(self.phenotype), local_changes=dict(self.local_changes), model=ANNY_VERSION
        )


@dataclass(frozen=True)
class Measurements:
    """ISO 8559-1 body measurements in centimetres; mirrors proto twinwear.v1.BodyMeasurements."""

    stature_cm: float
    chest_girth_cm: float
    waist_girth_cm: float
    hip_girth_cm: float
    inside_leg_cm: float
    shoulder_width_cm: float

    @staticmethod
    def from_proto(msg: events_pb2.BodyMeasurements) -> Measurements:
        return Measurements(**{name: float(getattr(msg, name)) for name in MEASURE_NAMES})

    def to_proto(self) -> events_pb2.BodyMeasurements:
        return events_pb2.BodyMeasurements(**self.as_dict())

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in MEASURE_NAMES}


MEASURE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Measurements))
