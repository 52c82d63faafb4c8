"""Triton python-backend model ``garment_on_twin``.

Draws a front-view human figure sized from body measurements, in the twin's skin tone, with the
torso and upper arms dressed in the garment from a flat-lay photo. It is a simple, deterministic
stand-in (numpy + pillow only; same inputs give byte-identical output) for the learned model
that replaces it later; the input/output contract in ``config.pbtxt`` stays the same (it is
defined in services/render/model_io.py: a leading batch dimension on every tensor, the flat-lay
letterboxed onto a near-white 256x256 canvas).

Coordinates: the figure is laid out in centimetres relative to the body and mapped to output
pixels, with a 200 cm person filling the frame. Drawing happens at ``SUPERSAMPLE`` times the
output size and is downscaled once, which gives smooth edges without any randomness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # only inside Triton; the drawing code below can be tried without it
    pb_utils = None

OUT_H, OUT_W = 512, 384
SUPERSAMPLE = 2

BACKGROUND = (238, 236, 231)  # light warm grey studio backdrop
FLOOR_SHADOW = (214, 211, 204)
TROUSERS = (54, 60, 74)
SHOES = (38, 38, 42)
LABEL_TEXT = "AI-generated"  # every twinwear image says it is AI-generated

FRAME_CM = 200.0  # a person this tall spans the frame from TOP_Y to FEET_Y
FEET_Y, TOP_Y = 500.0, 8.0  # output pixels
BODY_NAMES = ("stature_cm", "chest_girth_cm", "waist_girth_cm", "hip_girth_cm")
BODY_RANGE_CM = (50.0, 250.0)
NEAR_WHITE = 230  # flat-lay pixels with all channels >= this are background
MAX_FLATLAY_SIDE = 4096

Point = tuple[float, float]
RGB = tuple[int, int, int]


class InvalidInput(ValueError):
    """A request input is malformed; the message names the input."""


@dataclass(frozen=True)
class RenderInputs:
    garment_image: np.ndarray  # (H, W, 3) uint8
    garment_rgb: RGB
    body_cm: tuple[float, float, float, float]
    skin_rgb: RGB


@dataclass(frozen=True)
class Figure:
    """Key points and widths of the figure, in output pixels (x grows right, y grows down)."""

    cx: float
    stature_px: float
    y_head_top: float
    y_chin: float
    y_neck_base: float
    y_shoulder: float
    y_armpit: float
    y_chest: float
    y_waist: float
    y_hip: float
    y_crotch: float
    y_knee: float
    y_ankle: float
    head_w: float
    neck_w: float
    shoulder_w: float
    chest_w: float
    waist_w: float
    hip_w: float
    upper_arm_w: float
    forearm_w: float
    thigh_w: float
    knee_w: float
    ankle_w: float
    # arm joint centres as offsets from cx (left arm mirrors the right one)
    shoulder_joint: Point
    elbow: Point
    wrist: Point
    fingertip_y: float


# ---------------------------------------------------------------------------------------------
# Inputs


def _rgb(value: np.ndarray, name: str) -> RGB:
    if value.shape != (3,):
        raise InvalidInput(f"{name} must have shape [3], got {list(value.shape)}")
    return (int(value[0]), int(value[1]), int(value[2]))


def validate(
    garment_image: np.ndarray, garment_rgb: np.ndarray, body: np.ndarray, skin_rgb: np.ndarray
) -> RenderInputs:
    """Checks shapes and values (Triton checks dtypes and ranks from config.pbtxt)."""
    if garment_image.ndim != 3 or garment_image.shape[2] != 3:
        raise InvalidInput(f"GARMENT_IMAGE must have shape [H, W, 3], got {list(garment_image.shape)}")
    h, w = garment_image.shape[:2]
    if not (1 <= h <= MAX_FLATLAY_SIDE and 1 <= w <= MAX_FLATLAY_SIDE):
        raise InvalidInput(f"GARMENT_IMAGE sides must be 1..{MAX_FLATLAY_SIDE} px, got {h}x{w}")
    if body.shape != (4,):
        raise InvalidInput(f"BODY must have shape [4] ({', '.join(BODY_NAMES)}), got {list(body.shape)}")
    lo, hi = BODY_RANGE_CM
    for name, value in zip(BODY_NAMES, body.tolist(), strict=True):
        if not (math.isfinite(value) and lo <= value <= hi):
            raise InvalidInput(f"BODY {name} must be within {lo:g}..{hi:g} cm, got {value}")
    stature, chest, waist, hip = (float(v) for v in body)
    return RenderInputs(
        garment_image=np.ascontiguousarray(garment_image, dtype=np.uint8),
        garment_rgb=_rgb(garment_rgb, "GARMENT_RGB"),
        body_cm=(stature, chest, waist, hip),
        skin_rgb=_rgb(skin_rgb, "SKIN_RGB"),
    )


# ---------------------------------------------------------------------------------------------
# Layout


def layout(body_cm: tuple[float, float, float, float]) -> Figure:
    """Places the body parts from the measurements.

    Heights are standard anthropometric fractions of stature; front-view widths of the torso
    follow the girths (a girth seen from the front is roughly a third of its circumference).
    """
    stature, chest, waist, hip = body_cm
    # Scale relative to the 200 cm frame; only people taller than the frame are shrunk to fit.
    ppc = min((FEET_Y - TOP_Y) / FRAME_CM, (FEET_Y - TOP_Y) / stature)

    def y(fraction_of_stature: float) -> float:
        return FEET_Y - fraction_of_stature * stature * ppc

    chest_w = 0.33 * chest * ppc
    waist_w = 0.34 * waist * ppc
    hip_w = 0.36 * hip * ppc
    shoulder_w = 1.10 * chest_w + 0.03 * stature * ppc
    upper_arm_w = 0.095 * chest * ppc
    forearm_w = 0.80 * upper_arm_w
    thigh_w = 0.52 * hip_w
    gap = 0.02 * stature * ppc  # air between arms and torso

    sx = shoulder_w / 2 - upper_arm_w * 0.45
    ex = max(sx + 0.02 * stature * ppc, waist_w / 2 + upper_arm_w * 0.45 + gap)
    wx = max(ex + 0.015 * stature * ppc, hip_w / 2 + forearm_w * 0.45 + gap)
    return Figure(
        cx=OUT_W / 2,
        stature_px=stature * ppc,
        y_head_top=y(1.0),
        y_chin=y(0.868),
        y_neck_base=y(0.828),
        y_shoulder=y(0.812),
        y_armpit=y(0.745),
        y_chest=y(0.715),
        y_waist=y(0.615),
        y_hip=y(0.52),
        y_crotch=y(0.472),
        y_knee=y(0.285),
        y_ankle=y(0.045),
        head_w=0.087 * stature * ppc,
        neck_w=0.066 * stature * ppc,
        shoulder_w=shoulder_w,
        chest_w=chest_w,
        waist_w=waist_w,
        hip_w=hip_w,
        upper_arm_w=upper_arm_w,
        forearm_w=forearm_w,
        thigh_w=thigh_w,
        knee_w=0.58 * thigh_w,
        ankle_w=0.34 * thigh_w,
        shoulder_joint=(sx, y(0.812) + upper_arm_w * 0.5),  # arm top flush with the shoulder
        elbow=(ex, y(0.625)),
        wrist=(wx, y(0.485)),
        fingertip_y=y(0.39),
    )


def _catmull_rom(points: list[Point], steps: int = 8) -> list[Point]:
    """Smooth curve through the points (endpoints kept), so outlines look organic."""
    if len(points) < 3:
        return list(points)
    padded = [points[0], *points, points[-1]]
    out: list[Point] = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        for s in range(steps):
            t = s / steps
            t2, t3 = t * t, t * t * t
            out.append(
                tuple(  # type: ignore[arg-type]
                    0.5
                    * (
                        2 * p1[k]
                        + (-p0[k] + p2[k]) * t
                        + (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t2
                        + (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t3
                    )
                    for k in (0, 1)
                )
            )
    out.append(points[-1])
    return out


def _mirrored_outline(fig: Figure, half_widths: list[Point]) -> list[Point]:
    """Closed outline from (half_width, y) pairs listed top to bottom on one side."""
    right = _catmull_rom([(fig.cx + hw, yy) for hw, yy in half_widths])
    left = [(2 * fig.cx - x, yy) for x, yy in reversed(right)]
    return right + left


def torso_outline(fig: Figure, ease: float = 1.0, bottom_y: float | None = None) -> list[Point]:
    """Torso from the neck base down to the crotch (or bottom_y); ease > 1 widens it for clothes."""
    shoulder_x, shoulder_y = fig.shoulder_joint
    sides = [
        (fig.neck_w / 2, fig.y_neck_base),
        ((fig.neck_w / 2 + shoulder_x) / 2, fig.y_shoulder + (fig.y_neck_base - fig.y_shoulder) * 0.25),  # trapezius
        # shoulder top and deltoid enclose the arm's rounded top, so no bump shows above them
        (shoulder_x, fig.y_shoulder - fig.upper_arm_w * 0.1),
        (fig.shoulder_w / 2 + fig.upper_arm_w * 0.12, shoulder_y),
        (fig.chest_w / 2 * ease, fig.y_armpit),
        (fig.chest_w / 2 * ease, fig.y_chest),
        (fig.waist_w / 2 * ease, fig.y_waist),
        (fig.hip_w / 2 * ease, fig.y_hip),
        (fig.hip_w / 2 * 0.98 * ease, fig.y_crotch),
    ]
    if bottom_y is not None:
        sides = _cut_at(sides, bottom_y)
    return _mirrored_outline(fig, sides)


def _cut_at(sides: list[Point], bottom_y: float) -> list[Point]:
    """Drops side points below bottom_y, interpolating the width at bottom_y."""
    kept = [p for p in sides if p[1] <= bottom_y]
    below = next((p for p in sides if p[1] > bottom_y), None)
    if below is not None and kept:
        (w0, y0), (w1, y1) = kept[-1], below
        kept.append((w0 + (w1 - w0) * (bottom_y - y0) / (y1 - y0), bottom_y))
    return kept


def _tapered_limb(p0: Point, p1: Point, w0: float, w1: float) -> list[Point]:
    """Quadrilateral between two joint centres with the given widths at each end."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    return [
        (p0[0] + nx * w0 / 2, p0[1] + ny * w0 / 2),
        (p1[0] + nx * w1 / 2, p1[1] + ny * w1 / 2),
        (p1[0] - nx * w1 / 2, p1[1] - ny * w1 / 2),
        (p0[0] - nx * w0 / 2, p0[1] - ny * w0 / 2),
    ]


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


