"""render's Triton models (garment_prep, body, render) over gRPC, with the shapes their configs
declare, one row, several rows in one request, and concurrent requests the dynamic batcher groups.

Needs a Triton serving this repository's infra/triton/models: the stack's (`infra/stack.sh up
triton`, gRPC 127.0.0.1:8001, metrics 127.0.0.1:8002), or another one named by
TWINWEAR_TRITON_GRPC and TWINWEAR_TRITON_METRICS (e.g. one serving a worktree's models).
"""

from __future__ import annotations

import io
import os
import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from devkit.catalogue import GARMENT_SHAPES, draw_flat_lay
from services.render import model_io
from services.render.engine.qa import delta_e2000
from tests.bad_images import noise, truncated

pytestmark = pytest.mark.integration

TRITON_GRPC = os.environ.get("TWINWEAR_TRITON_GRPC", "127.0.0.1:8001")
METRICS_URL = os.environ.get("TWINWEAR_TRITON_METRICS", "http://127.0.0.1:8002/metrics")


@pytest.fixture(scope="module")
def client() -> grpcclient.InferenceServerClient:
    triton = grpcclient.InferenceServerClient(TRITON_GRPC)
    try:
        live = triton.is_server_live()
    except InferenceServerException as err:
        pytest.fail(f"Triton is not reachable on {TRITON_GRPC} (run infra/stack.sh up triton): {err}")
    assert live
    yield triton
    triton.close()


