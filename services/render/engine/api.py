"""The render package's API: a posed twin wearing the product, lit in a studio, with QA passes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from twinwear_body.model import PARTS, BodyMesh
from twinwear_body.params import Measurements
from twinwear_body.sizing import SizeRow

from . import garments, hair
from .anatomy import Anatomy
from .raster import FaceUniforms, Rasteriser
from .scene import Material, Scene, Surface, frame_figure, parse_background, studio_lights

LANDMARKS = (
    "neckline_left",
    "neckline_right",
    "neckline_centre",
    "shoulder_left",
    "shoulder_right",
    "sleeve_end_left",
    "sleeve_end_right",
    "armpit_left",
    "armpit_right",
    "waist_left",
    "waist_right",
    "hem_left",
    "hem_right",
    "crotch",
)


@dataclass(frozen=True)
class GarmentTexture:
    rgba: np.ndarray  # (H, W, 4) uint8, background alpha = 0, sRGB
    landmarks: Mapping[str, tuple[float, float]]  # texture pixel (x, y); "left" = the image's left
    colour: tuple[int, int, int]  # the garment's main colour (sRGB)


@dataclass(frozen=True)
class RenderJob:
    body: BodyMesh
    rest_measurements: Measurements
    garment_type: str
    sleeve_length: str
    length: str
    size: SizeRow | None
    texture: GarmentTexture
    skin_rgb: tuple[int, int, int]
    monk_skin_tone: int
    hairstyle: str
    hair_colour: tuple[int, int, int]
    eye_colour: tuple[int, int, int]
    background: str = "#ece9e4"
    background_image: np.ndarray | None = None
    view_yaw_deg: float = 0.0
    width: int = 1024
    height: int = 1536


@dataclass(frozen=True)
class RenderResult:
    rgba: np.ndarray  # (H, W, 4) uint8, the lit, anti-aliased master (no badge)
    albedo: np.ndarray  # (H, W, 3) uint8
    garment_mask: np.ndarray  # (H, W) uint8, 255 = product garment visible
    body_mask: np.ndarray  # (H, W) uint8, 255 = bare skin visible
    region_mask: np.ndarray  # (H, W) uint8, 255 = body region the garment should cover
    timings_ms: Mapping[str, float]
    # Chest and pelvis of the body, where skin must never show (the "never nude" check).
    modesty_mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))


MAX_SIDE = 4096


def _validate(job: RenderJob) -> None:
    if not (64 <= job.width <= MAX_SIDE and 64 <= job.height <= MAX_SIDE):
        raise ValueError(f"width/height: {job.width}x{job.height} is outside 64..{MAX_SIDE}")
    tex = job.texture.rgba
    if tex.ndim != 3 or tex.shape[2] != 4 or tex.dtype != np.uint8:
        raise ValueError("texture.rgba: expected an (H, W, 4) uint8 array")


def _body_surfaces(anat: Anatomy, job: RenderJob, coverage: np.ndarray) -> tuple[Surface, Surface]:
    """Skin (with the coverage regions for the QA pass) and the eyeballs."""
    body = job.body
    eye_parts = (PARTS["eye_l"], PARTS["eye_r"])
    is_eye = np.isin(body.parts, eye_parts)
    eye_faces = is_eye[body.faces].all(axis=1)
    aux = np.zeros((len(body.vertices), 4), np.float32)
    aux[:, 0] = body.parts == PARTS["head"]
    ruddy = (PARTS["hand_l"], PARTS["hand_r"], PARTS["foot_l"], PARTS["foot_r"])
    aux[:, 1] = np.isin(body.parts, ruddy) * 0.5
    aux[:, 1] = np.maximum(
        aux[:, 1],
        0.35 * np.exp(-(((body.vertices[:, 1] - anat.heights["knee"]) / 0.04) ** 2)) * (body.normals[:, 2] > 0.3),
    )
    # The margin keeps the region off the garment's edges, where one sees into a sleeve or hem.
    region = np.stack([coverage - 0.04, garments.modesty_field(anat)], axis=1).astype(np.float32)
    skin_rgb = tuple(c / 255 for c in job.skin_rgb)
    zeros_uv = np.zeros((len(body.vertices), 2), np.float32)
    ones = np.ones(len(body.vertices), np.float32)
    skin = Surface(
        body.vertices, body.normals, zeros_uv, ones, aux, body.faces[~eye_faces], Material.SKIN, skin_rgb, region=region
    )
    eye_aux = np.zeros_like(aux)
    for part in eye_parts:
        mine = body.parts == part
        if mine.any():
            eye_aux[mine, :3] = body.vertices[mine].mean(axis=0)
    eyes = Surface(
        body.vertices,
        body.normals,
        zeros_uv,
        ones,
        eye_aux,
        body.faces[eye_faces],
        Material.EYE,
        tuple(c / 255 for c in job.eye_colour),
    )
    return skin, eyes


@dataclass
class _Prepared:
    scene: Scene
    textures: dict[int, np.ndarray]
    details: dict[int, int]
    face: FaceUniforms
    timings: dict[str, float]


class Renderer:
    """Owns the EGL context; one per process/thread."""

    def __init__(self) -> None:
        self.raster = Rasteriser()

    def _prepare(self, job: RenderJob) -> _Prepared:
        _validate(job)
        t0 = time.perf_counter()
        anat = Anatomy(job.body)
        surfaces, coverage = garments.dress_body(anat, job)
        t1 = time.perf_counter()
        hair_surfaces = hair.hair_surfaces(anat, job.hairstyle, job.hair_colour)
        skin, eyes = _body_surfaces(anat, job, coverage)
        t2 = time.perf_counter()
        all_surfaces = [skin, eyes, *surfaces, *hair_surfaces]
        lo = np.min([s.positions.min(axis=0) for s in all_surfaces], axis=0)
        hi = np.max([s.positions.max(axis=0) for s in all_surfaces], axis=0)
        feet = np.stack([anat.legs[s].points[2] * [1, 0, 1] + [0, 0, 0.03] for s in "lr"])
        scene = Scene(surfaces=all_surfaces, body=skin, foot_points=feet, bounds=(lo, hi))
        texture = garments.prepared_texture(job.texture)
        textures = {id(s): texture for s in surfaces if s.product}
        detail = {"shirt": 1, "jacket": 2}.get(job.garment_type, 0)
        details = {id(s): detail for s in surfaces if s.product}
        head = anat.head
        brow = tuple(0.55 * c / 255 + 0.1 * s / 255 for c, s in zip(job.hair_colour, job.skin_rgb, strict=True))
        face = FaceUniforms(
            eye_l=head["eye_l"],
            eye_r=head["eye_r"],
            mouth=head["mouth"],
            scale=float(head["scale"]),
            brow_rgb=brow,  # type: ignore[arg-type]
            crown=head["top"] + np.array([0.0, 0.01, -0.02]),
            front_z=anat.trunk_centre_z,
        )
        return _Prepared(scene, textures, details, face, {"garment_fit": (t1 - t0) * 1e3, "hair_face": (t2 - t1) * 1e3})

    def _frames(
        self, job: RenderJob, prepared: _Prepared, yaws: list[float], with_passes: bool
    ) -> tuple[list, float, float]:
        t0 = time.perf_counter()
        up = self.raster.upload(prepared.scene, prepared.textures)
        up.details.update(prepared.details)
        background = parse_background(job.background, job.background_image)
        aspect = job.width / job.height
        t_upload = (time.perf_counter() - t0) * 1e3
        frames = []
        try:
            for yaw in yaws:
                camera = frame_figure(*prepared.scene.bounds, yaw, aspect)
                frames.append(
                    self.raster.draw(up, camera, studio_lights(yaw), background, prepared.face, (job.width, job.height))
                )
        finally:
            up.release()
        return frames, t_upload, (time.perf_counter() - t0) * 1e3 - t_upload

    def render(self, job: RenderJob) -> RenderResult:
        prepared = self._prepare(job)
        (frame,), t_upload, t_raster = self._frames(job, prepared, [job.view_yaw_deg], with_passes=True)
        t0 = time.perf_counter()
        ids = frame.ids
        garment_mask = np.where(ids[..., 0] > 127, 255, 0).astype(np.uint8)
        body_mask = np.where(ids[..., 1] > 127, 255, 0).astype(np.uint8)
        region_mask = np.where(frame.regions[..., 0] > 127, 255, 0).astype(np.uint8)
        modesty_mask = np.where(frame.regions[..., 1] > 127, 255, 0).astype(np.uint8)
        timings = {
            **prepared.timings,
            "upload": t_upload,
            "raster": t_raster,
            "masks": (time.perf_counter() - t0) * 1e3,
        }
        return RenderResult(frame.colour, frame.albedo, garment_mask, body_mask, region_mask, timings, modesty_mask)

    def turntable(self, job: RenderJob, frames: int = 24) -> list[np.ndarray]:
        """RGBA frames turning the camera once round the twin, starting at the job's view."""
        if not 1 <= frames <= 360:
            raise ValueError(f"frames: {frames} is outside 1..360")
        prepared = self._prepare(job)
        yaws = [job.view_yaw_deg + 360.0 * i / frames for i in range(frames)]
        out, _, _ = self._frames(job, prepared, yaws, with_passes=False)  # frames need no QA passes
        return [f.colour for f in out]
