"""The sample catalogue: products from catalogue.json with flat-lay photos drawn here, so the
demo needs no downloads. Also the JSON request body the ingestion API takes."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

CATALOGUE = Path(__file__).with_name("catalogue.json")
SIZE = 256
BACKGROUND = (250, 250, 248)

# Garment outlines on a 256 px canvas, front view, laid flat.
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
}


@dataclass(frozen=True)
class SampleProduct:
    sku: str
    title: str
    category: str
    colour: str
    shape: str
    pattern: str

    def flat_lay_png(self) -> bytes:
        return draw_flat_lay(self.shape, self.pattern, self.colour)

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
    return [SampleProduct(**item) for item in json.loads(path.read_text())["products"]]


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _pattern(pattern: str, colour: tuple[int, int, int]) -> Image.Image:
    """A full-canvas fabric in the garment's colour; the garment outline cuts it out."""
    fabric = Image.new("RGB", (SIZE, SIZE), colour)
    draw = ImageDraw.Draw(fabric)
    light = tuple(min(255, c + 90) for c in colour)
    dark = tuple(max(0, c - 60) for c in colour)
    if pattern == "stripes":
        for y in range(0, SIZE, 16):
            draw.rectangle([0, y, SIZE, y + 6], fill=light)
    elif pattern == "dots":
        for y in range(8, SIZE, 22):
            for x in range(8 + (y // 22 % 2) * 11, SIZE, 22):
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=light)
    elif pattern == "checks":
        for i in range(0, SIZE, 24):
            draw.rectangle([i, 0, i + 8, SIZE], fill=dark)
            draw.rectangle([0, i, SIZE, i + 8], fill=dark)
    elif pattern != "solid":
        raise ValueError(f"unknown pattern {pattern!r}")
    return fabric


def draw_flat_lay(shape: str, pattern: str, colour: str) -> bytes:
    if shape not in _SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).polygon(_SHAPES[shape], fill=255)
    image = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
    image.paste(_pattern(pattern, _hex_to_rgb(colour)), mask=mask)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
