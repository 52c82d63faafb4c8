"""The render models' contract (services/render/model_io.py) matches every config.pbtxt in the
model repository, the models are thin wrappers around the package, and the encodings the render
service and the models share round-trip."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from devkit.catalogue import draw_flat_lay
from services.render import model_io
from services.render.engine.api import LANDMARKS
from services.render.inference import GarmentPrepRunner, InvalidInput

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "infra" / "triton" / "models"


def test_repository_holds_exactly_the_render_models():
    assert sorted(p.name for p in REPOSITORY.iterdir() if p.is_dir()) == sorted(m.name for m in model_io.MODELS)


@pytest.mark.parametrize("spec", model_io.MODELS, ids=lambda s: s.name)
def test_config_is_written_from_the_contract(spec):
    text = (REPOSITORY / spec.name / "config.pbtxt").read_text()
    assert text == model_io.config_pbtxt(spec), "run `python -m services.render.model_io` to rewrite it"
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert config.name == spec.name and config.backend == "python"
    assert config.max_batch_size == spec.max_batch_size > 1
    assert config.dynamic_batching.max_queue_delay_microseconds == spec.max_queue_delay_us

    def declared(tensors):
        return [(t.name, model_config_pb2.DataType.Name(t.data_type), tuple(t.dims)) for t in tensors]

    assert declared(config.input) == [(s.name, s.triton_type, s.dims) for s in spec.inputs]
    assert declared(config.output) == [(s.name, s.triton_type, s.dims) for s in spec.outputs]
    assert [(g.kind, g.count) for g in config.instance_group] == [(model_config_pb2.ModelInstanceGroup.KIND_CPU, 2)]


@pytest.mark.parametrize("spec", model_io.MODELS, ids=lambda s: s.name)
def test_gpu_variant_parses(spec):
    config = text_format.Parse(model_io.config_pbtxt(spec, "KIND_GPU", 1), model_config_pb2.ModelConfig())
    (group,) = config.instance_group
    assert (group.kind, group.count, list(group.gpus)) == (model_config_pb2.ModelInstanceGroup.KIND_GPU, 1, [0])


@pytest.mark.parametrize("spec", model_io.MODELS, ids=lambda s: s.name)
def test_models_are_thin_wrappers(spec):
    """model.py holds no domain code: imports and one class whose one method makes a runner."""
    tree = ast.parse((REPOSITORY / spec.name / "1" / "model.py").read_text())
    (model,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert model.name == "TritonPythonModel"
    assert [f.name for f in model.body if isinstance(f, ast.FunctionDef)] == ["make_runner"]
    assert len(ast.unparse(model).splitlines()) <= 5
    assert not [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def test_render_takes_the_body_models_outputs():
    render_inputs = {s.name: (s.dtype, s.dims) for s in model_io.RENDER.inputs}
    for out in model_io.BODY.outputs:
        assert render_inputs[out.name] == (out.dtype, out.dims), out.name
    for name in ("TEXTURE", "LANDMARKS"):
        assert render_inputs[name] == (
            model_io.GARMENT_PREP.output(name).dtype,
            model_io.GARMENT_PREP.output(name).dims,
        )


def test_batch_row_checks_names_and_shapes():
    row = model_io.batch_row(model_io.GARMENT_PREP, {"IMAGE": [b"png bytes"], "GARMENT_TYPE": model_io.text("t-shirt")})
    assert {name: array.shape for name, array in row.items()} == {"IMAGE": (1, 1), "GARMENT_TYPE": (1, 1)}
    with pytest.raises(ValueError, match=r"garment_prep takes inputs \['IMAGE', 'GARMENT_TYPE'\]"):
        model_io.batch_row(model_io.GARMENT_PREP, {"IMAGE": [b""]})
    with pytest.raises(ValueError, match=r"render.IMAGE_SIZE must have shape \[2\], got \[3\]"):
        values = {s.name: np.zeros([1 if d == -1 else d for d in s.dims], s.dtype) for s in model_io.RENDER.inputs}
        model_io.batch_row(model_io.RENDER, {**values, "IMAGE_SIZE": [1, 2, 3]})


def prep_request(*photos: tuple[bytes, str]) -> dict[str, np.ndarray]:
    return {
        "IMAGE": np.array([[p] for p, _ in photos], dtype=np.object_),
        "GARMENT_TYPE": np.array([[t.encode()] for _, t in photos], dtype=np.object_),
    }


def test_garment_prep_runner_answers_each_row():
    tee = draw_flat_lay("tee", "solid", "#c0392b", side=400, photo_seed="tee")
    (answer,) = GarmentPrepRunner().run([prep_request((tee, "t-shirt"), (b"corrupt", "t-shirt"))])
    assert {name: array.shape for name, array in answer.items()} == {
        "TEXTURE": (2, 1),
        "LANDMARKS": (2, len(LANDMARKS), 2),
        "COLOUR": (2, 3),
        "FAILURE": (2, 2),
    }
    first = {name: array[0] for name, array in answer.items()}
    assert model_io.failure_from_outputs(first) is None
    texture = model_io.texture_from_outputs(first)
    assert texture.rgba.shape[2] == 4 and set(texture.landmarks) >= {"shoulder_left", "hem_right"}
    code, reason = model_io.failure_from_outputs({name: array[1] for name, array in answer.items()})
    assert code == "flat_lay_unreadable" and "cannot be decoded" in reason


def test_garment_prep_runner_fails_a_ragged_request_alone():
    tee = draw_flat_lay("tee", "solid", "#c0392b", side=200)
    ragged = prep_request((tee, "t-shirt"))
    ragged["GARMENT_TYPE"] = np.array([[b"t-shirt"], [b"t-shirt"]], dtype=np.object_)
    bad, good = GarmentPrepRunner().run([ragged, prep_request((tee, "t-shirt"))])
    assert isinstance(bad, InvalidInput) and "batch sizes differ" in str(bad)
    assert model_io.failure_from_outputs({n: a[0] for n, a in good.items()}) is None
