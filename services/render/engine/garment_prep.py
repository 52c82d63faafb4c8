"""Garment prep: a flat-lay or ghost-mannequin photo -> the garment's cleaned texture (RGBA, the
mask in its alpha), its landmarks and its main colour.

Segmentation runs GrabCut at a reduced scale, seeded from the backdrop: the border's colours give
a backdrop model (a plane per Lab channel, so a vignette or a lit gradient is still backdrop), and
each pixel's distance to it, measured after a slight blur so that sensor noise does not count,
marks it probably garment or probably backdrop. Blurring first is what lets white on off-white
separate: their few ΔE units stand well above the smoothed noise. A photo that cannot be
segmented raises :class:`SegmentationFailed` with a reason a merchandiser can act on.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.render.engine.api import GarmentTexture
from services.render.engine.qa import dominant_colour

# GrabCut runs on the photo shrunk to this long side: IoU ~0.9+ at a fraction of full-size cost.
WORK_SIDE = 384
# Below this short side a photo has too little texture to dress a 1024x1536 render with.
MIN_SIDE = 96
# The texture handed to the renderer is at most this long side (its UV map needs no more).
TEXTURE_MAX_SIDE = 1024
# The border strip that must be backdrop, as a share of the short side.
BORDER_SHARE = 0.03
# ΔE (CIE76 on the blurred image) under which a pixel reads as backdrop: smoothed noise stays
# well under it, white on off-white (ΔE ~5) above.
BACKDROP_DELTA_E = 2.5
# A border with more pixels off the backdrop than this is not a plain backdrop, or the garment
# is cut off by the frame.
MAX_BORDER_OFF_BACKDROP = 0.15
MIN_GARMENT_SHARE, MAX_GARMENT_SHARE = 0.03, 0.92
# The garment is one piece: its largest part must hold this share of what differs from the backdrop.
MIN_LARGEST_PART = 0.85
# The mask's outer ring whose colours are replaced from inside (backdrop and shadow fringe).
EDGE_RING_PX = 3
BOTTOMS = frozenset({"skirt", "trousers", "shorts"})


class SegmentationFailed(ValueError):
    """The photo cannot give a garment texture; ``reason`` says what to change."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def prepare_garment(image: bytes, garment_type: str) -> GarmentTexture:
    """The garment in a flat-lay or ghost-mannequin photo, ready to map onto its mesh."""
    rgb, alpha = decode(image)
    mask = segment(rgb) if alpha is None else alpha >= 128
    rgba = clean_texture(rgb, mask)
    garment = rgba[:, :, 3] >= 128
    return GarmentTexture(rgba=rgba, landmarks=landmarks(garment, garment_type), colour=main_colour(rgba))


