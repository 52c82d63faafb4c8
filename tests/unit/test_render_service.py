"""Render's handlers against an in-memory MinIO stand-in, the real garment prep (in-process) and
stand-ins for the body and render models (their real versions run in the integration tests)."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from devkit.catalogue import draw_flat_lay
from devkit.memory_store import MemoryStore
from services.render import model_io
from services.render.handlers import (
    CancelledLooks,
    RenderModels,
    TextureCache,
    handle_render_cancelled,
    handle_render_requested,
)
from services.render.inference import GarmentPrepRunner, InProcessModel
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import BACKGROUNDS_BUCKET, FLAT_LAYS_BUCKET, PUBLISHED_BUCKET, RENDERS_BUCKET
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.faults import PermanentError

RED = (0xC0, 0x39, 0x2B)
SKIN = (141, 85, 36)


def incoming(payload) -> Incoming:
    return Incoming(wrap(payload, producer="t", key="k", event_id="e", correlation_id="c"), payload)


class StandInBody:
    model_name = "body"

    def __init__(self) -> None:
        self.calls = 0

    def infer(self, inputs, output_names):
        self.calls += 1
        params = events_pb2.BodyParameters.FromString(bytes(inputs["BODY_PARAMETERS"][0, 0]))
        assert "weight" in params.phenotype, "the twin's anny parameters reach the body model"
        mesh = {
            "VERTICES": np.zeros((1, 4, 3), np.float32),
            "NORMALS": np.zeros((1, 4, 3), np.float32),
            "FACES": np.zeros((1, 2, 3), np.int32),
            "PARTS": np.zeros((1, 4), np.uint8),
            "UVS": np.zeros((1, 4, 2), np.float32),
            "JOINTS": np.zeros((1, 1, 3), np.float32),
            "JOINT_NAMES": np.array([[b"root"]], dtype=np.object_),
        }
        return {name: mesh[name] for name in output_names}

    def version(self) -> str:
        return "1"


class StandInRender:
    """Paints the garment's colour over a centre region and skin above it, as the passes would."""

    model_name = "render"

    def __init__(self) -> None:
        self.calls: list[dict[str, np.ndarray]] = []

    def infer(self, inputs, output_names):
        self.calls.append(inputs)
        width, height = (int(v) for v in inputs["IMAGE_SIZE"][0])
        rgba = np.zeros((height, width, 4), np.uint8)
        albedo = np.zeros((height, width, 3), np.uint8)
        garment = np.zeros((height, width), np.uint8)
        skin = np.zeros((height, width), np.uint8)
        turn = int(inputs["VIEW_YAW"][0, 0]) // 15  # each view differs
        garment[height // 3 : 2 * height // 3, width // 4 + turn : 3 * width // 4] = 255
        skin[height // 6 : height // 3, width // 3 : 2 * width // 3] = 255
        albedo[garment > 0] = inputs["GARMENT_RGB"][0]
        albedo[skin > 0] = inputs["SKIN_RGB"][0]
        rgba[..., :3], rgba[..., 3] = albedo, 255
        out = {
            "RGBA": rgba,
            "ALBEDO": albedo,
            "GARMENT_MASK": garment,
            "BODY_MASK": skin,
            "REGION_MASK": garment,
            "TIMINGS": np.array([json.dumps({"garment_fit": 5.0, "raster": 7.0}).encode()], dtype=np.object_),
        }
        return {name: out[name][np.newaxis] for name in output_names}

    def version(self) -> str:
        return "1"


@pytest.fixture
def pool():
    with ThreadPoolExecutor(8) as executor:
        yield executor


def models() -> RenderModels:
    return RenderModels(InProcessModel(GarmentPrepRunner()), StandInBody(), StandInRender())


def request(store: MemoryStore, render_id="r1", version=1, flat_lay: bytes | None = None, **fields):
    photo = flat_lay if flat_lay is not None else draw_flat_lay("tee", "solid", "#c0392b", side=320, photo_seed="t")
    image = store.put(FLAT_LAYS_BUCKET, "look-1/flat.png", photo, "image/png")
    twin = events_pb2.TwinRef(
        twin_id="twin-a",
        consent_id="consent-a",
        kind="synthetic",
        size_label="M",
        body_parameters=events_pb2.BodyParameters(phenotype={"weight": 0.4, "gender": 0.2}),
        appearance=events_pb2.Appearance(
            monk_skin_tone=6,
            skin_rgb=events_pb2.Rgb(r=SKIN[0], g=SKIN[1], b=SKIN[2]),
            hairstyle="bob",
            body_type="curvy",
        ),
    )
    defaults = {
        "pose": "front",
        "garment": events_pb2.Garment(type="t-shirt", sleeve_length="short"),
        "garment_colour": events_pb2.Rgb(r=RED[0], g=RED[1], b=RED[2]),
    }
    return events_pb2.RenderRequested(
        render_id=render_id,
        sku="TW-1",
        look_id="look-1",
        product_version=version,
        twin=twin,
        images=[events_pb2.ProductImage(role="flat_lay", object=image)],
        size_label="M",
        size=events_pb2.SizeChartRow(size_label="M", rank=2, chest_girth=events_pb2.MeasureRange(min_cm=88, max_cm=96)),
        channels=["ecommerce"],
        **{**defaults, **fields},
    )


def handle(store, the_models, req, pool, cancelled=None, textures=None):
    cancelled = cancelled or CancelledLooks(store)
    return handle_render_requested(incoming(req), store, the_models, cancelled, pool, textures or TextureCache())


def test_a_render_stores_its_master_and_passes_and_reports_quality(pool):
    store, the_models = MemoryStore(), models()
    [outcome] = handle(store, the_models, request(store), pool)
    done = outcome.payload
    assert isinstance(done, events_pb2.RenderCompleted) and outcome.key == "look-1"
    assert (done.image.key, done.albedo.key, done.garment_mask.key) == (
        "look-1/r1/master.png",
        "look-1/r1/albedo.png",
        "look-1/r1/garment-mask.png",
    )
    master = Image.open(io.BytesIO(store.objects[(RENDERS_BUCKET, done.image.key)][0]))
    assert master.size == (1024, 1536) and master.mode == "RGBA"
    assert (done.width, done.height) == (1024, 1536)
    # the stand-in paints the colour garment prep measured: close to the product's
    assert done.quality.garment_delta_e2000 < 2.0
    assert done.quality.skin_delta_e2000 < 0.5
    assert done.quality.garment_coverage == pytest.approx(1.0)
    assert done.quality.body_through_garment == 0.0
    assert {"body", "garment_prep", "garment_fit", "raster", "encode", "render", "qa"} <= set(done.timings_ms)
    assert [(m.name, m.version) for m in done.models] == [
        ("garment_prep", "in-process"),
        ("body", "1"),
        ("render", "1"),
    ]
    assert (done.twin_kind, done.size_label, done.monk_skin_tone, done.body_type) == ("synthetic", "M", 6, "curvy")
    assert (done.garment_type, list(done.channels), done.cached) == ("t-shirt", ["ecommerce"], False)
    sent = the_models.render.calls[0]
    assert model_io.texts(sent["SIZE_LABEL"][0]) == ["M"]
    assert sent["SIZE_RANGES"][0][0].tolist() == [88.0, 96.0] and np.isnan(sent["SIZE_RANGES"][0][1]).all()


def test_a_render_is_made_once_and_reused_by_later_versions(pool):
    store, the_models = MemoryStore(), models()
    [first] = handle(store, the_models, request(store, version=1), pool)
    [again] = handle(store, the_models, request(store, version=2), pool)
    assert len(the_models.render.calls) == 1
    assert (first.payload.cached, again.payload.cached) == (False, True)
    assert again.payload.product_version == 2 and again.payload.image.key == first.payload.image.key
    assert again.payload.quality == first.payload.quality


@pytest.mark.parametrize(
    ("photo", "code", "words"),
    [
        (b"not an image", "flat_lay_unreadable", "cannot be decoded"),
        (draw_flat_lay("tee", "solid", "#c0392b", side=40), "flat_lay_too_small", "40x40 px"),
    ],
)
def test_an_unusable_photo_is_a_render_failed_a_merchandiser_can_act_on(pool, photo, code, words):
    store, the_models = MemoryStore(), models()
    [outcome] = handle(store, the_models, request(store, flat_lay=photo), pool)
    failed = outcome.payload
    assert isinstance(failed, events_pb2.RenderFailed)
    assert (failed.code, failed.look_id, failed.twin_id) == (code, "look-1", "twin-a")
    assert words in failed.reason
    assert the_models.render.calls == []


def test_a_cancelled_look_skips_its_pending_versions_and_remembers_across_restarts(pool):
    store, the_models = MemoryStore(), models()
    cancelled = CancelledLooks(store)
    handle_render_cancelled(incoming(events_pb2.RenderCancelled(look_id="look-1", product_version=5)), cancelled)
    assert handle(store, the_models, request(store, version=5), pool, cancelled) == []
    assert handle(store, the_models, request(store, version=4), pool, CancelledLooks(store)) == []
    [newer] = handle(store, the_models, request(store, version=6), pool, CancelledLooks(store))
    assert isinstance(newer.payload, events_pb2.RenderCompleted)
    assert len(the_models.render.calls) == 1


def test_a_turntable_is_24_views_as_webp_and_mp4(pool):
    store, the_models = MemoryStore(), models()
    [outcome] = handle(store, the_models, request(store, turntable=True), pool)
    done = outcome.payload
    views = sorted(float(call["VIEW_YAW"][0, 0]) for call in the_models.render.calls[1:])
    assert views == [15.0 * i for i in range(24)]
    webp = Image.open(io.BytesIO(store.objects[(RENDERS_BUCKET, done.turntable_webp.key)][0]))
    assert webp.n_frames == 24 and webp.size == (512, 768)
    mp4 = store.objects[(RENDERS_BUCKET, done.turntable_mp4.key)][0]
    assert mp4[4:8] == b"ftyp" and done.turntable_mp4.content_type == "video/mp4"


def test_bad_requests_are_refused_naming_the_field(pool):
    store = MemoryStore()
    forged = request(store)
    forged.images[0].object.bucket = PUBLISHED_BUCKET
    with pytest.raises(PermanentError, match="images must be in twinwear-flat-lays"):
        handle(store, models(), forged, pool)
    with pytest.raises(PermanentError, match=r"garment.type 'cape' is not one of"):
        handle(store, models(), request(store, garment=events_pb2.Garment(type="cape")), pool)
    with pytest.raises(PermanentError, match="1024x1536 or 2048x3072, got 100x100"):
        handle(store, models(), request(store, width=100, height=100), pool)


class CountingPrep(InProcessModel):
    calls = 0

    def infer(self, inputs, output_names):
        CountingPrep.calls += 1
        return super().infer(inputs, output_names)


def test_a_look_is_prepared_once_for_every_twin(pool):
    store, textures = MemoryStore(), TextureCache()
    the_models = RenderModels(CountingPrep(GarmentPrepRunner()), StandInBody(), StandInRender())
    for i in range(3):
        [outcome] = handle(store, the_models, request(store, render_id=f"r{i}"), pool, textures=textures)
        assert isinstance(outcome.payload, events_pb2.RenderCompleted)
    assert CountingPrep.calls == 1 and len(the_models.render.calls) == 3


def test_a_backdrop_image_comes_from_the_backgrounds_bucket(pool):
    store, the_models = MemoryStore(), models()
    [missing] = handle(store, the_models, request(store, background="studio/loft.jpg"), pool)
    assert missing.payload.code == "background_missing" and "studio/loft.jpg" in missing.payload.reason
    store.put(BACKGROUNDS_BUCKET, "studio/loft.jpg", b"jpeg bytes", "image/jpeg")
    [done] = handle(store, the_models, request(store, render_id="r2", background="studio/loft.jpg", pose="back"), pool)
    sent = the_models.render.calls[-1]
    assert isinstance(done.payload, events_pb2.RenderCompleted)
    assert bytes(sent["BACKGROUND_IMAGE"][0, 0]) == b"jpeg bytes"
    assert float(sent["VIEW_YAW"][0, 0]) == 180.0, "the back pose is seen from behind"


def test_a_studio_colour_is_passed_as_is(pool):
    store, the_models = MemoryStore(), models()
    handle(store, the_models, request(store, background="gradient:#ffffff:#cccccc"), pool)
    sent = the_models.render.calls[-1]
    assert model_io.texts(sent["BACKGROUND"][0]) == ["gradient:#ffffff:#cccccc"]
    assert bytes(sent["BACKGROUND_IMAGE"][0, 0]) == b""