# ---------------------------------------------------------------------------------------------
# Drawing (all shapes take output-pixel coordinates; the Canvas scales them by SUPERSAMPLE)


class Canvas:
    """Helpers that create images and draw on them in output-pixel units at SUPERSAMPLE resolution."""

    @staticmethod
    def new_image(background: RGB) -> Image.Image:
        return Image.new("RGB", (OUT_W * SUPERSAMPLE, OUT_H * SUPERSAMPLE), background)

    @staticmethod
    def scaled(points: list[Point]) -> list[Point]:
        return [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]

    @staticmethod
    def new_mask() -> Image.Image:
        return Image.new("L", (OUT_W * SUPERSAMPLE, OUT_H * SUPERSAMPLE), 0)

    @staticmethod
    def polygon(target: Image.Image, points: list[Point], fill: RGB | int) -> None:
        ImageDraw.Draw(target).polygon(Canvas.scaled(points), fill=fill)

    @staticmethod
    def ellipse(target: Image.Image, centre: Point, w: float, h: float, fill: RGB | int) -> None:
        ((x, y),) = Canvas.scaled([centre])
        rx, ry = w * SUPERSAMPLE / 2, h * SUPERSAMPLE / 2
        ImageDraw.Draw(target).ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)

    @staticmethod
    def limb(target: Image.Image, p0: Point, p1: Point, w0: float, w1: float, fill: RGB | int) -> None:
        """Tapered limb with rounded joints."""
        Canvas.polygon(target, _tapered_limb(p0, p1, w0, w1), fill)
        Canvas.ellipse(target, p0, w0, w0, fill)
        Canvas.ellipse(target, p1, w1, w1, fill)


