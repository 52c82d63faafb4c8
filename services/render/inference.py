"""What render's Triton models compute, over the requests Triton hands one ``execute()``.

Each runner takes a list of requests (a dict of input arrays, each ``[rows, *dims]``) and returns,
per request, its outputs (same rows) or the error that fails that request alone. The Triton
models (infra/triton/models/*/1/model.py) are thin wrappers around these; the benchmark runs the
same runners in-process.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from services.render import model_io
from services.render.engine.garment_prep import SegmentationFailed, prepare_garment
from twinwear.v1 import events_pb2
from twinwear_runtime.faults import PermanentError

if TYPE_CHECKING:  # torch and anny load only where a body is made
    from services.render.engine.api import RenderJob
    from twinwear_body.model import BodyMesh

Batch = dict[str, np.ndarray]


class InvalidInput(ValueError):
    """A request's input is wrong; the message names the tensor and row."""


class Runner(Protocol):
    spec: model_io.ModelSpec

    def run(self, requests: Sequence[Batch]) -> list[Batch | Exception]: ...


def _rows(request: Batch) -> int:
    sizes = {len(array) for array in request.values()}
    if len(sizes) != 1:
        raise InvalidInput(f"batch sizes differ between inputs: {sorted(sizes)}")
    return sizes.pop()


def _stack(rows: Sequence[Batch]) -> Batch:
    return {name: np.stack([row[name] for row in rows]) for name in rows[0]}


def _per_row(requests: Sequence[Batch], compute: Callable[[Batch, int], Batch]) -> list[Batch | Exception]:
    """Runs ``compute`` on every row of every request; a bad row fails its request only."""
    answers: list[Batch | Exception] = []
    for request in requests:
        try:
            answers.append(_stack([compute(request, i) for i in range(_rows(request))]))
        except InvalidInput as error:
            answers.append(error)
    return answers


class GarmentPrepRunner:
    spec = model_io.GARMENT_PREP

    def run(self, requests: Sequence[Batch]) -> list[Batch | Exception]:
        return _per_row(requests, self._row)

    @staticmethod
    def _row(request: Batch, i: int) -> Batch:
        image = bytes(request["IMAGE"][i][0])
        (garment_type,) = model_io.texts(request["GARMENT_TYPE"][i])
        try:
            return model_io.texture_outputs(prepare_garment(image, garment_type))
        except SegmentationFailed as failed:
            return model_io.failure_outputs(failed.code, failed.reason)


class BodyRunner:
    """anny through twinwear_body.BodyModel: every row of every request in one mesh_batch call."""

    spec = model_io.BODY

    def __init__(self, device: str = "cpu") -> None:
        from twinwear_body.model import BodyModel  # loads anny (torch): only where the body is made

        self.model = BodyModel(device)

    def run(self, requests: Sequence[Batch]) -> list[Batch | Exception]:
        from twinwear_body.params import BodyParams

        parsed: list[tuple[int, list[BodyParams], list[str]] | Exception] = []
        for request in requests:
            try:
                rows = _rows(request)
                params, poses = [], []
                for i in range(rows):
                    message = events_pb2.BodyParameters.FromString(bytes(request["BODY_PARAMETERS"][i][0]))
                    params.append(BodyParams.from_proto(message))
                    (pose,) = model_io.texts(request["POSE"][i])
                    poses.append(pose)
                parsed.append((rows, params, poses))
            except (ValueError, InvalidInput) as error:  # DecodeError is a ValueError too
                parsed.append(InvalidInput(f"BODY_PARAMETERS/POSE: {error}"))
        good = [p for p in parsed if not isinstance(p, Exception)]
        try:
            meshes = iter(
                self.model.mesh_batch([x for _, ps, _ in good for x in ps], [x for *_, qs in good for x in qs])
            )
        except ValueError as error:
            # An unknown pose or local change: say which, for every request of this execution.
            return [InvalidInput(f"BODY_PARAMETERS/POSE: {error}") for _ in requests]
        answers: list[Batch | Exception] = []
        for item in parsed:
            if isinstance(item, Exception):
                answers.append(item)
                continue
            answers.append(_stack([self.mesh_outputs(next(meshes)) for _ in range(item[0])]))
        return answers

    @staticmethod
    def mesh_outputs(mesh: BodyMesh) -> Batch:
        names = list(mesh.joints)
        uvs = mesh.uvs if mesh.uvs is not None else np.zeros((len(mesh.vertices), 2), np.float32)
        return {
            "VERTICES": mesh.vertices.astype(np.float32),
            "NORMALS": mesh.normals.astype(np.float32),
            "FACES": mesh.faces.astype(np.int32),
            "PARTS": mesh.parts.astype(np.uint8),
            "UVS": uvs.astype(np.float32),
            "JOINTS": np.array([mesh.joints[n] for n in names], dtype=np.float32),
            "JOINT_NAMES": np.array([n.encode() for n in names], dtype=np.object_),
        }