def decode(image: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo as RGB, and its alpha when it is already cut out (a PNG with transparency)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image)) as opened:
                photo = ImageOps.exif_transpose(opened)
                photo.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise SegmentationFailed(
            "flat_lay_unreadable", f"flat-lay image cannot be decoded ({error}); send it again as a PNG or JPEG"
        ) from None
    except Image.DecompressionBombWarning:
        raise SegmentationFailed(
            "flat_lay_too_large", "flat-lay image is too large to decode safely; send at most 40 megapixels"
        ) from None
    if min(photo.size) < MIN_SIDE:
        raise SegmentationFailed(
            "flat_lay_too_small",
            f"flat-lay image is {photo.width}x{photo.height} px; send at least {MIN_SIDE} px on the short side"
            " (1000 px or more gives a sharp texture)",
        )
    alpha = None
    if photo.mode in ("RGBA", "LA", "PA") or "transparency" in photo.info:
        channel = np.asarray(photo.convert("RGBA"))[:, :, 3]
        if (channel < 128).mean() > MIN_GARMENT_SHARE:  # really cut out, not an opaque PNG with alpha
            alpha = channel
    return np.ascontiguousarray(np.asarray(photo.convert("RGB"))), alpha


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _border(shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    width = max(2, round(BORDER_SHARE * min(h, w)))
    border = np.ones((h, w), dtype=bool)
    border[width:-width, width:-width] = False
    return border


def backdrop_distance(lab: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Each pixel's ΔE to the backdrop fitted on the border (a plane per Lab channel over the
    border pixels near its median colour), the share of border pixels off that backdrop, and the
    fitted backdrop (Lab per pixel)."""
    h, w = lab.shape[:2]
    border = _border(lab.shape)
    samples = lab[border]
    near_median = np.linalg.norm(samples - np.median(samples, axis=0), axis=1) < 10.0
    ys, xs = np.nonzero(border)
    design = np.column_stack([np.ones(ys.size), xs / w, ys / h])[near_median]
    coefficients, *_ = np.linalg.lstsq(design, samples[near_median], rcond=None)
    grid_y, grid_x = np.mgrid[0:h, 0:w]
    backdrop = (
        coefficients[0]
        + np.multiply.outer(grid_x / w, coefficients[1])
        + np.multiply.outer(grid_y / h, coefficients[2])
    )
    distance = np.linalg.norm(lab - backdrop, axis=2)
    return distance, float((distance[border] > BACKDROP_DELTA_E * 2).mean()), backdrop


def segment(rgb: np.ndarray) -> np.ndarray:
    """The garment's mask at the photo's full size (bool), or SegmentationFailed."""
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(small, (0, 0), 1.5)
    lab = _lab(smooth)
    distance, off_backdrop, backdrop = backdrop_distance(lab)
    if off_backdrop > MAX_BORDER_OFF_BACKDROP:
        raise SegmentationFailed(
            "background_not_separable",
            f"flat-lay background not separable: {off_backdrop:.0%} of border pixels are garment-coloured or off"
            " the backdrop; photograph the whole garment inside the frame on a plain backdrop".replace("%", " %"),
        )
    candidate = distance > BACKDROP_DELTA_E
    shadow = candidate & _shadow_like(lab, backdrop)
    if shadow.sum() > 0.5 * candidate.sum():
        shadow[:] = False  # a neutral garment darker than its backdrop: not a shadow
    seeds = np.where(candidate & ~shadow, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seeds[_border(small.shape)] = cv2.GC_BGD
    sure = cv2.erode((distance > BACKDROP_DELTA_E * 4).astype(np.uint8) & ~shadow, np.ones((5, 5), np.uint8))
    seeds[sure.astype(bool)] = cv2.GC_FGD
    _check_share((seeds == cv2.GC_PR_FGD) | (seeds == cv2.GC_FGD))
    background_model, foreground_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation draws from OpenCV's (per-thread) RNG
    cv2.grabCut(
        cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR),
        seeds,
        None,
        background_model,
        foreground_model,
        4,
        cv2.GC_INIT_WITH_MASK,
    )
    garment = _one_piece((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD))
    _check_share(garment)
    soft = cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 0.8)
    return cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


def _shadow_like(lab: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """Pixels that look like the backdrop in shadow: its hue and chroma, somewhat darker."""
    darker = backdrop[:, :, 0] - lab[:, :, 0]
    chroma_shift = np.linalg.norm(lab[:, :, 1:] - backdrop[:, :, 1:], axis=2)
    return (darker > 0) & (darker < 30) & (chroma_shift < 3 + 0.1 * darker)


def _check_share(garment: np.ndarray) -> None:
    share = float(garment.mean())
    if share < MIN_GARMENT_SHARE:
        raise SegmentationFailed(
            "no_garment_found",
            f"no garment found: only {share:.1%} of the flat-lay differs from the backdrop; check that the photo shows"
            " the garment (a garment the colour of its backdrop cannot be cut out: use a contrasting backdrop)".replace(
                "%", " %"
            ),
        )
    if share > MAX_GARMENT_SHARE:
        raise SegmentationFailed(
            "garment_fills_frame",
            f"garment fills {share:.0%} of the flat-lay; leave a margin of plain backdrop around it".replace("%", " %"),
        )


def _one_piece(garment: np.ndarray) -> np.ndarray:
    """The garment as one solid piece: its largest part with holes filled; SegmentationFailed when
    the photo holds several objects of similar size."""
    opened = cv2.morphologyEx(garment.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count < 2:
        return np.zeros_like(garment)
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = 1 + int(np.argmax(areas))
    if areas.max() < MIN_LARGEST_PART * areas.sum():
        parts = int((areas > 0.05 * areas.sum()).sum())
        raise SegmentationFailed(
            "several_objects",
            f"the flat-lay shows {parts} separate objects; photograph one garment alone on the backdrop",
        )
    piece = (labels == largest).astype(np.uint8)
    # Fill holes: whatever the backdrop outside cannot reach is garment.
    outside = np.pad(1 - piece, 1, constant_values=1)
    flood = np.zeros((outside.shape[0] + 2, outside.shape[1] + 2), np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2) | piece.astype(bool)


def clean_texture(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The garment cropped to its mask (at most TEXTURE_MAX_SIDE), backdrop transparent and
    zeroed, and the edge ring's colours taken from just inside, so no backdrop fringe bleeds into
    the texture when it is filtered."""
    ys, xs = np.nonzero(mask)
    top, bottom = max(0, ys.min() - 2), min(mask.shape[0], ys.max() + 3)
    left, right = max(0, xs.min() - 2), min(mask.shape[1], xs.max() + 3)
    rgb, mask = rgb[top:bottom, left:right], mask[top:bottom, left:right]
    scale = min(1.0, TEXTURE_MAX_SIDE / max(rgb.shape[:2]))
    if scale < 1.0:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    inside = cv2.erode(mask.astype(np.uint8), np.ones((EDGE_RING_PX * 2 + 1,) * 2, np.uint8)).astype(np.float32)
    spread_size = (EDGE_RING_PX * 4 + 1,) * 2
    weight = cv2.blur(inside, spread_size)
    spread = cv2.blur(rgb.astype(np.float32) * inside[:, :, None], spread_size) / np.maximum(weight, 1e-6)[:, :, None]
    ring = mask & (inside == 0) & (weight > 0)
    cleaned = rgb.copy()
    cleaned[ring] = np.clip(spread[ring] + 0.5, 0, 255).astype(np.uint8)
    cleaned[~mask] = 0
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)
    alpha = np.where(mask, np.maximum(alpha, 0.5), 0.0)  # soft edge inside the mask only
    return np.dstack([cleaned, np.round(alpha * 255).astype(np.uint8)])


