"""Render's event handler: flat-lay from MinIO, inference in Triton, PNG back to MinIO.

Renders are cached by render id (imagery, twin version, pose): a request whose image is already in
the renders bucket reuses it, so a price-only change or a revert renders nothing new.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from services.render import model_io
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, RENDERS_BUCKET
from twinwear_contracts.topics import RENDER_RESULTS
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.storage import MissingObject, ObjectStore

MODEL_NAME = model_io.MODEL_NAME


class Renderer(Protocol):
    model_name: str

    def infer(self, inputs: dict[str, np.ndarray], output_names: list[str]) -> dict[str, np.ndarray]: ...


class UnreadableFlatLay(ValueError):
    """The flat-lay's bytes are not an image we can read: a merchandiser must send another."""


def garment_pixels(flat_lay: bytes) -> np.ndarray:
    """The flat-lay as the model's GARMENT_IMAGE row: shrunk to fit (the model needs the garment's
    texture, not the full-resolution photo) and letterboxed, centred, onto a near-white square
    canvas, which the model treats as background. The fixed size lets Triton batch requests."""
    try:
        with Image.open(io.BytesIO(flat_lay)) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise UnreadableFlatLay(f"flat-lay image cannot be decoded: {error}") from None
    side = model_io.GARMENT_SIDE
    rgb.thumbnail((side, side))
    canvas = Image.new("RGB", (side, side), model_io.PAD_RGB)
    canvas.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


class FlatLayCache:
    """Decoded flat-lays by content hash, so the renders of one product on every twin fetch and
    decode its photo once."""

    def __init__(self, store: ObjectStore, capacity: int = 64) -> None:
        self._store = store
        self._capacity = capacity
        self._pixels: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def pixels(self, ref: events_pb2.ObjectRef) -> np.ndarray:
        key = ref.sha256 or f"{ref.bucket}/{ref.key}"
        with self._lock:
            if key in self._pixels:
                self._pixels.move_to_end(key)
                return self._pixels[key]
        pixels = garment_pixels(self._store.get(ref))
        with self._lock:
            self._pixels[key] = pixels
            while len(self._pixels) > self._capacity:
                self._pixels.popitem(last=False)
        return pixels


def _rgb(colour: events_pb2.Rgb) -> np.ndarray:
    return np.array([colour.r, colour.g, colour.b], dtype=np.uint8)


def render_key(request: events_pb2.RenderRequested) -> str:
    return f"{request.sku}/{request.render_id}.png"


def _png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def handle_render_requested(
    event: Incoming, store: ObjectStore, renderer: Renderer, flat_lays: FlatLayCache
) -> list[Outgoing]:
    request = event.payload
    assert isinstance(request, events_pb2.RenderRequested)
    if not request.render_id or not request.twin.twin_id:
        raise PermanentError("RenderRequested needs render_id and twin.twin_id")
    if request.flat_lay.bucket != FLAT_LAYS_BUCKET:
        raise PermanentError(f"RenderRequested.flat_lay must be in {FLAT_LAYS_BUCKET}, not {request.flat_lay.bucket!r}")
    key = render_key(request)
    try:
        png = store.get(events_pb2.ObjectRef(bucket=RENDERS_BUCKET, key=key))
        image = events_pb2.ObjectRef(bucket=RENDERS_BUCKET, key=key, content_type="image/png", size_bytes=len(png))
        cached = True
    except MissingObject:
        try:
            garment = flat_lays.pixels(request.flat_lay)
        except UnreadableFlatLay as error:
            return [_failed(request, "flat_lay_unreadable", str(error))]
        png = render_image(request, garment, renderer)
        image = store.put(
            RENDERS_BUCKET,
            key,
            png,
            "image/png",
            metadata={"render-id": request.render_id, "model": renderer.model_name, "ai-generated": "true"},
        )
        cached = False
    width, height = _png_size(png)
    completed = events_pb2.RenderCompleted(
        render_id=request.render_id,
        sku=request.sku,
        revision=request.revision,
        twin_id=request.twin.twin_id,
        consent_id=request.twin.consent_id,
        image=image,
        width=width,
        height=height,
        model=renderer.model_name,
        product_version=request.product_version,
        pose=request.pose,
        cached=cached,
    )
    return [Outgoing(RENDER_RESULTS.name, request.sku, completed, request.render_id)]


def model_inputs(request: events_pb2.RenderRequested, garment: np.ndarray) -> dict[str, np.ndarray]:
    """One render as a batch of one row: every tensor gets a leading batch dimension of 1, so that
    Triton's dynamic batcher can group it with the renders sent concurrently."""
    body = request.twin.body
    rows = {
        model_io.GARMENT_IMAGE: garment,
        model_io.GARMENT_RGB: _rgb(request.garment_colour),
        model_io.BODY: [body.stature_cm, body.chest_girth_cm, body.waist_girth_cm, body.hip_girth_cm],
        model_io.SKIN_RGB: _rgb(request.twin.skin_rgb),
    }
    inputs = {}
    for spec, row in rows.items():
        array = np.asarray(row, dtype=spec.dtype)
        if array.shape != spec.dims:
            raise PermanentError(f"{spec.name} must have shape {list(spec.dims)}, got {list(array.shape)}")
        inputs[spec.name] = array[np.newaxis]
    return inputs


def render_image(request: events_pb2.RenderRequested, garment: np.ndarray, renderer: Renderer) -> bytes:
    """The render's PNG: one request row through the model (Triton, or in-process for benchmarks)."""
    outputs = renderer.infer(model_inputs(request, garment), [model_io.IMAGE.name])
    png = io.BytesIO()
    Image.fromarray(outputs[model_io.IMAGE.name][0], "RGB").save(png, format="PNG")
    return png.getvalue()


def _failed(request: events_pb2.RenderRequested, code: str, reason: str) -> Outgoing:
    failed = events_pb2.RenderFailed(
        render_id=request.render_id,
        sku=request.sku,
        product_version=request.product_version,
        twin_id=request.twin.twin_id,
        pose=request.pose,
        code=code,
        reason=reason,
    )
    return Outgoing(RENDER_RESULTS.name, request.sku, failed, request.render_id)
