"""The garment_on_twin contract (services/render/model_io.py) matches config.pbtxt, the model's own
constants and what the render service sends, so none of them can drift from the others."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tritonclient.grpc import model_config_pb2

from services.render import model_io
from services.render.handlers import garment_pixels, model_inputs
from twinwear.v1 import events_pb2

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "infra" / "triton" / "models" / model_io.MODEL_NAME


@pytest.fixture(scope="module")
def config() -> model_config_pb2.ModelConfig:
    return text_format.Parse((MODEL_DIR / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


@pytest.fixture(scope="module")
def model():
    """infra/triton/models/garment_on_twin/1/model.py, imported outside Triton (no pb_utils)."""
    spec = importlib.util.spec_from_file_location("garment_on_twin_model", MODEL_DIR / "1" / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _specs(tensors) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(t.name, model_config_pb2.DataType.Name(t.data_type), tuple(t.dims)) for t in tensors]


def test_config_declares_the_contract(config):
    assert config.name == model_io.MODEL_NAME
    assert config.backend == "python"
    assert _specs(config.input) == [(s.name, s.triton_type, s.dims) for s in model_io.INPUTS]
    assert _specs(config.output) == [(s.name, s.triton_type, s.dims) for s in model_io.OUTPUTS]


def test_config_batches_dynamically(config):
    assert config.max_batch_size == model_io.MAX_BATCH_SIZE > 1
    assert config.HasField("dynamic_batching")
    assert config.dynamic_batching.max_queue_delay_microseconds == model_io.MAX_QUEUE_DELAY_US


def test_model_constants_match(model):
    assert tuple(s.name for s in model_io.INPUTS) == model.INPUT_NAMES
    assert (model.OUT_H, model.OUT_W) == (model_io.OUT_H, model_io.OUT_W)
    assert model.NEAR_WHITE == model_io.NEAR_WHITE
    assert min(model_io.PAD_RGB) >= model.NEAR_WHITE, "letterbox padding must read as background"


def _render_request() -> events_pb2.RenderRequested:
    request = events_pb2.RenderRequested(render_id="r1")
    request.garment_colour.r, request.garment_colour.g, request.garment_colour.b = 30, 90, 200
    request.twin.skin_rgb.r, request.twin.skin_rgb.g, request.twin.skin_rgb.b = 141, 85, 36
    body = request.twin.body
    body.stature_cm, body.chest_girth_cm, body.waist_girth_cm, body.hip_girth_cm = 175, 100, 85, 100
    return request


def _png(width: int, height: int, rgb=(30, 90, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("size", [(600, 300), (100, 180), (256, 256)])
def test_flat_lay_is_letterboxed_to_a_fixed_square(size):
    pixels = garment_pixels(_png(*size))
    assert pixels.shape == model_io.GARMENT_IMAGE.dims
    assert pixels.dtype == np.uint8
    garment = ~np.all(pixels >= model_io.NEAR_WHITE, axis=2)
    rows, cols = np.flatnonzero(garment.any(axis=1)), np.flatnonzero(garment.any(axis=0))
    scale = min(1.0, model_io.GARMENT_SIDE / max(size))
    assert (cols.size, rows.size) == (round(size[0] * scale), round(size[1] * scale))
    # centred: the padding on either side differs by at most one pixel
    assert abs(int(rows[0]) - (model_io.GARMENT_SIDE - 1 - int(rows[-1]))) <= 1
    assert abs(int(cols[0]) - (model_io.GARMENT_SIDE - 1 - int(cols[-1]))) <= 1


def test_render_service_sends_one_row_batches():
    inputs = model_inputs(_render_request(), garment_pixels(_png(300, 200)))
    assert list(inputs) == [s.name for s in model_io.INPUTS]
    for spec in model_io.INPUTS:
        assert inputs[spec.name].shape == (1, *spec.dims), spec.name
        assert inputs[spec.name].dtype == spec.dtype, spec.name
    assert inputs["BODY"].tolist() == [[175.0, 100.0, 85.0, 100.0]]


def test_batch_rows_render_as_they_would_alone(model):
    inputs = model_inputs(_render_request(), garment_pixels(_png(300, 200)))
    other = {name: array.copy() for name, array in inputs.items()}
    other["BODY"][0] = (160.0, 84.0, 68.0, 90.0)
    batch = {name: np.concatenate([inputs[name], other[name]]) for name in inputs}

    images = model.render_batch(*batch.values())
    assert images.shape == (2, *model_io.IMAGE.dims)
    assert images.dtype == model_io.IMAGE.dtype
    assert images[0].tobytes() == model.render_batch(*inputs.values())[0].tobytes()
    assert images[1].tobytes() == model.render_batch(*other.values())[0].tobytes()
    assert images[0].tobytes() != images[1].tobytes()


def test_bad_row_is_named(model):
    inputs = model_inputs(_render_request(), garment_pixels(_png(300, 200)))
    batch = {name: np.concatenate([array, array]) for name, array in inputs.items()}
    batch["BODY"][1, 3] = 400.0
    with pytest.raises(model.InvalidInput, match=r"row 1: BODY hip_girth_cm"):
        model.render_batch(*batch.values())
    batch["BODY"] = batch["BODY"][:1]
    with pytest.raises(model.InvalidInput, match="batch sizes differ"):
        model.render_batch(*batch.values())