def main_colour(rgba: np.ndarray) -> tuple[int, int, int]:
    """The garment's main colour, measured on its inner pixels (away from the cut-out edge)."""
    inner = cv2.erode((rgba[:, :, 3] >= 128).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return dominant_colour(rgba[:, :, :3][inner if inner.any() else rgba[:, :, 3] >= 128])


def landmarks(garment: np.ndarray, garment_type: str) -> Mapping[str, tuple[float, float]]:
    """The garment's landmarks in texture pixels (x, y); "left" is the image's left."""
    if garment_type in BOTTOMS:
        return _bottom_landmarks(garment, with_crotch=garment_type != "skirt")
    return _top_landmarks(garment)


def _row_extent(garment: np.ndarray, y: int) -> tuple[int, int]:
    xs = np.flatnonzero(garment[y])
    return int(xs[0]), int(xs[-1])


def _run_around(row: np.ndarray, x: int) -> tuple[int, int]:
    """The run of garment pixels in ``row`` that holds column ``x`` (or the nearest run)."""
    xs = np.flatnonzero(row)
    x = int(xs[np.argmin(np.abs(xs - x))])
    left = x
    while left > 0 and row[left - 1]:
        left -= 1
    right = x
    while right < row.size - 1 and row[right + 1]:
        right += 1
    return left, right


def _top_landmarks(garment: np.ndarray) -> dict[str, tuple[float, float]]:
    ys, xs = np.nonzero(garment)
    top, bottom = int(ys.min()), int(ys.max())
    centre = (int(xs.min()) + int(xs.max())) // 2
    height = bottom - top
    # The torso's columns: the run through the centre at 70 % of the height, below any sleeve.
    torso_left, torso_right = _run_around(garment[top + int(0.7 * height)], centre)
    tops = np.array(
        [np.flatnonzero(garment[:, x])[0] if garment[:, x].any() else bottom for x in range(garment.shape[1])]
    )
    found: dict[str, tuple[float, float]] = {}
    # Neckline: the dip of the top edge over the torso's middle third.
    third = max(1, (torso_right - torso_left) // 3)
    middle = np.arange(torso_left + third, torso_right - third + 1)
    if middle.size:
        dip = int(middle[np.argmax(tops[middle])])
        found["neckline_centre"] = (float(dip), float(tops[dip]))
        # The neck opening's corners: the highest top-edge points either side of the dip.
        left_side, right_side = np.arange(torso_left, dip), np.arange(dip + 1, torso_right + 1)
        if left_side.size and right_side.size:
            nl = int(left_side[np.argmin(tops[left_side] + 0.01 * (dip - left_side))])
            nr = int(right_side[np.argmin(tops[right_side] + 0.01 * (right_side - dip))])
            found["neckline_left"], found["neckline_right"] = (float(nl), float(tops[nl])), (float(nr), float(tops[nr]))
    waist_y = top + int(0.6 * height)
    for side, outward in (("left", -1), ("right", 1)):
        edge = torso_left if outward < 0 else torso_right
        sleeve = _sleeve(garment, edge, outward, waist_y)
        if sleeve is None:
            # Sleeveless: the shoulders are the outer ends of the top edge (straps, yoke).
            rows = np.nonzero(garment[top : top + max(1, int(0.15 * height))])
            x = int(rows[1].min()) if outward < 0 else int(rows[1].max())
            found[f"shoulder_{side}"] = (float(x), float(tops[x]))
            continue
        found[f"shoulder_{side}"] = (float(edge), float(tops[edge]))
        sleeve_ys, sleeve_xs = sleeve
        shoulder = np.array(found[f"shoulder_{side}"])
        far = np.argmax(np.hypot(sleeve_xs - shoulder[0], sleeve_ys - shoulder[1]))
        # The sleeve's end: the middle of its outer edge, not only its farthest corner.
        end_x = sleeve_xs[far]
        edge_ys = sleeve_ys[np.abs(sleeve_xs - end_x) <= 2]
        found[f"sleeve_end_{side}"] = (float(end_x), float(np.median(edge_ys)))
        column = edge + outward * 2
        below = np.flatnonzero(garment[:, column])
        if below.size:
            found[f"armpit_{side}"] = (float(edge), float(below.max()))
    wl, wr = _run_around(garment[waist_y], centre)
    found["waist_left"], found["waist_right"] = (float(wl), float(waist_y)), (float(wr), float(waist_y))
    hl, hr = _row_extent(garment, bottom)
    found["hem_left"], found["hem_right"] = (float(hl), float(bottom)), (float(hr), float(bottom))
    return found


def _sleeve(garment: np.ndarray, edge: int, outward: int, waist_y: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The pixels (ys, xs) of the sleeve beyond the torso's ``edge`` column, or None: a sleeve
    starts above the waist, where a skirt's flare or a hem's widening start below it."""
    beyond = garment.copy()
    if outward < 0:
        beyond[:, max(0, edge - 1) :] = False
    else:
        beyond[:, : edge + 2] = False
    count, labels, stats, _ = cv2.connectedComponentsWithStats(beyond.astype(np.uint8), connectivity=8)
    parts = [i for i in range(1, count) if stats[i, cv2.CC_STAT_TOP] < waist_y]
    if not parts or sum(stats[i, cv2.CC_STAT_AREA] for i in parts) < 0.002 * garment.sum():
        return None
    return np.nonzero(np.isin(labels, parts))


def _bottom_landmarks(garment: np.ndarray, with_crotch: bool) -> dict[str, tuple[float, float]]:
    rows = np.flatnonzero(garment.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1])
    wl, wr = _row_extent(garment, top)
    found = {"waist_left": (float(wl), float(top)), "waist_right": (float(wr), float(top))}
    hl, hr = _row_extent(garment, bottom)
    found["hem_left"], found["hem_right"] = (float(hl), float(bottom)), (float(hr), float(bottom))
    if with_crotch:
        centre = (wl + wr) // 2
        column = garment[top:, centre]
        gap = np.flatnonzero(~column)
        if gap.size:
            found["crotch"] = (float(centre), float(top + gap[0] - 1))
    return found
