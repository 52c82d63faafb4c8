"""Media a render would produce, made in memory for the publisher's tests."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

BACKDROP = (236, 232, 226)
GARMENT = (170, 30, 60)
CLIP_SIZE = (256, 384)


def studio_master(width: int = 1024, height: int = 1536) -> bytes:
    """A render-like master PNG: a plain backdrop and a garment reaching the top and bottom edge."""
    image = Image.new("RGB", (width, height), BACKDROP)
    ImageDraw.Draw(image).rectangle((width // 3, 0, 2 * width // 3, height - 1), fill=GARMENT)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def turntable_webp(frames: int = 24) -> bytes:
    images = [Image.new("RGB", CLIP_SIZE, (i * 10, 100, 200)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], duration=80, loop=0, quality=80)
    return buffer.getvalue()


def turntable_mp4(frames: int = 24) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "turntable.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, CLIP_SIZE)
        for i in range(frames):
            writer.write(np.full((CLIP_SIZE[1], CLIP_SIZE[0], 3), i * 10, np.uint8))
        writer.release()
        return path.read_bytes()
