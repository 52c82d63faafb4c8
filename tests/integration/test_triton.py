"""Triton model `garment_on_twin` over gRPC, as the render service uses it.

Needs the local Triton: `infra/stack.sh up triton` (gRPC 127.0.0.1:8001, metrics 127.0.0.1:8002).
"""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image, ImageDraw
from tritonclient.utils import InferenceServerException

pytestmark = pytest.mark.integration

TRITON_GRPC = "127.0.0.1:8001"
METRICS_URL = "http://127.0.0.1:8002/metrics"
MODEL = "garment_on_twin"
OUT_SHAPE = (512, 384, 3)

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


def tshirt_flatlay(colour: tuple[int, int, int] = SHIRT_RGB, size: int = 256) -> np.ndarray:
    """A T-shirt shape photographed flat on a near-white background."""
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


def infer(
    client: grpcclient.InferenceServerClient,
    body=AVERAGE_BODY,
    flatlay: np.ndarray | None = None,
    garment_rgb=SHIRT_RGB,
    skin_rgb=SKIN_RGB,
) -> np.ndarray:
    arrays = {
        "GARMENT_IMAGE": tshirt_flatlay() if flatlay is None else flatlay,
        "GARMENT_RGB": np.array(garment_rgb, dtype=np.uint8),
        "BODY": np.array(body, dtype=np.float32),
        "SKIN_RGB": np.array(skin_rgb, dtype=np.uint8),
    }
    inputs = []
    for name, array in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), "FP32" if array.dtype == np.float32 else "UINT8")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(MODEL, inputs, outputs=[grpcclient.InferRequestedOutput("IMAGE")])
    return result.as_numpy("IMAGE")


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
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("IMAGE", "UINT8", ["512", "384", "3"])
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
    blank = np.full((128, 96, 3), 252, dtype=np.uint8)
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


def test_metrics_count_successful_inferences(client):
    infer(client)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(METRICS_URL, timeout=10) as response:
        text = response.read().decode()
    assert "nv_inference_request_success" in text
    assert f'nv_inference_request_success{{model="{MODEL}",version="1"}}' in text