def body_mesh(row: Batch) -> BodyMesh:
    """The body model's outputs (one row, no batch dimension) as a twinwear_body.BodyMesh."""
    from twinwear_body.model import BodyMesh

    return BodyMesh(
        vertices=np.asarray(row["VERTICES"], np.float32),
        normals=np.asarray(row["NORMALS"], np.float32),
        faces=np.asarray(row["FACES"], np.int32),
        parts=np.asarray(row["PARTS"], np.uint8),
        joints=dict(zip(model_io.texts(row["JOINT_NAMES"]), np.asarray(row["JOINTS"], np.float32), strict=True)),
        uvs=np.asarray(row["UVS"], np.float32),
    )


class RenderRunner:
    """The render-engine's Renderer, one per model instance (it owns an EGL context)."""

    spec = model_io.RENDER

    def __init__(self) -> None:
        from services.render.engine.api import Renderer

        self.renderer = Renderer()

    def run(self, requests: Sequence[Batch]) -> list[Batch | Exception]:
        return _per_row(requests, self._row)

    def _row(self, request: Batch, i: int) -> Batch:
        row = {name: array[i] for name, array in request.items()}
        job = render_job(row)
        started = time.perf_counter()
        result = self.renderer.render(job)
        timings = {**result.timings_ms, "render_total": (time.perf_counter() - started) * 1000}
        return {
            "RGBA": result.rgba,
            "ALBEDO": result.albedo,
            "GARMENT_MASK": result.garment_mask,
            "BODY_MASK": result.body_mask,
            "REGION_MASK": result.region_mask,
            "TIMINGS": np.array([json.dumps(timings).encode()], dtype=np.object_),
        }


def render_job(row: Batch) -> RenderJob:
    """The render model's inputs (one row, no batch dimension) as the engine's RenderJob."""
    from services.render.engine.api import RenderJob
    from twinwear_body.params import Measurements
    from twinwear_body.sizing import SizeRow

    stature, chest, waist, hip, inside_leg, shoulder = (float(v) for v in row["MEASUREMENTS"])
    garment_type, sleeve_length, length = model_io.texts(row["GARMENT"])
    (size_label,) = model_io.texts(row["SIZE_LABEL"])
    ranges = [None if np.isnan(lo) else (float(lo), float(hi)) for lo, hi in row["SIZE_RANGES"]]
    size = (
        SizeRow(
            size_label, int(row["SIZE_RANK"][0]), chest=ranges[0], waist=ranges[1], hip=ranges[2], inside_leg=ranges[3]
        )
        if size_label
        else None
    )
    width, height = (int(v) for v in row["IMAGE_SIZE"])
    if not (64 <= width <= 4096 and 64 <= height <= 4096):
        raise InvalidInput(f"IMAGE_SIZE must be 64..4096 px a side, got {width}x{height}")
    background_bytes = bytes(row["BACKGROUND_IMAGE"][0])
    background_image = None
    if background_bytes:
        try:
            with Image.open(io.BytesIO(background_bytes)) as image:
                background_image = np.asarray(image.convert("RGB"))
        except OSError as error:
            raise InvalidInput(f"BACKGROUND_IMAGE cannot be decoded: {error}") from None
    texture = model_io.texture_from_outputs(
        {"TEXTURE": row["TEXTURE"], "LANDMARKS": row["LANDMARKS"], "COLOUR": row["GARMENT_RGB"]}
    )
    (hairstyle,) = model_io.texts(row["HAIRSTYLE"])
    (background,) = model_io.texts(row["BACKGROUND"])
    return RenderJob(
        body=body_mesh(row),
        rest_measurements=Measurements(stature, chest, waist, hip, inside_leg, shoulder),
        garment_type=garment_type,
        sleeve_length=sleeve_length,
        length=length,
        size=size,
        texture=texture,
        skin_rgb=tuple(int(c) for c in row["SKIN_RGB"]),
        monk_skin_tone=int(row["MONK_SKIN_TONE"][0]),
        hairstyle=hairstyle,
        hair_colour=tuple(int(c) for c in row["HAIR_RGB"]),
        eye_colour=tuple(int(c) for c in row["EYE_RGB"]),
        background=background or "#ece9e4",
        background_image=background_image,
        view_yaw_deg=float(row["VIEW_YAW"][0]),
        width=width,
        height=height,
    )


class InProcessModel:
    """A runner called directly, with the Triton adapter's interface (benchmarks, tests)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.model_name = runner.spec.name

    def infer(self, inputs: Batch, output_names: Sequence[str]) -> Batch:
        (answer,) = self.runner.run([inputs])
        if isinstance(answer, InvalidInput):
            raise PermanentError(f"{self.model_name} rejected the request: {answer}")
        if isinstance(answer, Exception):
            raise answer
        return {name: answer[name] for name in output_names}

    def version(self) -> str:
        return "in-process"
