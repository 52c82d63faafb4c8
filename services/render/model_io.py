"""The input/output contract of render's Triton models, defined once.

Each model's ``infra/triton/models/<name>/config.pbtxt`` is written from these specs
(``python -m services.render.model_io`` rewrites them; a unit test checks they match), the models'
``model.py`` and the render service encode and decode their tensors with the functions below, and
the tests use the same specs.

Every tensor has a leading batch dimension on the wire (``max_batch_size`` > 0): a request carries
``[n, *dims]``; the render service sends n = 1 and Triton's dynamic batcher hands concurrent
requests to one ``execute()``, which runs them together (the body model evaluates anny once for
the whole batch). ``-1`` in dims is a size that varies (vertex count, image size). BYTES tensors
hold UTF-8 text, encoded images or a serialized proto, as each spec says.

Models: ``garment_prep`` (photo -> texture, mask, landmarks, colour), ``body`` (anny parameters and
pose -> posed mesh), ``render`` (mesh, garment, twin's appearance, camera, background -> RGBA,
albedo and masks).
"""

from __future__ import annotations

import argparse
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from services.render.engine.api import LANDMARKS, GarmentTexture

REPOSITORY = Path(__file__).resolve().parents[2] / "infra" / "triton" / "models"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: type[np.generic]
    dims: tuple[int, ...]  # per batch row, without the batch dimension
    doc: str

    @property
    def triton_type(self) -> str:
        """The config.pbtxt data_type, e.g. TYPE_UINT8."""
        return {
            np.uint8: "TYPE_UINT8",
            np.int32: "TYPE_INT32",
            np.float32: "TYPE_FP32",
            np.object_: "TYPE_STRING",
        }[self.dtype]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    doc: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_batch_size: int
    # Requests wait at most this long in Triton's queue for others to batch with.
    max_queue_delay_us: int
    # Model instances on a CPU Triton: one per core of the 2-core machine.
    cpu_instances: int = 2

    def input(self, name: str) -> TensorSpec:
        return next(s for s in self.inputs if s.name == name)

    def output(self, name: str) -> TensorSpec:
        return next(s for s in self.outputs if s.name == name)


# --- garment_prep -------------------------------------------------------------------------------
GARMENT_PREP = ModelSpec(
    name="garment_prep",
    doc="flat-lay or ghost-mannequin photo -> the garment's cleaned texture (its alpha is the garment"
    " mask), landmarks and main colour (services/render/engine/garment_prep.py)",
    inputs=(
        TensorSpec("IMAGE", np.object_, (1,), "the photo as sent by the PIM: PNG or JPEG bytes"),
        TensorSpec("GARMENT_TYPE", np.object_, (1,), "t-shirt ... jacket (twinwear_body.sizing.GARMENT_TYPES)"),
    ),
    outputs=(
        TensorSpec("TEXTURE", np.object_, (1,), "PNG, RGBA: the garment cropped, backdrop transparent (alpha = mask)"),
        TensorSpec(
            "LANDMARKS",
            np.float32,
            (len(LANDMARKS), 2),
            "texture pixels (x, y) in engine.api.LANDMARKS order; NaN = none",
        ),
        TensorSpec("COLOUR", np.uint8, (3,), "the garment's main colour, sRGB"),
        TensorSpec("FAILURE", np.object_, (2,), "code and reason when the photo cannot be segmented, else empty"),
    ),
    max_batch_size=8,
    max_queue_delay_us=2000,
)

# --- body ---------------------------------------------------------------------------------------
BODY = ModelSpec(
    name="body",
    doc="anny parameters and a pose -> the posed body mesh (twinwear_body.BodyModel.mesh_batch, torch)",
    inputs=(
        TensorSpec("BODY_PARAMETERS", np.object_, (1,), "serialized twinwear.v1.BodyParameters (events.proto)"),
        TensorSpec("POSE", np.object_, (1,), "a pose of twinwear_body.poses.POSE_NAMES, e.g. front"),
    ),
    outputs=(
        TensorSpec("VERTICES", np.float32, (-1, 3), "metres, +Y up, feet on y = 0, facing +Z"),
        TensorSpec("NORMALS", np.float32, (-1, 3), "unit vertex normals"),
        TensorSpec("FACES", np.int32, (-1, 3), "triangles (the topology is the same for every body)"),
        TensorSpec("PARTS", np.uint8, (-1,), "body-part label per vertex (twinwear_body PARTS)"),
        TensorSpec("UVS", np.float32, (-1, 2), "texture coordinates per vertex"),
        TensorSpec("JOINTS", np.float32, (-1, 3), "posed joint positions, in JOINT_NAMES order"),
        TensorSpec("JOINT_NAMES", np.object_, (-1,), "anny bone names"),
    ),
    max_batch_size=16,
    max_queue_delay_us=5000,
)
BODY_MESH = tuple(s.name for s in BODY.outputs)