def infer(client, spec: model_io.ModelSpec, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One request (any number of rows); returns every output of the spec."""
    inputs = []
    for name, array in batch.items():
        tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    outputs = [grpcclient.InferRequestedOutput(s.name) for s in spec.outputs]
    result = client.infer(spec.name, inputs, outputs=outputs)
    return {s.name: result.as_numpy(s.name) for s in spec.outputs}


def rows(*batches: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def row(batch: dict[str, np.ndarray], i: int = 0) -> dict[str, np.ndarray]:
    return {name: array[i] for name, array in batch.items()}


@pytest.mark.parametrize("spec", model_io.MODELS, ids=lambda s: s.name)
def test_metadata_declares_the_contract(client, spec):
    assert client.is_model_ready(spec.name)
    metadata = client.get_model_metadata(spec.name, as_json=True)
    wire = {"TYPE_STRING": "BYTES"}

    def declared(tensors):
        return [
            (t.name, wire.get(t.triton_type, t.triton_type.removeprefix("TYPE_")), ["-1", *map(str, t.dims)])
            for t in tensors
        ]

    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == declared(spec.inputs)
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == declared(spec.outputs)


# --- garment_prep ---------------------------------------------------------------------------------
def prep(image: bytes, garment_type: str = "t-shirt") -> dict[str, np.ndarray]:
    return model_io.batch_row(model_io.GARMENT_PREP, {"IMAGE": [image], "GARMENT_TYPE": model_io.text(garment_type)})


def photo(shape: str, pattern: str, colour: str, background=(250, 250, 248)) -> bytes:
    return draw_flat_lay(
        shape, pattern, colour, side=640, photo_seed=f"{shape}{pattern}{colour}", background=background
    )


@pytest.mark.parametrize(
    ("garment_type", "pattern", "colour"),
    [
        ("t-shirt", "solid", "#c0392b"),
        ("shirt", "stripes", "#1f3a93"),
        ("dress", "print", "#16a085"),
        ("trousers", "solid", "#c8a165"),
    ],
)
def test_garment_prep_cuts_out_the_garment(client, garment_type, pattern, colour):
    answer = row(
        infer(client, model_io.GARMENT_PREP, prep(photo(GARMENT_SHAPES[garment_type], pattern, colour), garment_type))
    )
    assert model_io.failure_from_outputs(answer) is None
    texture = model_io.texture_from_outputs(answer)
    alpha = texture.rgba[:, :, 3]
    assert alpha[0, 0] == 0 and 0.4 < (alpha >= 128).mean() < 0.95  # cropped to the garment
    assert delta_e2000(texture.colour, tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))) < 2.0
    expected = (
        {"waist_left", "hem_right", "crotch"} if garment_type == "trousers" else {"shoulder_left", "neckline_centre"}
    )
    assert expected <= set(texture.landmarks)


def test_white_on_off_white_gives_a_correct_mask(client):
    answer = row(
        infer(client, model_io.GARMENT_PREP, prep(photo("tee", "solid", "#ffffff", background=(238, 236, 230))))
    )
    assert model_io.failure_from_outputs(answer) is None
    alpha = model_io.texture_from_outputs(answer).rgba[:, :, 3] >= 128
    # the tee's outline fills 60-70 % of its bounding box; a mask of backdrop would fill it all
    assert 0.55 < alpha.mean() < 0.8


@pytest.mark.parametrize(
    ("image", "code", "words"),
    [
        (truncated(draw_flat_lay("tee", "solid", "#c0392b", side=400)), "flat_lay_unreadable", "cannot be decoded"),
        (noise((400, 400)), "background_not_separable", "% of border pixels"),
        (draw_flat_lay("tee", "solid", "#c0392b", side=40), "flat_lay_too_small", "40x40 px"),
    ],
    ids=["corrupt", "noise", "tiny"],
)
def test_unusable_photos_say_why(client, image, code, words):
    failure = model_io.failure_from_outputs(row(infer(client, model_io.GARMENT_PREP, prep(image))))
    assert failure is not None and failure[0] == code and words in failure[1]


def test_garment_prep_rows_of_one_request_answer_as_they_would_alone(client):
    tee, noisy = prep(photo("tee", "stripes", "#1f3a93")), prep(noise((300, 300)))
    both = infer(client, model_io.GARMENT_PREP, rows(tee, noisy))
    assert both["FAILURE"].shape == (2, 2)
    alone = infer(client, model_io.GARMENT_PREP, tee)
    assert both["TEXTURE"][0, 0] == alone["TEXTURE"][0, 0]
    assert model_io.texts(both["FAILURE"][1])[0] == "background_not_separable"


def test_garment_type_must_be_text_of_one(client):
    bad = prep(photo("tee", "solid", "#c0392b"))
    bad["GARMENT_TYPE"] = np.array([[b"t-shirt", b"dress"]], dtype=np.object_)
    with pytest.raises(InferenceServerException, match="GARMENT_TYPE"):
        infer(client, model_io.GARMENT_PREP, bad)


def model_metrics(model: str) -> dict[str, float]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(METRICS_URL, timeout=10) as response:
        text = response.read().decode()
    pattern = rf'^(nv_inference_\w+)\{{model="{model}",version="1"\}} (\S+)$'
    return {name: float(value) for name, value in re.findall(pattern, text, re.MULTILINE)}


def test_concurrent_garment_prep_requests_are_batched(client):
    """12 one-row requests at once: the dynamic batcher hands several to one execution."""
    photos = [prep(photo("tee", "solid", f"#{40 + 15 * i:02x}3a93")) for i in range(12)]
    before = model_metrics("garment_prep")
    with ThreadPoolExecutor(len(photos)) as pool:
        answers = list(pool.map(lambda p: infer(client, model_io.GARMENT_PREP, p), photos))
    deadline = time.monotonic() + 5
    while True:  # the counters are updated as each execution finishes
        after = model_metrics("garment_prep")
        requests = after["nv_inference_request_success"] - before["nv_inference_request_success"]
        if requests >= len(photos) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    executions = after["nv_inference_exec_count"] - before["nv_inference_exec_count"]
    assert requests >= len(photos)
    assert executions < requests, f"{requests:g} requests took {executions:g} executions: nothing was batched"
    assert all(model_io.failure_from_outputs(row(a)) is None for a in answers)


# --- body and render ------------------------------------------------------------------------------
def body_row(phenotype: dict[str, float], pose: str = "front") -> dict[str, np.ndarray]:
    from twinwear.v1 import events_pb2

    params = events_pb2.BodyParameters(phenotype=phenotype).SerializeToString()
    return model_io.batch_row(model_io.BODY, {"BODY_PARAMETERS": [params], "POSE": model_io.text(pose)})


SLIM = {"gender": 0.0, "weight": 0.2, "height": 0.3, "age": 0.5}
HEAVY = {"gender": 1.0, "weight": 0.9, "height": 0.7, "age": 0.6}


def test_body_batches_rows_and_poses(client):
    both = infer(client, model_io.BODY, rows(body_row(SLIM), body_row(HEAVY, "walking")))
    vertices = both["VERTICES"]
    assert vertices.shape[0] == 2 and vertices.shape[2] == 3 and vertices.dtype == np.float32
    assert both["NORMALS"].shape == vertices.shape
    height = vertices[:, :, 1].max(axis=1)
    assert 1.3 < height[0] < 2.1 and 1.3 < height[1] < 2.1
    width = np.ptp(vertices[:, :, 0], axis=1)
    assert not np.allclose(vertices[0], vertices[1])
    assert np.abs(vertices[:, :, 1].min(axis=1)).max() < 0.01, "feet on the floor"
    alone = infer(client, model_io.BODY, body_row(SLIM))
    np.testing.assert_allclose(alone["VERTICES"][0], vertices[0], atol=1e-5)
    assert width.min() > 0.3


def test_body_names_a_bad_pose(client):
    with pytest.raises(InferenceServerException, match="POSE"):
        infer(client, model_io.BODY, body_row(SLIM, "cartwheel"))
    assert client.is_model_ready("body")


def render_row(mesh: dict[str, np.ndarray], texture: dict[str, np.ndarray], width: int = 512, height: int = 768):
    skin = [141, 85, 36]
    values = {
        **mesh,
        "MEASUREMENTS": [170.0, 92.0, 76.0, 100.0, 78.0, 40.0],
        "GARMENT": np.array([b"t-shirt", b"short", b"hip"], dtype=np.object_),
        "SIZE_LABEL": model_io.text("M"),
        "SIZE_RANK": [2],
        "SIZE_RANGES": model_io.size_ranges([(88, 96), (72, 80), (96, 104), None]),
        "TEXTURE": texture["TEXTURE"],
        "LANDMARKS": texture["LANDMARKS"],
        "GARMENT_RGB": texture["COLOUR"],
        "SKIN_RGB": skin,
        "MONK_SKIN_TONE": [6],
        "HAIRSTYLE": model_io.text("bob"),
        "HAIR_RGB": [40, 30, 20],
        "EYE_RGB": [60, 40, 30],
        "BACKGROUND": model_io.text("#ece9e4"),
        "BACKGROUND_IMAGE": [b""],
        "VIEW_YAW": [0.0],
        "IMAGE_SIZE": [width, height],
    }
    return model_io.batch_row(model_io.RENDER, values)


def test_render_dresses_the_body(client):
    mesh = row(infer(client, model_io.BODY, body_row(SLIM)))
    texture = row(infer(client, model_io.GARMENT_PREP, prep(photo("tee", "solid", "#c0392b"))))
    out = infer(client, model_io.RENDER, render_row(mesh, texture))
    assert out["RGBA"].shape == (1, 768, 512, 4)
    assert out["ALBEDO"].shape == (1, 768, 512, 3)
    for mask in ("GARMENT_MASK", "BODY_MASK", "REGION_MASK"):
        assert out[mask].shape == (1, 768, 512)
    garment = out["GARMENT_MASK"][0] >= 128
    assert garment.mean() > 0.02, "the garment is visible"
    albedo = np.median(out["ALBEDO"][0][garment], axis=0)
    assert delta_e2000(albedo, (0xC0, 0x39, 0x2B)) < 4.0
    Image.open(io.BytesIO(model_io.encode_png(out["RGBA"][0])))  # a valid image


def test_render_rows_of_one_request_are_each_rendered(client):
    mesh = row(infer(client, model_io.BODY, body_row(HEAVY)))
    texture = row(infer(client, model_io.GARMENT_PREP, prep(photo("tee", "stripes", "#1f3a93"))))
    front = render_row(mesh, texture, 256, 384)
    back = {**front, "VIEW_YAW": np.array([[180.0]], dtype=np.float32)}
    both = infer(client, model_io.RENDER, rows(front, back))
    assert both["RGBA"].shape == (2, 384, 256, 4)
    alone = infer(client, model_io.RENDER, front)["RGBA"][0]
    assert np.abs(both["RGBA"][0].astype(int) - alone).mean() < 1.0, "a row renders as it would alone"
    assert np.abs(both["RGBA"][0].astype(int) - both["RGBA"][1]).mean() > 3.0, "the back view differs"


def test_render_names_a_bad_image_size(client):
    mesh = row(infer(client, model_io.BODY, body_row(SLIM)))
    texture = row(infer(client, model_io.GARMENT_PREP, prep(photo("tee", "solid", "#c0392b"))))
    with pytest.raises(InferenceServerException, match="IMAGE_SIZE"):
        infer(client, model_io.RENDER, render_row(mesh, texture, 20000, 30000))
    assert client.is_model_ready("render")
