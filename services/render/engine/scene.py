"""What the rasteriser draws: surfaces with materials, the camera, the lights and the background."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Material(IntEnum):
    SKIN = 0
    GARMENT = 1  # the product: textured from the flat-lay
    CLOTH = 2  # base outfit: a solid colour
    HAIR = 3
    EYE = 4
    SHOE = 5


class Weave(IntEnum):
    """Surface detail the cloth shader adds (normal perturbation only: the albedo stays the product's)."""

    JERSEY = 0
    POPLIN = 1
    KNIT = 2
    DENIM = 3
    SUITING = 4


@dataclass
class Surface:
    """An indexed triangle mesh with the per-vertex attributes every shader reads.

    cut: a smooth field in metres; fragments where it interpolates below 0 are discarded, which
    gives clean hem, neckline and sleeve edges independent of the mesh edges.
    aux: material specific (cloth: tension, looseness, hem distance, _; hair: strand coordinates).
    """

    positions: np.ndarray  # (N, 3) float32
    normals: np.ndarray  # (N, 3) float32
    uvs: np.ndarray  # (N, 2) float32
    cut: np.ndarray  # (N,) float32
    aux: np.ndarray  # (N, 4) float32
    faces: np.ndarray  # (F, 3) int32
    material: Material
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)  # sRGB 0..1 (solid materials)
    weave: Weave = Weave.JERSEY
    product: bool = False  # counts in the garment mask
    double_sided: bool = True
    region: np.ndarray | None = None  # body only: (N, 2) coverage fields (product region, modesty)

    def interleaved(self) -> np.ndarray:
        cols = [self.positions, self.normals, self.uvs, self.cut[:, None], self.aux]
        return np.ascontiguousarray(np.concatenate([c.astype(np.float32) for c in cols], axis=1))


@dataclass(frozen=True)
class Camera:
    eye: np.ndarray
    target: np.ndarray
    fov_y_deg: float
    aspect: float
    near: float = 0.5
    far: float = 30.0

    def view(self) -> np.ndarray:
        f = self.target - self.eye
        f = f / np.linalg.norm(f)
        s = np.cross(f, np.array([0.0, 1.0, 0.0]))
        s /= np.linalg.norm(s)
        u = np.cross(s, f)
        m = np.identity(4)
        m[0, :3], m[1, :3], m[2, :3] = s, u, -f
        m[:3, 3] = -m[:3, :3] @ self.eye
        return m

    def projection(self) -> np.ndarray:
        t = 1.0 / math.tan(math.radians(self.fov_y_deg) / 2)
        n, f = self.near, self.far
        m = np.zeros((4, 4))
        m[0, 0], m[1, 1] = t / self.aspect, t
        m[2, 2], m[2, 3] = (f + n) / (n - f), 2 * f * n / (n - f)
        m[3, 2] = -1.0
        return m


def frame_figure(lo: np.ndarray, hi: np.ndarray, yaw_deg: float, aspect: float) -> Camera:
    """A full-length portrait camera: long lens, horizontal axis, the figure filling ~88 % of the height."""
    fov = 18.0
    height = hi[1] - 0.0
    bottom, top = -0.05 * height, hi[1] + 0.05 * height
    half_w = max(abs(lo[0]), abs(hi[0]), abs(lo[2]), abs(hi[2])) * 1.1
    half_h = max((top - bottom) / 2, half_w / aspect)
    dist = half_h / math.tan(math.radians(fov) / 2) + max(abs(lo[2]), abs(hi[2]))
    centre = np.array([0.0, (top + bottom) / 2, 0.0])
    yaw = math.radians(yaw_deg)
    eye = centre + dist * np.array([math.sin(yaw), 0.0, math.cos(yaw)])
    return Camera(eye=eye, target=centre, fov_y_deg=fov, aspect=aspect, near=dist * 0.5, far=dist * 2.0)


@dataclass(frozen=True)
class Light:
    direction: np.ndarray  # towards the light, world space, unit
    colour: tuple[float, float, float]  # linear radiance


def studio_lights(yaw_deg: float) -> tuple[Light, Light, Light]:
    """Key (front-left, high, warm), fill (front-right, low, cool, dim), rim (behind, high).

    They turn with the camera so that every view is lit like a studio shot from that side.
    """

    def towards(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        a, e = math.radians(azimuth_deg + yaw_deg), math.radians(elevation_deg)
        return np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])

    return (
        Light(towards(-35, 38), (1.05, 1.0, 0.93)),
        Light(towards(50, 12), (0.3, 0.32, 0.37)),
        Light(towards(160, 45), (0.8, 0.8, 0.86)),
    )


@dataclass(frozen=True)
class Background:
    top: tuple[float, float, float]  # sRGB 0..1
    bottom: tuple[float, float, float]
    image: np.ndarray | None = None  # (H, W, 3|4) uint8


def parse_background(spec: str, image: np.ndarray | None) -> Background:
    """ "#rrggbb" or "gradient:#top:#bottom"; an image, when given, replaces either."""

    def colour(hex_rgb: str) -> tuple[float, float, float]:
        h = hex_rgb.strip().lstrip("#")
        if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
            raise ValueError(f"background: {hex_rgb!r} is not a #rrggbb colour")
        return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]

    if image is not None and (image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8):
        raise ValueError("background_image: expected an (H, W, 3|4) uint8 array")
    if spec.startswith("gradient:"):
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"background: {spec!r} is not gradient:#rrggbb:#rrggbb")
        return Background(colour(parts[1]), colour(parts[2]), image)
    c = colour(spec)
    return Background(c, c, image)


@dataclass
class Scene:
    surfaces: list[Surface]
    body: Surface
    foot_points: np.ndarray  # (2, 3) where the feet touch the ground (contact shadow)
    bounds: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros(3), np.ones(3)))
