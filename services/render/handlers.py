"""Render's event handlers: RenderRequested -> garment prep and body (at once), render, QA, the
image and its passes in MinIO -> RenderCompleted, or RenderFailed with a reason a merchandiser can
act on; RenderCancelled -> later requests of the retired look's versions are skipped.

Renders are cached by render id (imagery, twin version, pose): a request whose result is already
in the renders bucket reuses it, so a price-only change or a revert renders nothing new. Every key
derives from the render id, so a retried render overwrites and never orphans.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.render import model_io
from services.render.engine.api import RenderResult
from services.render.engine.qa import render_quality
from services.render.turntable import encode_mp4, encode_webp
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import BACKGROUNDS_BUCKET, FLAT_LAYS_BUCKET, RENDERS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import RENDER_RESULTS
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.storage import MissingObject, ObjectStore

# The garment types the engine makes meshes for (twinwear_body.sizing.GARMENT_TYPES).
GARMENT_TYPES = (
    "t-shirt",
    "long-sleeve-top",
    "shirt",
    "knitwear",
    "tank",
    "dress",
    "skirt",
    "trousers",
    "shorts",
    "jacket",
)
# Image roles a garment texture can be cut from, best first.
TEXTURE_ROLES = ("flat_lay", "ghost_mannequin")
DEFAULT_SIZE = (1024, 1536)
LARGE_SIZE = (2048, 3072)
TURNTABLE_FRAMES = 24
TURNTABLE_SIZE = (512, 768)
POSE_YAW = {"back": 180.0, "three-quarter": 35.0}


class Model(Protocol):
    """One of render's models (garment_prep, body, render): Triton, or in-process for benchmarks."""

    model_name: str

    def infer(self, inputs: dict[str, np.ndarray], output_names: list[str]) -> dict[str, np.ndarray]: ...

    def version(self) -> str: ...


@dataclass(frozen=True)
class RenderModels:
    garment_prep: Model
    body: Model
    render: Model

    def all(self) -> tuple[Model, Model, Model]:
        return self.garment_prep, self.body, self.render


def call_model(model: Model, spec: model_io.ModelSpec, values: Mapping[str, object]) -> dict[str, np.ndarray]:
    """One request of one row; returns that row's outputs (without the batch dimension)."""
    outputs = model.infer(model_io.batch_row(spec, values), [s.name for s in spec.outputs])
    return {name: array[0] for name, array in outputs.items()}