def _arm_points(fig: Figure, side: int) -> tuple[Point, Point, Point]:
    """Shoulder, elbow and wrist centres for side +1 (image right) or -1 (image left)."""
    return tuple((fig.cx + side * x, y) for x, y in (fig.shoulder_joint, fig.elbow, fig.wrist))  # type: ignore[return-value]


def _leg_points(fig: Figure, side: int) -> tuple[Point, Point, Point]:
    """Hip, knee and ankle centres of one leg (feet slightly apart, knees slightly in)."""
    hip = (fig.cx + side * fig.hip_w / 4, fig.y_hip)
    knee = (fig.cx + side * fig.hip_w * 0.22, fig.y_knee)
    ankle = (fig.cx + side * fig.hip_w * 0.21, fig.y_ankle)
    return hip, knee, ankle


def draw_body(target: Image.Image, fig: Figure, fill: RGB | int) -> None:
    """The whole unclothed figure: head, neck, torso, arms with hands, legs."""
    Canvas.ellipse(target, (fig.cx, (fig.y_head_top + fig.y_chin) / 2), fig.head_w, fig.y_chin - fig.y_head_top, fill)
    Canvas.polygon(
        target,
        [
            (fig.cx - fig.neck_w / 2, fig.y_chin - fig.head_w * 0.2),
            (fig.cx + fig.neck_w / 2, fig.y_chin - fig.head_w * 0.2),
            (fig.cx + fig.neck_w / 2, fig.y_shoulder + 4),  # down into the torso: no seam shows
            (fig.cx - fig.neck_w / 2, fig.y_shoulder + 4),
        ],
        fill,
    )
    Canvas.polygon(target, torso_outline(fig), fill)
    for side in (-1, 1):
        shoulder, elbow, wrist = _arm_points(fig, side)
        Canvas.limb(target, shoulder, elbow, fig.upper_arm_w, fig.forearm_w * 1.02, fill)
        Canvas.limb(target, elbow, wrist, fig.forearm_w, fig.forearm_w * 0.72, fill)
        hand_h = fig.fingertip_y - wrist[1]
        Canvas.ellipse(target, (wrist[0] + side * 1.0, wrist[1] + hand_h * 0.5), fig.forearm_w * 1.05, hand_h, fill)
        hip, knee, ankle = _leg_points(fig, side)
        Canvas.limb(target, hip, knee, fig.thigh_w, fig.knee_w, fill)
        Canvas.limb(target, knee, ankle, fig.knee_w, fig.ankle_w, fill)