# --- render -------------------------------------------------------------------------------------
RENDER = ModelSpec(
    name="render",
    doc="a posed body, the garment's texture, the twin's appearance, camera and background -> the lit"
    " RGBA master and QA passes (services/render/engine Renderer)",
    inputs=(
        *(TensorSpec(s.name, s.dtype, s.dims, s.doc + " (the body model's output)") for s in BODY.outputs),
        TensorSpec(
            "MEASUREMENTS",
            np.float32,
            (6,),
            "the twin's rest measurements, cm: stature, chest, waist, hip girth, inside leg, shoulder width",
        ),
        TensorSpec("GARMENT", np.object_, (3,), "garment type, sleeve length, length (events.proto Garment)"),
        TensorSpec("SIZE_LABEL", np.object_, (1,), "the size worn; empty = regular fit"),
        TensorSpec("SIZE_RANK", np.int32, (1,), "the size's rank in its chart"),
        TensorSpec(
            "SIZE_RANGES", np.float32, (4, 2), "chest, waist, hip girth, inside leg (min, max) cm; NaN = not given"
        ),
        TensorSpec("TEXTURE", np.object_, (1,), "garment_prep's TEXTURE"),
        TensorSpec("LANDMARKS", np.float32, (len(LANDMARKS), 2), "garment_prep's LANDMARKS"),
        TensorSpec("GARMENT_RGB", np.uint8, (3,), "garment_prep's COLOUR"),
        TensorSpec("SKIN_RGB", np.uint8, (3,), "the twin's skin, sRGB"),
        TensorSpec("MONK_SKIN_TONE", np.int32, (1,), "Monk Skin Tone 1..10"),
        TensorSpec("HAIRSTYLE", np.object_, (1,), "twinwear_body.appearance.HAIRSTYLES"),
        TensorSpec("HAIR_RGB", np.uint8, (3,), "hair colour, sRGB"),
        TensorSpec("EYE_RGB", np.uint8, (3,), "eye colour, sRGB"),
        TensorSpec(
            "BACKGROUND", np.object_, (1,), '"#rrggbb" or "gradient:#rrggbb:#rrggbb"; ignored with BACKGROUND_IMAGE'
        ),
        TensorSpec("BACKGROUND_IMAGE", np.object_, (1,), "PNG or JPEG bytes of a backdrop image, or empty"),
        TensorSpec("VIEW_YAW", np.float32, (1,), "camera yaw in degrees (back view = 180)"),
        TensorSpec("IMAGE_SIZE", np.int32, (2,), "width, height in pixels (1024x1536 by default)"),
    ),
    outputs=(
        TensorSpec("RGBA", np.uint8, (-1, -1, 4), "the lit, anti-aliased master"),
        TensorSpec("ALBEDO", np.uint8, (-1, -1, 3), "unlit base colour of every surface"),
        TensorSpec("GARMENT_MASK", np.uint8, (-1, -1), "255 = the product garment is visible"),
        TensorSpec("BODY_MASK", np.uint8, (-1, -1), "255 = bare skin is visible"),
        TensorSpec("REGION_MASK", np.uint8, (-1, -1), "255 = the body region the garment should cover"),
        TensorSpec("TIMINGS", np.object_, (1,), 'JSON {"stage": milliseconds} of the engine (garment_fit, raster ...)'),
    ),
    max_batch_size=4,
    max_queue_delay_us=5000,
)

MODELS = (GARMENT_PREP, BODY, RENDER)
NO_FAILURE = np.array([b"", b""], dtype=np.object_)


# --- encoding shared by the models (server side) and the render service (client side) -----------
def text(value: str) -> np.ndarray:
    return np.array([value.encode()], dtype=np.object_)


def texts(array: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(array).ravel()]


def encode_png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def texture_outputs(texture: GarmentTexture) -> dict[str, np.ndarray]:
    """garment_prep's outputs (one row, no batch dimension) for a texture."""
    marks = np.full((len(LANDMARKS), 2), np.nan, dtype=np.float32)
    for i, name in enumerate(LANDMARKS):
        if name in texture.landmarks:
            marks[i] = texture.landmarks[name]
    return {
        "TEXTURE": np.array([encode_png(texture.rgba)], dtype=np.object_),
        "LANDMARKS": marks,
        "COLOUR": np.array(texture.colour, dtype=np.uint8),
        "FAILURE": NO_FAILURE,
    }


def failure_outputs(code: str, reason: str) -> dict[str, np.ndarray]:
    """garment_prep's outputs for a photo that cannot be segmented."""
    return {
        "TEXTURE": np.array([b""], dtype=np.object_),
        "LANDMARKS": np.full((len(LANDMARKS), 2), np.nan, dtype=np.float32),
        "COLOUR": np.zeros(3, dtype=np.uint8),
        "FAILURE": np.array([code.encode(), reason.encode()], dtype=np.object_),
    }


