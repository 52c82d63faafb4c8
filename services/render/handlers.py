"""Render's event handler: flat-lay from MinIO, inference in Triton, PNG back to MinIO."""

from __future__ import annotations

import io
from typing import Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from twinwear.v1 import events_pb2
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.retry import PermanentError
from twinwear_runtime.storage import RENDERS_BUCKET, ObjectStore
from twinwear_runtime.topics import RENDER_RESULTS

MODEL_NAME = "garment_on_twin"
# Flat-lays are shrunk to this longest side before inference: the model needs the garment's
# texture, not the full-resolution photo, and it keeps requests small.
GARMENT_MAX_SIDE = 256


class Renderer(Protocol):
    model_name: str

    def infer(self, inputs: dict[str, np.ndarray], output_names: list[str]) -> dict[str, np.ndarray]: ...


def garment_pixels(flat_lay: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(flat_lay)) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError):
        raise PermanentError("flat-lay image cannot be decoded") from None
    rgb.thumbnail((GARMENT_MAX_SIDE, GARMENT_MAX_SIDE))
    return np.asarray(rgb, dtype=np.uint8)


def _rgb(colour: events_pb2.Rgb) -> np.ndarray:
    return np.array([colour.r, colour.g, colour.b], dtype=np.uint8)


def render_key(request: events_pb2.RenderRequested) -> str:
    return f"{request.sku}/{request.revision}/{request.twin.twin_id}.png"


def handle_render_requested(event: Incoming, store: ObjectStore, renderer: Renderer) -> list[Outgoing]:
    request = event.payload
    assert isinstance(request, events_pb2.RenderRequested)
    if not request.render_id or not request.twin.twin_id:
        raise PermanentError("RenderRequested needs render_id and twin.twin_id")
    body = request.twin.body
    outputs = renderer.infer(
        {
            "GARMENT_IMAGE": garment_pixels(store.get(request.flat_lay)),
            "GARMENT_RGB": _rgb(request.garment_colour),
            "BODY": np.array(
                [body.stature_cm, body.chest_girth_cm, body.waist_girth_cm, body.hip_girth_cm], dtype=np.float32
            ),
            "SKIN_RGB": _rgb(request.twin.skin_rgb),
        },
        ["IMAGE"],
    )
    pixels = outputs["IMAGE"]
    png = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(png, format="PNG")
    image = store.put(
        RENDERS_BUCKET,
        render_key(request),
        png.getvalue(),
        "image/png",
        metadata={"render-id": request.render_id, "model": renderer.model_name, "ai-generated": "true"},
    )
    completed = events_pb2.RenderCompleted(
        render_id=request.render_id,
        sku=request.sku,
        revision=request.revision,
        twin_id=request.twin.twin_id,
        consent_id=request.twin.consent_id,
        image=image,
        width=pixels.shape[1],
        height=pixels.shape[0],
        model=renderer.model_name,
    )
    return [Outgoing(RENDER_RESULTS.name, request.sku, completed)]