def draw_shoes(target: Image.Image, fig: Figure, fill: RGB | int) -> None:
    for side in (-1, 1):
        _, _, ankle = _leg_points(fig, side)
        foot_len = 0.15 * fig.stature_px
        Canvas.ellipse(
            target,
            (ankle[0] + side * foot_len * 0.12, FEET_Y - fig.ankle_w * 0.45),
            foot_len * 0.55,
            fig.ankle_w * 1.2,
            fill,
        )


def trousers_mask(fig: Figure) -> Image.Image:
    """Trousers from the waist to just above the ankles, a little looser than the legs."""
    mask = Canvas.new_mask()
    Canvas.polygon(mask, torso_outline(fig, ease=1.04, bottom_y=fig.y_crotch + 0.02 * fig.stature_px), 255)
    # keep only the part below the waistband
    ImageDraw.Draw(mask).rectangle((0, 0, OUT_W * SUPERSAMPLE, int(fig.y_waist * SUPERSAMPLE)), fill=0)
    for side in (-1, 1):
        hip, knee, ankle = _leg_points(fig, side)
        hem = _lerp(knee, ankle, 0.93)
        Canvas.limb(mask, hip, knee, fig.thigh_w * 1.06, fig.knee_w * 1.25, 255)
        Canvas.polygon(mask, _tapered_limb(knee, hem, fig.knee_w * 1.25, fig.ankle_w * 1.7), 255)
    return mask


def garment_masks(fig: Figure) -> tuple[Image.Image, Image.Image]:
    """Top covering the torso (crew neck, hem between waist and hip) and the upper arms.

    Returned as (body part, sleeves) so each can get its own outline, which keeps the arms
    readable where they hang against the torso.
    """
    body = Canvas.new_mask()
    hem_y = fig.y_waist + (fig.y_hip - fig.y_waist) * 0.55
    Canvas.polygon(body, torso_outline(fig, ease=1.05, bottom_y=hem_y), 255)
    # crew neckline scooped out of the top edge
    Canvas.ellipse(body, (fig.cx, fig.y_neck_base), fig.neck_w * 1.2, 0.03 * fig.stature_px, 0)
    sleeves = Canvas.new_mask()
    for side in (-1, 1):
        shoulder, elbow, _ = _arm_points(fig, side)
        sleeve_end = _lerp(shoulder, elbow, 0.78)
        # rounded over the shoulder, square at the hem
        Canvas.polygon(sleeves, _tapered_limb(shoulder, sleeve_end, fig.upper_arm_w * 1.12, fig.upper_arm_w * 1.1), 255)
        Canvas.ellipse(sleeves, shoulder, fig.upper_arm_w * 1.12, fig.upper_arm_w * 1.12, 255)
    return body, sleeves


