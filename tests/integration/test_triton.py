"""Triton model `garment_on_twin` over gRPC, as the render service uses it.

Needs the local Triton: `infra/stack.sh up triton` (gRPC 127.0.0.1:8001, metrics 127.0.0.1:8002).
TWINWEAR_TRITON_GRPC and TWINWEAR_TRITON_METRICS point the tests at another server (e.g. one
serving a worktree's models on other ports).
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image, ImageDraw
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from services.render import model_io

pytestmark = pytest.mark.integration

TRITON_GRPC = os.environ.get("TWINWEAR_TRITON_GRPC", "127.0.0.1:8001")
METRICS_URL = os.environ.get("TWINWEAR_TRITON_METRICS", "http://127.0.0.1:8002/metrics")
MODEL = model_io.MODEL_NAME
OUT_SHAPE = model_io.IMAGE.dims

SHIRT_RGB = (30, 90, 200)  # a blue far from any skin tone and from the light background
SKIN_RGB = (141, 85, 36)
AVERAGE_BODY = (175.0, 100.0, 85.0, 100.0)  # stature, chest, waist, hip girth in cm


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


def tshirt_flatlay(colour: tuple[int, int, int] = SHIRT_RGB, size: int = model_io.GARMENT_SIDE) -> np.ndarray:
    """A T-shirt shape photographed flat on a near-white background (256x256, like the render
    service's letterboxed flat-lays)."""
    image = Image.new("RGB", (size, size), (248, 248, 246))
    s = size / 256
    outline = [
        (88, 40),
        (110, 36),
        (128, 50),
        (146, 36),
        (168, 40),
        (220, 70),
        (200, 110),
        (176, 96),
        (176, 220),
        (80, 220),
        (80, 96),
        (56, 110),
        (36, 70),
    ]
    ImageDraw.Draw(image).polygon([(x * s, y * s) for x, y in outline], fill=colour)
    return np.asarray(image, dtype=np.uint8)


def rows(
    body=AVERAGE_BODY, flatlay: np.ndarray | None = None, garment_rgb=SHIRT_RGB, skin_rgb=SKIN_RGB
) -> dict[str, np.ndarray]:
    """One render's inputs as a batch of one row, as the render service sends them."""
    values = {
        model_io.GARMENT_IMAGE: tshirt_flatlay() if flatlay is None else flatlay,
        model_io.GARMENT_RGB: garment_rgb,
        model_io.BODY: body,
        model_io.SKIN_RGB: skin_rgb,
    }
    return {spec.name: np.asarray(value, dtype=spec.dtype)[np.newaxis] for spec, value in values.items()}


def infer_batch(client: grpcclient.InferenceServerClient, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Sends one request (any number of rows); returns its IMAGE tensor, [rows, 512, 384, 3]."""
    inputs = []
    for name, array in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(MODEL, inputs, outputs=[grpcclient.InferRequestedOutput(model_io.IMAGE.name)])
    return result.as_numpy(model_io.IMAGE.name)


def infer(client: grpcclient.InferenceServerClient, **kwargs) -> np.ndarray:
    """One render; returns its image, [512, 384, 3]."""
    images = infer_batch(client, rows(**kwargs))
    assert images.shape == (1, *OUT_SHAPE)
    return images[0]


def near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int) -> np.ndarray:
    """Mask of pixels within `tolerance` of `rgb` in every channel."""
    return np.all(np.abs(image.astype(np.int16) - np.array(rgb, dtype=np.int16)) <= tolerance, axis=2)


def silhouette(image: np.ndarray) -> np.ndarray:
    """Pixels that differ clearly from the backdrop colour (taken from the top-left corner)."""
    return ~near(image, tuple(int(c) for c in image[0, 0]), 12)


def test_server_and_model_ready(client):
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    metadata = client.get_model_metadata(MODEL, as_json=True)
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == {
        "GARMENT_IMAGE": "UINT8",
        "GARMENT_RGB": "UINT8",
        "BODY": "FP32",
        "SKIN_RGB": "UINT8",
    }
    # -1: the batch dimension
    assert {i["name"]: i["shape"] for i in metadata["inputs"]} == {
        spec.name: ["-1", *map(str, spec.dims)] for spec in model_io.INPUTS
    }
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("IMAGE", "UINT8", ["-1", "512", "384", "3"])
    ]


def test_renders_dressed_figure(client):
    image = infer(client)
    assert image.shape == OUT_SHAPE
    assert image.dtype == np.uint8

    # Centre of the torso (between chest and waist of an average 175 cm figure) wears the shirt.
    torso = image[195:245, 172:212]
    assert near(torso, SHIRT_RGB, 60).mean() > 0.6, "torso is not covered by the garment colour"
    # Skin shows (head, neck, forearms, hands).
    assert near(image, SKIN_RGB, 40).sum() > 500, "skin colour does not appear"


def test_catalogue_colour_when_flatlay_is_blank(client):
    blank = np.full(model_io.GARMENT_IMAGE.dims, 252, dtype=np.uint8)
    image = infer(client, flatlay=blank, garment_rgb=(20, 160, 60))
    assert near(image[195:245, 172:212], (20, 160, 60), 60).mean() > 0.6


def test_body_measurements_change_silhouette(client):
    short_slim = silhouette(infer(client, body=(160.0, 84.0, 68.0, 90.0)))
    tall_broad = silhouette(infer(client, body=(195.0, 122.0, 110.0, 118.0)))
    assert (short_slim != tall_broad).sum() > 2000

    def top_row(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask[:480].any(axis=1))[0])  # rows above the corner label

    def widest(mask: np.ndarray) -> int:
        return int(mask[:480].sum(axis=1).max())

    assert top_row(tall_broad) < top_row(short_slim), "a taller body should reach higher"
    assert widest(tall_broad) > widest(short_slim), "larger girths should give a wider figure"


def test_identical_inputs_give_identical_bytes(client):
    assert infer(client).tobytes() == infer(client).tobytes()


@pytest.mark.parametrize(
    "body",
    [
        (175.0, 100.0, 85.0, 400.0),  # hip girth out of range
        (20.0, 100.0, 85.0, 100.0),  # stature out of range
        (175.0, float("nan"), 85.0, 100.0),
        (175.0, 100.0, 85.0),  # wrong shape (rejected by Triton from config.pbtxt)
    ],
)
def test_bad_body_is_rejected_naming_body(client, body):
    with pytest.raises(InferenceServerException, match="BODY"):
        infer(client, body=body)
    assert client.is_model_ready(MODEL), "a bad request must not take the model down"


def test_other_garment_sizes_are_rejected(client):
    with pytest.raises(InferenceServerException, match="GARMENT_IMAGE"):
        infer(client, flatlay=tshirt_flatlay(size=128))


def test_rows_of_one_request_render_as_they_would_alone(client):
    slim = rows(body=(160.0, 84.0, 68.0, 90.0), garment_rgb=(20, 160, 60))
    average = rows()
    images = infer_batch(client, {name: np.concatenate([average[name], slim[name]]) for name in average})
    assert images.shape == (2, *OUT_SHAPE)
    assert images[0].tobytes() == infer_batch(client, average)[0].tobytes()
    assert images[1].tobytes() == infer_batch(client, slim)[0].tobytes()


def test_one_bad_row_fails_its_request_only(client):
    batch = {name: np.concatenate([array, array]) for name, array in rows().items()}
    batch["BODY"][1, 0] = 20.0
    with pytest.raises(InferenceServerException, match="row 1: BODY stature_cm"):
        infer_batch(client, batch)
    assert infer(client).shape == OUT_SHAPE


def model_metrics() -> dict[str, float]:
    """This model's counters from Triton's Prometheus endpoint."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(METRICS_URL, timeout=10) as response:
        text = response.read().decode()
    pattern = rf'^(nv_inference_\w+)\{{model="{MODEL}",version="1"\}} (\S+)$'
    return {name: float(value) for name, value in re.findall(pattern, text, re.MULTILINE)}


def test_metrics_count_successful_inferences(client):
    infer(client)
    assert model_metrics()["nv_inference_request_success"] >= 1


def test_concurrent_requests_are_executed_in_batches(client):
    """16 one-row requests sent at once: the dynamic batcher hands several of them to one model
    execution, so Triton counts fewer executions than requests (and every image is right)."""
    bodies = [(150.0 + 3 * i, 90.0 + i, 75.0 + i, 95.0 + i) for i in range(16)]
    expected = {body: infer(client, body=body).tobytes() for body in bodies[:2]}
    before = model_metrics()
    with ThreadPoolExecutor(len(bodies)) as pool:
        images = list(pool.map(lambda body: infer(client, body=body), bodies))
    deadline = time.monotonic() + 5
    while True:  # the counters are updated as each execution finishes
        after = model_metrics()
        requests = after["nv_inference_request_success"] - before["nv_inference_request_success"]
        if requests >= len(bodies) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    executions = after["nv_inference_exec_count"] - before["nv_inference_exec_count"]
    # Other clients of a shared server may add requests of their own; they only add executions
    # where they add requests, so the comparison still holds.
    assert requests >= len(bodies)
    assert executions < requests, f"{requests:g} requests took {executions:g} executions: nothing was batched"
    assert all(image.shape == OUT_SHAPE for image in images)
    for body, image in zip(bodies, images, strict=True):
        if body in expected:
            assert image.tobytes() == expected[body], "a batched render differs from the same render alone"
