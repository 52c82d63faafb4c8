"""Quality measured on every render: garment colour fidelity, coverage, skin fidelity and body
showing through the garment, from the render's albedo and mask passes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from services.render.engine.api import RenderResult
from twinwear.v1 import events_pb2

# Anti-aliased edges mix colours: colour is measured this many pixels inside each mask.
EDGE_PX = 2
# Colour clusters closer than this (ΔE76) are shades of one colour.
SAME_COLOUR_DELTA_E = 10.0

_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def srgb_to_lab(rgb: np.ndarray | Sequence[float]) -> np.ndarray:
    """CIELAB (D65) of sRGB colours, 0..255 per channel, any leading shape."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e2000_lab(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 (Sharma, Wu and Dalal 2005, kL = kC = kH = 1) between Lab colours."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab_a, dtype=np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab_b, dtype=np.float64), -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lp_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    hp_mean = np.where(
        c1p * c2p == 0,
        h_sum,
        np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(hp_mean - 30))
        + 0.24 * np.cos(np.radians(2 * hp_mean))
        + 0.32 * np.cos(np.radians(3 * hp_mean + 6))
        - 0.20 * np.cos(np.radians(4 * hp_mean - 63))
    )
    sl = 1 + 0.015 * (lp_mean - 50) ** 2 / np.sqrt(20 + (lp_mean - 50) ** 2)
    sc, sh = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    rt = (
        -2
        * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
        * np.sin(np.radians(60 * np.exp(-(((hp_mean - 275) / 25) ** 2))))
    )
    return np.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp / sh) ** 2 + rt * (dcp / sc) * (dhp / sh))


def delta_e2000(rgb_a: Sequence[float], rgb_b: Sequence[float]) -> float:
    """CIEDE2000 between two sRGB colours (0..255 per channel)."""
    return float(delta_e2000_lab(srgb_to_lab(rgb_a), srgb_to_lab(rgb_b)))


def dominant_colour(pixels: np.ndarray) -> tuple[int, int, int]:
    """The main colour of (N, 3) sRGB pixels: the median of the largest of up to three colour
    clusters (a stripe or a print is the main colour only where it covers most of the fabric)."""
    sample = pixels[:: max(1, pixels.shape[0] // 20000)]
    distinct = min(3, len(np.unique(sample, axis=0)))
    if distinct < 2:
        return tuple(int(c) for c in sample[0])
    lab = srgb_to_lab(sample).astype(np.float32)
    cv2.setRNGSeed(0)  # k-means++ seeding draws from OpenCV's per-thread RNG: same pixels, same answer
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(lab, distinct, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    # Clusters closer than SAME_COLOUR_DELTA_E are one colour (a fabric split by its shading).
    same = np.linalg.norm(centres[:, None] - centres[None], axis=2) < SAME_COLOUR_DELTA_E
    counts = np.bincount(labels, minlength=distinct)
    largest = int(np.argmax(same.astype(int) @ counts))
    return tuple(int(c) for c in np.median(sample[same[largest][labels]], axis=0))


def _inside(mask: np.ndarray) -> np.ndarray:
    size = 2 * EDGE_PX + 1
    inner = cv2.erode((mask >= 128).astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    return inner if inner.any() else mask >= 128


def render_quality(
    result: RenderResult, product_rgb: Sequence[int], skin_reference_rgb: Sequence[int]
) -> events_pb2.RenderQuality:
    """The render's quality figures (events.proto RenderQuality). A pass with no pixels (no skin
    visible, say) gives NaN for its figure rather than a misleading 0."""
    garment, skin, region = result.garment_mask >= 128, _inside(result.body_mask), result.region_mask >= 128
    garment_inner = _inside(result.garment_mask)
    garment_delta = (
        delta_e2000(dominant_colour(result.albedo[garment_inner]), product_rgb) if garment_inner.any() else float("nan")
    )
    skin_delta = delta_e2000(np.median(result.albedo[skin], axis=0), skin_reference_rgb) if skin.any() else float("nan")
    region_px = int(region.sum())
    coverage = float((garment & region).sum() / region_px) if region_px else float("nan")
    through = float(((result.body_mask >= 128) & region).sum() / region_px) if region_px else float("nan")
    return events_pb2.RenderQuality(
        garment_delta_e2000=garment_delta,
        garment_coverage=coverage,
        skin_delta_e2000=skin_delta,
        body_through_garment=through,
    )
