"""The sample catalogue: products from catalogue.json with flat-lay photos drawn here, so the
demo needs no downloads. Also the JSON request body the ingestion API takes.

The flat-lays imitate studio photos of every garment type (t-shirt ... jacket): a front view laid
flat, in a solid colour, stripes, dots, checks or with a printed motif, on an off-white backdrop
with a soft drop shadow, a slight vignette and sensor noise (seeded, so every run draws the same
bytes)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CATALOGUE = Path(__file__).with_name("catalogue.json")
SIZE = 256
BACKGROUND = (250, 250, 248)
# The demo's flat-lays: large enough to texture a 1024x1536 render.
PHOTO_SIZE = 768

# Garment outlines on a 256-unit canvas, front view, laid flat.
_SHAPES: dict[str, list[tuple[int, int]]] = {
    "tee": [
        (88, 40),
        (112, 52),
        (144, 52),
        (168, 40),
        (220, 70),
        (200, 110),
        (180, 100),
        (180, 226),
        (76, 226),
        (76, 100),
        (56, 110),
        (36, 70),
    ],
    "long_sleeve": [
        (88, 40),
        (112, 52),
        (144, 52),
        (168, 40),
        (214, 70),
        (240, 200),
        (216, 206),
        (180, 100),
        (180, 226),
        (76, 226),
        (76, 100),
        (40, 206),
        (16, 200),
        (42, 70),
    ],
    "tank": [(96, 36), (112, 36), (128, 70), (144, 36), (160, 36), (172, 96), (180, 226), (76, 226), (84, 96)],
    # Collar points and a straight placket line are drawn as details.
    "shirt": [
        (92, 34),
        (110, 30),
        (128, 48),
        (146, 30),
        (164, 34),
        (212, 66),
        (240, 204),
        (216, 210),
        (182, 104),
        (184, 232),
        (72, 232),
        (74, 104),
        (40, 210),
        (16, 204),
        (44, 66),
    ],
    "knit": [
        (86, 42),
        (112, 50),
        (144, 50),
        (170, 42),
        (218, 74),
        (236, 196),
        (212, 202),
        (186, 108),
        (186, 220),
        (70, 220),
        (70, 108),
        (44, 202),
        (20, 196),
        (38, 74),
    ],
    "jacket": [
        (90, 28),
        (112, 26),
        (128, 96),
        (144, 26),
        (166, 28),
        (214, 60),
        (242, 206),
        (216, 212),
        (186, 100),
        (188, 240),
        (68, 240),
        (70, 100),
        (40, 212),
        (14, 206),
        (42, 60),
    ],
    "dress": [
        (100, 18),
        (114, 18),
        (128, 40),
        (142, 18),
        (156, 18),
        (166, 60),
        (162, 100),
        (204, 246),
        (52, 246),
        (94, 100),
        (90, 60),
    ],
    "skirt": [(84, 40), (172, 40), (176, 56), (214, 220), (42, 220), (80, 56)],
    "trousers": [
        (78, 12),
        (178, 12),
        (180, 28),
        (192, 246),
        (142, 246),
        (129, 90),
        (127, 90),
        (114, 246),
        (64, 246),
        (76, 28),
    ],
    "shorts": [
        (70, 60),
        (186, 60),
        (188, 76),
        (206, 176),
        (140, 184),
        (129, 118),
        (127, 118),
        (116, 184),
        (50, 176),
        (68, 76),
    ],
}

# The garment type (twinwear_body.sizing.GARMENT_TYPES) each outline shows.
GARMENT_SHAPES = {
    "t-shirt": "tee",
    "long-sleeve-top": "long_sleeve",
    "tank": "tank",
    "shirt": "shirt",
    "knitwear": "knit",
    "jacket": "jacket",
    "dress": "dress",
    "skirt": "skirt",
    "trousers": "trousers",
    "shorts": "shorts",
}


@dataclass(frozen=True)
class SampleProduct:
    sku: str
    title: str
    category: str
    colour: str
    shape: str
    pattern: str
    garment_type: str = "t-shirt"
    sleeve_length: str = ""
    length: str = ""
    # events.proto SizeChartRow fields: size_label, rank, chest_girth/waist_girth/hip_girth/inside_leg as [min, max] cm
    size_chart: tuple[dict[str, object], ...] = field(default=())

    def flat_lay_png(self) -> bytes:
        return draw_flat_lay(self.shape, self.pattern, self.colour, side=PHOTO_SIZE, photo_seed=self.sku)

    def request_body(self) -> dict[str, object]:
        """The ingestion API's JSON body for this product."""
        return {
            "sku": self.sku,
            "title": self.title,
            "category": self.category,
            "colour": self.colour,
            "flat_lay": {"data_base64": base64.b64encode(self.flat_lay_png()).decode()},
            "source": "demo-catalogue",
        }