def texture_from_outputs(outputs: Mapping[str, np.ndarray]) -> GarmentTexture:
    """The texture in garment_prep's outputs (one row); see failure_from_outputs first."""
    with Image.open(io.BytesIO(bytes(np.asarray(outputs["TEXTURE"]).ravel()[0]))) as image:
        rgba = np.asarray(image.convert("RGBA"))
    marks = np.asarray(outputs["LANDMARKS"], dtype=np.float32).reshape(len(LANDMARKS), 2)
    landmarks = {name: (float(x), float(y)) for name, (x, y) in zip(LANDMARKS, marks, strict=True) if not math.isnan(x)}
    return GarmentTexture(
        rgba=rgba, landmarks=landmarks, colour=tuple(int(c) for c in np.asarray(outputs["COLOUR"]).ravel())
    )


def failure_from_outputs(outputs: Mapping[str, np.ndarray]) -> tuple[str, str] | None:
    code, reason = texts(outputs["FAILURE"])
    return (code, reason) if code else None


def batch_row(spec: ModelSpec, values: Mapping[str, object]) -> dict[str, np.ndarray]:
    """One request's inputs as a batch of one row, checked against the spec (name, dtype, dims)."""
    names = [s.name for s in spec.inputs]
    if sorted(values) != sorted(names):
        raise ValueError(f"{spec.name} takes inputs {names}, got {sorted(values)}")
    row = {}
    for tensor in spec.inputs:
        array = np.asarray(values[tensor.name], dtype=tensor.dtype)
        if array.ndim != len(tensor.dims) or any(
            d not in (-1, n) for d, n in zip(tensor.dims, array.shape, strict=True)
        ):
            raise ValueError(f"{spec.name}.{tensor.name} must have shape {list(tensor.dims)}, got {list(array.shape)}")
        row[tensor.name] = array[np.newaxis]
    return row


def size_ranges(ranges: Sequence[tuple[float, float] | None]) -> np.ndarray:
    return np.array([r if r is not None else (np.nan, np.nan) for r in ranges], dtype=np.float32)


# --- config.pbtxt ---------------------------------------------------------------------------------
def _tensor_block(tensor: TensorSpec) -> str:
    dims = ", ".join(str(d) for d in tensor.dims)
    return (
        f"  {{\n    # {tensor.doc}\n    name: {json.dumps(tensor.name)}\n"
        f"    data_type: {tensor.triton_type}\n    dims: [ {dims} ]\n  }}"
    )


def config_pbtxt(spec: ModelSpec, kind: str = "KIND_CPU", count: int | None = None) -> str:
    """The model's config.pbtxt. KIND_GPU gives the GPU variant: one instance on each listed GPU
    (the model puts torch and EGL on the device Triton assigns)."""
    count = spec.cpu_instances if count is None else count
    instance = f"    kind: {kind}\n    count: {count}"
    if kind == "KIND_GPU":
        instance += "\n    gpus: [ 0 ]"
    inputs = ",\n".join(_tensor_block(t) for t in spec.inputs)
    outputs = ",\n".join(_tensor_block(t) for t in spec.outputs)
    return (
        f"# Written by `python -m services.render.model_io` from services/render/model_io.py (the contract,\n"
        f"# defined once); tests/unit/test_model_io.py checks that they match. Do not edit by hand.\n"
        f"# {spec.name}: {spec.doc}.\n"
        f"name: {json.dumps(spec.name)}\n"
        f'backend: "python"\n'
        f"max_batch_size: {spec.max_batch_size}\n\n"
        f"dynamic_batching {{\n  max_queue_delay_microseconds: {spec.max_queue_delay_us}\n}}\n\n"
        f"input [\n{inputs}\n]\n\noutput [\n{outputs}\n]\n\n"
        f"# {'One instance per core of the 2-core CPU machine' if kind == 'KIND_CPU' else 'GPU variant'}.\n"
        f"instance_group [\n  {{\n{instance}\n  }}\n]\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the render models' config.pbtxt from the contract.")
    parser.add_argument("--repository", type=Path, default=REPOSITORY, help="model repository to write into")
    parser.add_argument("--kind", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--count", type=int, help="instances per model (default: 2 on CPU, 1 per GPU)")
    args = parser.parse_args()
    kind = "KIND_GPU" if args.kind == "gpu" else "KIND_CPU"
    count = args.count or (None if args.kind == "cpu" else 1)
    for spec in MODELS:
        path = args.repository / spec.name / "config.pbtxt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_pbtxt(spec, kind, count))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