class TextureCache:
    """garment_prep's answers by photo (content hash, else its key) and garment type: a look is
    rendered on every twin, and its photo is fetched and segmented once for all of them."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(
        self, photo: events_pb2.ObjectRef, garment_type: str, store: ObjectStore, model: Model
    ) -> dict[str, np.ndarray]:
        key = (photo.sha256 or f"{photo.bucket}/{photo.key}", garment_type)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        try:
            image = store.get(photo)
        except MissingObject:
            raise RenderFailure(
                "flat_lay_missing", f"the product's image {photo.key} is no longer stored; send it again"
            ) from None
        answer = call_model(
            model, model_io.GARMENT_PREP, {"IMAGE": [image], "GARMENT_TYPE": model_io.text(garment_type)}
        )
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self._capacity:
                self._answers.popitem(last=False)
        return answer


class CancelledLooks:
    """The newest cancelled product version per look, kept in memory and in the state bucket (so
    a restarted consumer still skips a retired look's pending requests)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _ref(look_id: str) -> events_pb2.ObjectRef:
        return events_pb2.ObjectRef(bucket=STATE_BUCKET, key=f"render/cancelled/{look_id}")

    def cancel(self, look_id: str, product_version: int) -> None:
        if product_version <= self.version(look_id):
            return
        ref = self._ref(look_id)
        self._store.put(ref.bucket, ref.key, str(product_version).encode(), "text/plain")
        with self._lock:
            self._versions[look_id] = product_version

    def version(self, look_id: str) -> int:
        """The newest cancelled version of the look, -1 when none was."""
        with self._lock:
            if look_id in self._versions:
                return self._versions[look_id]
        try:
            version = int(self._store.get(self._ref(look_id)))
        except MissingObject:
            version = -1
        with self._lock:
            self._versions.setdefault(look_id, version)
            return self._versions[look_id]


def handle_render_cancelled(event: Incoming, cancelled: CancelledLooks) -> list[Outgoing]:
    message = event.payload
    assert isinstance(message, events_pb2.RenderCancelled)
    if not message.look_id:
        raise PermanentError("RenderCancelled needs look_id")
    cancelled.cancel(message.look_id, message.product_version)
    return []


def render_prefix(request: events_pb2.RenderRequested) -> str:
    return f"{request.look_id or request.sku}/{request.render_id}"


class RenderFailure(Exception):
    """The product cannot be rendered as it is; code and reason go into RenderFailed."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def handle_render_requested(
    event: Incoming,
    store: ObjectStore,
    models: RenderModels,
    cancelled: CancelledLooks,
    pool: ThreadPoolExecutor,
    textures: TextureCache,
) -> list[Outgoing]:
    request = event.payload
    assert isinstance(request, events_pb2.RenderRequested)
    _check(request)
    look_id = request.look_id or request.sku
    if request.product_version <= cancelled.version(look_id):
        return []  # the look was retired after this render was planned
    summary = events_pb2.ObjectRef(bucket=RENDERS_BUCKET, key=f"{render_prefix(request)}/completed.pb")
    try:
        completed = events_pb2.RenderCompleted.FromString(store.get(summary))
        completed.cached = True
    except MissingObject:
        try:
            completed = render(request, store, models, pool, textures)
        except RenderFailure as failure:
            return [_failed(request, failure.code, failure.reason)]
        store.put(summary.bucket, summary.key, completed.SerializeToString(), "application/x-protobuf")
    _describe(completed, request)
    return [Outgoing(RENDER_RESULTS.name, look_id, completed, request.render_id)]


def _check(request: events_pb2.RenderRequested) -> None:
    if not request.render_id or not request.twin.twin_id:
        raise PermanentError("RenderRequested needs render_id and twin.twin_id")
    if request.garment.type and request.garment.type not in GARMENT_TYPES:
        raise PermanentError(
            f"RenderRequested.garment.type {request.garment.type!r} is not one of {', '.join(GARMENT_TYPES)}"
        )
    for image in [request.flat_lay, *(i.object for i in request.images)]:
        if image.key and image.bucket != FLAT_LAYS_BUCKET:
            raise PermanentError(f"RenderRequested images must be in {FLAT_LAYS_BUCKET}, not {image.bucket!r}")


def _garment_photo(request: events_pb2.RenderRequested) -> events_pb2.ObjectRef:
    for role in TEXTURE_ROLES:
        for image in request.images:
            if image.role == role and image.object.key:
                return image.object
    if request.flat_lay.key:
        return request.flat_lay
    raise RenderFailure(
        "flat_lay_missing", "the product has no flat-lay or ghost-mannequin image to take the garment from"
    )


def image_size(request: events_pb2.RenderRequested) -> tuple[int, int]:
    size = (request.width, request.height) if request.width and request.height else DEFAULT_SIZE
    if size not in (DEFAULT_SIZE, LARGE_SIZE):
        raise PermanentError(f"RenderRequested width x height must be 1024x1536 or 2048x3072, got {size[0]}x{size[1]}")
    return size


class Stopwatch:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def timed(self, stage: str, work: Callable[[], object]) -> object:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - started) * 1000


def render(
    request: events_pb2.RenderRequested,
    store: ObjectStore,
    models: RenderModels,
    pool: ThreadPoolExecutor,
    textures: TextureCache,
) -> events_pb2.RenderCompleted:
    """Renders the request and stores the master and its passes; RenderFailure when the product's
    images cannot give a garment."""
    clock = Stopwatch()
    width, height = image_size(request)
    photo = _garment_photo(request)
    garment_type = request.garment.type or "t-shirt"
    pose = request.pose or "front"
    params = request.twin.body_parameters.SerializeToString()
    # Garment prep and body do not depend on each other: both requests go to Triton at once.
    body_future = pool.submit(
        clock.timed,
        "body",
        lambda: call_model(models.body, model_io.BODY, {"BODY_PARAMETERS": [params], "POSE": model_io.text(pose)}),
    )
    texture = clock.timed("garment_prep", lambda: textures.prepare(photo, garment_type, store, models.garment_prep))
    failure = model_io.failure_from_outputs(texture)
    if failure:
        body_future.cancel()
        raise RenderFailure(*failure)
    mesh = body_future.result()
    background, background_image = _background(request, store)
    inputs = render_inputs(request, mesh, texture, background, background_image, width, height)
    out = clock.timed("render", lambda: call_model(models.render, model_io.RENDER, inputs))
    engine_ms = json.loads(model_io.texts(out["TIMINGS"])[0])
    appearance = request.twin.appearance
    skin = appearance.skin_rgb if appearance.HasField("skin_rgb") else request.twin.skin_rgb
    # Fidelity is judged against the garment's colour as its photo shows it (the same dominant-colour
    # measure on the flat-lay's pixels): the PIM's colour names the base of a check or a print, not
    # what the fabric's pixels add up to, and a PIM colour that disagrees with the photo is the
    # catalogue's problem (ingestion flags an estimated colour), not the render's.
    product_rgb = tuple(texture["COLOUR"])
    result = RenderResult(
        rgba=out["RGBA"],
        albedo=out["ALBEDO"],
        garment_mask=out["GARMENT_MASK"],
        body_mask=out["BODY_MASK"],
        region_mask=out["REGION_MASK"],
        timings_ms=engine_ms,
    )
    quality = clock.timed("qa", lambda: render_quality(result, product_rgb, _rgb(skin)))
    prefix = render_prefix(request)
    metadata = {"render-id": request.render_id}
    master, albedo, mask = clock.timed(
        "encode", lambda: [model_io.encode_png(a) for a in (result.rgba, result.albedo, result.garment_mask)]
    )
    completed = events_pb2.RenderCompleted(
        image=store.put(RENDERS_BUCKET, f"{prefix}/master.png", master, "image/png", metadata=metadata),
        albedo=store.put(RENDERS_BUCKET, f"{prefix}/albedo.png", albedo, "image/png", metadata=metadata),
        garment_mask=store.put(RENDERS_BUCKET, f"{prefix}/garment-mask.png", mask, "image/png", metadata=metadata),
        width=width,
        height=height,
        quality=quality,
        models=[events_pb2.ModelVersion(name=m.model_name, version=m.version()) for m in models.all()],
        model=models.render.model_name,
    )
    if request.turntable:
        frames = clock.timed("turntable", lambda: turntable_frames(models, inputs, pool))
        webp, mp4 = clock.timed("encode", lambda: (encode_webp(frames), encode_mp4(frames)))
        completed.turntable_webp.CopyFrom(
            store.put(RENDERS_BUCKET, f"{prefix}/turntable.webp", webp, "image/webp", metadata=metadata)
        )
        completed.turntable_mp4.CopyFrom(
            store.put(RENDERS_BUCKET, f"{prefix}/turntable.mp4", mp4, "video/mp4", metadata=metadata)
        )
    timings = {**clock.ms, **{k: float(v) for k, v in engine_ms.items() if k in ("garment_fit", "raster")}}
    completed.timings_ms.update(timings)
    # Wall time of the stages; the models' own CPU time is spent in Triton, where it is not metered per request.
    completed.compute_seconds = sum(clock.ms.values()) / 1000
    return completed


def turntable_frames(models: RenderModels, inputs: dict[str, object], pool: ThreadPoolExecutor) -> list[np.ndarray]:
    """24 views around the twin, as 24 concurrent render requests that Triton batches."""
    yaw = float(np.asarray(inputs["VIEW_YAW"])[0])

    def frame(i: int) -> np.ndarray:
        view = {**inputs, "VIEW_YAW": [yaw + 360.0 * i / TURNTABLE_FRAMES], "IMAGE_SIZE": list(TURNTABLE_SIZE)}
        return call_model(models.render, model_io.RENDER, view)["RGBA"]

    return list(pool.map(frame, range(TURNTABLE_FRAMES)))


def render_inputs(
    request: events_pb2.RenderRequested,
    mesh: Mapping[str, np.ndarray],
    texture: Mapping[str, np.ndarray],
    background: str,
    background_image: bytes,
    width: int,
    height: int,
) -> dict[str, object]:
    twin, appearance, size = request.twin, request.twin.appearance, request.size
    body = twin.body
    skin = appearance.skin_rgb if appearance.HasField("skin_rgb") else twin.skin_rgb

    def span(measure: events_pb2.MeasureRange, given: bool) -> tuple[float, float] | None:
        return (measure.min_cm, measure.max_cm) if given else None

    return {
        **{name: mesh[name] for name in model_io.BODY_MESH},
        "MEASUREMENTS": [
            body.stature_cm,
            body.chest_girth_cm,
            body.waist_girth_cm,
            body.hip_girth_cm,
            body.inside_leg_cm,
            body.shoulder_width_cm,
        ],
        "GARMENT": np.array(
            [
                v.encode()
                for v in (request.garment.type or "t-shirt", request.garment.sleeve_length, request.garment.length)
            ],
            dtype=np.object_,
        ),
        # No size row: the engine fits the garment regularly.
        "SIZE_LABEL": model_io.text((size.size_label or request.size_label) if request.HasField("size") else ""),
        "SIZE_RANK": [size.rank],
        "SIZE_RANGES": model_io.size_ranges(
            [
                span(size.chest_girth, size.HasField("chest_girth")),
                span(size.waist_girth, size.HasField("waist_girth")),
                span(size.hip_girth, size.HasField("hip_girth")),
                span(size.inside_leg, size.HasField("inside_leg")),
            ]
        ),
        "TEXTURE": texture["TEXTURE"],
        "LANDMARKS": texture["LANDMARKS"],
        "GARMENT_RGB": texture["COLOUR"],
        "SKIN_RGB": _rgb(skin),
        "MONK_SKIN_TONE": [appearance.monk_skin_tone or twin.monk_skin_tone or 5],
        "HAIRSTYLE": model_io.text(appearance.hairstyle or "bob"),
        "HAIR_RGB": _rgb(appearance.hair_colour),
        "EYE_RGB": _rgb(appearance.eye_colour),
        "BACKGROUND": model_io.text(background),
        "BACKGROUND_IMAGE": [background_image],
        "VIEW_YAW": [POSE_YAW.get(request.pose, 0.0)],
        "IMAGE_SIZE": [width, height],
    }


def _background(request: events_pb2.RenderRequested, store: ObjectStore) -> tuple[str, bytes]:
    """The studio colour or gradient, or the bytes of a backdrop image from the backgrounds bucket."""
    spec = request.background or "#ece9e4"
    if spec.startswith("#") or spec.startswith("gradient:"):
        return spec, b""
    try:
        return "", store.get(events_pb2.ObjectRef(bucket=BACKGROUNDS_BUCKET, key=spec))
    except MissingObject:
        raise RenderFailure("background_missing", f"background image {spec!r} is not in {BACKGROUNDS_BUCKET}") from None


def _rgb(colour: events_pb2.Rgb) -> tuple[int, int, int]:
    return colour.r, colour.g, colour.b


def _describe(completed: events_pb2.RenderCompleted, request: events_pb2.RenderRequested) -> None:
    """What the result says of the request (the same render may answer several product versions)."""
    twin = request.twin
    completed.render_id = request.render_id
    completed.sku = request.sku
    completed.revision = request.revision
    completed.twin_id = twin.twin_id
    completed.consent_id = twin.consent_id
    completed.product_version = request.product_version
    completed.pose = request.pose
    completed.look_id = request.look_id
    completed.twin_kind = twin.kind
    completed.size_label = request.size_label or twin.size_label
    completed.monk_skin_tone = twin.appearance.monk_skin_tone or twin.monk_skin_tone
    completed.body_type = twin.appearance.body_type
    completed.brand = request.brand
    completed.channels[:] = request.channels
    completed.markets[:] = request.markets
    completed.garment_colour.CopyFrom(request.garment_colour)
    completed.colour_name = request.colour_name
    completed.variant_skus[:] = request.variant_skus
    completed.garment_type = request.garment.type


def _failed(request: events_pb2.RenderRequested, code: str, reason: str) -> Outgoing:
    failed = events_pb2.RenderFailed(
        render_id=request.render_id,
        sku=request.sku,
        product_version=request.product_version,
        twin_id=request.twin.twin_id,
        pose=request.pose,
        code=code,
        reason=reason,
        look_id=request.look_id,
    )
    return Outgoing(RENDER_RESULTS.name, request.look_id or request.sku, failed, request.render_id)