def load_catalogue(path: Path = CATALOGUE) -> list[SampleProduct]:
    products = []
    for item in json.loads(path.read_text())["products"]:
        products.append(SampleProduct(**{**item, "size_chart": tuple(item.get("size_chart", ()))}))
    return products


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _pattern(pattern: str, colour: tuple[int, int, int], side: int) -> Image.Image:
    """A full-canvas fabric in the garment's colour; the garment outline cuts it out."""
    fabric = Image.new("RGB", (side, side), colour)
    draw = ImageDraw.Draw(fabric)
    light = tuple(min(255, c + 90) for c in colour)
    dark = tuple(max(0, c - 60) for c in colour)
    u = side / 256
    if pattern == "stripes":
        for y in range(0, 256, 16):
            draw.rectangle([0, y * u, side, (y + 6) * u], fill=light)
    elif pattern == "dots":
        for y in range(8, 256, 22):
            for x in range(8 + (y // 22 % 2) * 11, 256, 22):
                draw.ellipse([(x - 4) * u, (y - 4) * u, (x + 4) * u, (y + 4) * u], fill=light)
    elif pattern == "checks":
        for i in range(0, 256, 24):
            draw.rectangle([i * u, 0, (i + 8) * u, side], fill=dark)
            draw.rectangle([0, i * u, side, (i + 8) * u], fill=dark)
    elif pattern == "print":
        # A chest motif: a ring and a star, where a logo would be.
        draw.ellipse([104 * u, 84 * u, 152 * u, 132 * u], outline=light, width=max(1, round(5 * u)))
        star = [
            (128, 92),
            (134, 104),
            (147, 104),
            (137, 112),
            (141, 125),
            (128, 117),
            (115, 125),
            (119, 112),
            (109, 104),
            (122, 104),
        ]
        draw.polygon([(x * u, y * u) for x, y in star], fill=dark)
    elif pattern != "solid":
        raise ValueError(f"unknown pattern {pattern!r}")
    return fabric


def _outline(shape: str, side: int) -> list[tuple[float, float]]:
    if shape not in _SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    return [(x * side / 256, y * side / 256) for x, y in _SHAPES[shape]]


def garment_mask(shape: str, side: int = SIZE) -> Image.Image:
    """Where the garment is on a flat-lay drawn at ``side`` px (L image, 255 = garment): the
    ground truth for segmentation tests."""
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).polygon(_outline(shape, side), fill=255)
    return mask


def draw_flat_lay(
    shape: str,
    pattern: str,
    colour: str,
    side: int = SIZE,
    photo_seed: str | None = None,
    background: tuple[int, int, int] = BACKGROUND,
) -> bytes:
    """A flat-lay PNG. With ``photo_seed``, a studio photo (drop shadow, vignette, noise from that
    seed); without, clean flat colours."""
    outline = _outline(shape, side)
    mask = garment_mask(shape, side)
    u = side / 256
    image = Image.new("RGB", (side, side), background)
    if photo_seed is not None:
        shadow = Image.new("L", (side, side), 0)
        ImageDraw.Draw(shadow).polygon([(x + 3 * u, y + 4 * u) for x, y in outline], fill=60)
        shadow = shadow.filter(ImageFilter.GaussianBlur(4 * u))
        image = Image.composite(Image.new("RGB", (side, side), (0, 0, 0)), image, shadow)
    image.paste(_pattern(pattern, _hex_to_rgb(colour), side), mask=mask)
    if shape in ("shirt", "jacket"):  # placket / opening line and buttons
        line = tuple(max(0, c - 45) for c in _hex_to_rgb(colour))
        draw = ImageDraw.Draw(image)
        opening = 50 if shape == "shirt" else 100
        draw.line([(128 * u, opening * u), (128 * u, 230 * u)], fill=line, width=max(1, round(u)))
        for y in range(opening + 20, 226, 30):
            draw.ellipse([(124) * u, (y - 3) * u, (132) * u, (y + 3) * u], fill=line)
    if photo_seed is not None:
        image = _as_photo(image, photo_seed)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _as_photo(image: Image.Image, seed: str) -> Image.Image:
    """Vignette and sensor noise, seeded so the same product always gives the same bytes."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    radius = np.hypot((x - w / 2) / w, (y - h / 2) / h)
    pixels *= (1.0 - 0.06 * radius**2)[:, :, None]
    pixels += rng.normal(0.0, 2.0, pixels.shape)
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