def garment_texture(flatlay: np.ndarray, fallback: RGB, size: tuple[int, int]) -> Image.Image:
    """The flat-lay's garment pixels (bounding box of non-background) resized to `size`.

    Background pixels inside the box (e.g. beside the sleeves) take the catalogue colour, and a
    flat-lay without garment pixels gives a plain catalogue-colour texture.
    """
    foreground = ~np.all(flatlay >= NEAR_WHITE, axis=2)
    box = _foreground_box(foreground)
    if box is None:
        return Image.new("RGB", size, fallback)
    top, bottom, left, right = box
    crop = flatlay[top:bottom, left:right].copy()
    crop[~foreground[top:bottom, left:right]] = fallback
    return Image.fromarray(crop, "RGB").resize(size, Image.Resampling.BICUBIC)


def _foreground_box(foreground: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (top, bottom, left, right) of rows/columns with a meaningful share of
    garment pixels, so stray specks (noise, dust, compression) don't stretch the box."""
    h, w = foreground.shape
    rows = np.flatnonzero(foreground.sum(axis=1) >= max(1, w // 100))
    cols = np.flatnonzero(foreground.sum(axis=0) >= max(1, h // 100))
    if rows.size == 0 or cols.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _mask_box(mask: Image.Image) -> tuple[int, int, int, int]:
    box = mask.getbbox()
    assert box is not None, "garment mask is never empty"
    return box


def shade(image: Image.Image, mask: Image.Image, radius: float, depth: float) -> Image.Image:
    """Darkens `image` towards the edges of `mask` (a soft rim) to suggest a rounded body."""
    blurred = np.asarray(mask.filter(ImageFilter.GaussianBlur(radius * SUPERSAMPLE)), dtype=np.float32) / 255.0
    inside = np.asarray(mask, dtype=np.float32) / 255.0
    factor = 1.0 - depth * inside * (1.0 - blurred)
    rgb = np.asarray(image, dtype=np.float32) * factor[..., None]
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def outline(image: Image.Image, mask: Image.Image, colour: RGB) -> None:
    """Thin line along the inside edge of `mask`."""
    edge = Image.fromarray(np.asarray(mask) - np.asarray(mask.filter(ImageFilter.MinFilter(3))), "L")
    image.paste(colour, (0, 0), edge)


def _union(a: Image.Image, b: Image.Image) -> Image.Image:
    return Image.fromarray(np.maximum(np.asarray(a), np.asarray(b)), "L")


def _darker(colour: RGB, factor: float) -> RGB:
    return tuple(int(c * factor) for c in colour)  # type: ignore[return-value]


def draw_label(image: Image.Image) -> None:
    """The small 'AI-generated' badge in the bottom-right corner (drawn at output size)."""
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    left, top, right, bottom = draw.textbbox((0, 0), LABEL_TEXT, font=font)
    pad, margin = 4, 6
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    x0, y0 = OUT_W - margin - box_w, OUT_H - margin - box_h
    draw.rounded_rectangle((x0, y0, x0 + box_w, y0 + box_h), radius=3, fill=(40, 40, 44))
    draw.text((x0 + pad - left, y0 + pad - top), LABEL_TEXT, font=font, fill=(255, 255, 255))


def render(inputs: RenderInputs) -> np.ndarray:
    """Renders the dressed figure; returns a (512, 384, 3) uint8 array."""
    fig = layout(inputs.body_cm)
    image = Canvas.new_image(BACKGROUND)

    # floor shadow, the skin-coloured figure, shoes
    shadow_w = max(fig.hip_w * 1.6, 0.3 * fig.stature_px)
    Canvas.ellipse(image, (fig.cx, FEET_Y - 1), shadow_w, 0.035 * fig.stature_px, FLOOR_SHADOW)
    body = Canvas.new_mask()
    draw_body(body, fig, 255)
    image.paste(inputs.skin_rgb, (0, 0), body)
    image = shade(image, body, radius=5, depth=0.35)
    outline(image, body, _darker(inputs.skin_rgb, 0.6))
    shoes = Canvas.new_mask()
    draw_shoes(shoes, fig, 255)
    image.paste(SHOES, (0, 0), shoes)

    # trousers, then the garment on top (the top is worn over the waistband)
    trousers = trousers_mask(fig)
    image.paste(TROUSERS, (0, 0), trousers)
    outline(image, trousers, _darker(TROUSERS, 0.55))  # before the top, so the waistband line is hidden
    top_body, sleeves = garment_masks(fig)
    top = _union(top_body, sleeves)
    left, upper, right, lower = _mask_box(top)
    texture = garment_texture(inputs.garment_image, inputs.garment_rgb, (right - left, lower - upper))
    image.paste(texture, (left, upper), top.crop((left, upper, right, lower)))
    clothes = _union(trousers, top)
    image = shade(image, clothes, radius=6, depth=0.3)
    outline(image, top_body, _darker(inputs.garment_rgb, 0.55))
    outline(image, sleeves, _darker(inputs.garment_rgb, 0.55))

    image = image.resize((OUT_W, OUT_H), Image.Resampling.LANCZOS)
    draw_label(image)
    return np.asarray(image, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Triton entry point


INPUT_NAMES = ("GARMENT_IMAGE", "GARMENT_RGB", "BODY", "SKIN_RGB")


def render_batch(
    garment_image: np.ndarray, garment_rgb: np.ndarray, body: np.ndarray, skin_rgb: np.ndarray
) -> np.ndarray:
    """Renders each row of one request's batch; returns (n, 512, 384, 3) uint8.

    Rows are rendered one after the other: the drawing is pillow code that gains nothing from
    vectorising, and a row's image depends only on that row, so batching never changes the bytes.
    """
    batch = (garment_image, garment_rgb, body, skin_rgb)
    rows = garment_image.shape[0] if garment_image.ndim else 0
    if rows == 0:
        raise InvalidInput("the request has no rows (batch size 0)")
    for name, tensor in zip(INPUT_NAMES, batch, strict=True):
        if tensor.ndim == 0 or tensor.shape[0] != rows:
            got = tensor.shape[0] if tensor.ndim else 0
            raise InvalidInput(f"{name} has {got} rows, GARMENT_IMAGE has {rows}: batch sizes differ")
    images = []
    for i in range(rows):
        try:
            inputs = validate(*(tensor[i] for tensor in batch))
        except InvalidInput as err:
            raise InvalidInput(f"row {i}: {err}" if rows > 1 else str(err)) from None
        images.append(render(inputs))
    return np.stack(images)


class TritonPythonModel:
    """Each request carries a batch of n rows and gets n images back; the dynamic batcher hands
    several requests to one execute() call. Errors are returned per request, never raised."""

    def initialize(self, args: dict) -> None:
        import sys

        import PIL

        # Logged so a wrong interpreter/venv (see infra/triton/component.sh) is easy to spot.
        pb_utils.Logger.log_info(
            f"garment_on_twin: python {sys.version.split()[0]} prefix={sys.prefix} "
            f"numpy={np.__version__} pillow={PIL.__version__}"
        )

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            try:
                images = render_batch(*(self._input(request, name) for name in INPUT_NAMES))
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("IMAGE", images)]))
            except InvalidInput as err:
                responses.append(pb_utils.InferenceResponse(error=_triton_error(str(err), invalid_arg=True)))
            except Exception as err:  # noqa: BLE001 - one bad request must not fail the others or the model
                responses.append(
                    pb_utils.InferenceResponse(
                        error=_triton_error(f"garment_on_twin failed: {type(err).__name__}: {err}", invalid_arg=False)
                    )
                )
        return responses

    @staticmethod
    def _input(request, name: str) -> np.ndarray:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        if tensor is None:
            raise InvalidInput(f"{name} is missing")
        return tensor.as_numpy()


def _triton_error(message: str, invalid_arg: bool):
    """TritonError with INVALID_ARG where this python backend supports error codes."""
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_arg else None
    return pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
