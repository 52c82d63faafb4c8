"""Placeholder for the render-engine helper's api.py (only what garment_prep needs, as agreed);
replaced by the real module on merge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

LANDMARKS = (
    "neckline_left",
    "neckline_right",
    "neckline_centre",
    "shoulder_left",
    "shoulder_right",
    "sleeve_end_left",
    "sleeve_end_right",
    "armpit_left",
    "armpit_right",
    "waist_left",
    "waist_right",
    "hem_left",
    "hem_right",
    "crotch",
)


@dataclass(frozen=True)
class GarmentTexture:
    rgba: np.ndarray
    landmarks: Mapping[str, tuple[float, float]]
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class RenderResult:
    rgba: np.ndarray
    albedo: np.ndarray
    garment_mask: np.ndarray
    body_mask: np.ndarray
    region_mask: np.ndarray
    timings_ms: Mapping[str, float]
