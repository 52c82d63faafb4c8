"""Garments as surfaces offset from the body, cut by smooth parametric lines, fitted by size.

A garment here is a layer over the posed body: the body's own vertices pushed out along their
normals by the fit's offset and, where the cloth is loose, out to where it would hang (straight
down from the bust or the thigh, with folds). Its edges are iso-lines of smooth fields (height,
arc length along the arm or leg), cut per fragment, so hems and necklines are clean curves.
Skirts and the skirts of dresses are separate cones from the hip: cloth does not follow legs.
Texture coordinates come from the flat-lay's landmarks: the trunk is projected from the front
(stripes stay horizontal, prints land where they are), sleeves and legs follow their own axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import ConvexHull

from twinwear_body.model import PARTS
from twinwear_body.sizing import EASE_CM

from .anatomy import ARM_PARTS, LEG_PARTS, Anatomy, vertex_normals
from .scene import Material, Surface, Weave

if TYPE_CHECKING:
    from .api import GarmentTexture, RenderJob

TOPS = ("t-shirt", "long-sleeve-top", "shirt", "knitwear", "tank", "jacket")
BOTTOMS = ("trousers", "shorts", "skirt")
SKIRTED = ("dress", "skirt")

DEFAULT_SLEEVE = {
    "t-shirt": "short",
    "long-sleeve-top": "long",
    "shirt": "long",
    "knitwear": "long",
    "tank": "none",
    "dress": "short",
    "jacket": "long",
}
DEFAULT_LENGTH = {
    "t-shirt": "hip",
    "long-sleeve-top": "hip",
    "shirt": "hip",
    "knitwear": "hip",
    "tank": "hip",
    "jacket": "hip",
    "dress": "knee",
    "skirt": "knee",
    "trousers": "ankle",
    "shorts": "thigh",
}
WEAVE = {
    "t-shirt": Weave.JERSEY,
    "long-sleeve-top": Weave.JERSEY,
    "tank": Weave.JERSEY,
    "shirt": Weave.POPLIN,
    "dress": Weave.POPLIN,
    "skirt": Weave.POPLIN,
    "knitwear": Weave.KNIT,
    "trousers": Weave.DENIM,
    "shorts": Weave.DENIM,
    "jacket": Weave.SUITING,
}
# The girth that decides whether a garment sits tight or hangs loose.
KEY_MEASURE = {
    **{t: "chest" for t in TOPS},
    "dress": "chest",
    "skirt": "hip",
    "trousers": "hip",
    "shorts": "hip",
}
# Fabric thickness: how far a garment stands off whatever it covers, at zero ease (metres).
THICKNESS = {Weave.JERSEY: 0.003, Weave.POPLIN: 0.003, Weave.KNIT: 0.007, Weave.DENIM: 0.004, Weave.SUITING: 0.009}

BASE_TROUSERS_RGB = (0.23, 0.24, 0.27)
BASE_TOP_RGB = (0.93, 0.92, 0.9)
UNDERWEAR_RGB = (0.85, 0.82, 0.8)
SHOE_RGB = (0.09, 0.085, 0.08)


@dataclass(frozen=True)
class Fit:
    """How the garment sits: ease (cm, garment girth minus body girth) and what follows from it."""

    ease_cm: float

    @property
    def tension(self) -> float:  # 0 relaxed .. 1 pulling hard (stretch wrinkles, offset ~0)
        return float(np.clip((2.0 - self.ease_cm) / 8.0, 0.0, 1.0))

    @property
    def looseness(self) -> float:  # 0 follows the body .. 1 hangs straight from the widest point
        return float(np.clip((self.ease_cm + 2.0) / 16.0, 0.0, 1.0))

    @property
    def offset_m(self) -> float:
        """Mean radial gap to the body: a girth's ease spread round a circle, kept tight when small."""
        return float(np.clip(self.ease_cm, 0.0, 30.0) / (2 * math.pi) / 100 * 0.5)


def garment_fit(job: RenderJob) -> Fit:
    """Ease of the size worn against the twin's own girth; no size = the type's regular ease."""
    measure = KEY_MEASURE[job.garment_type]
    ease = EASE_CM.get(job.garment_type, {}).get(measure, 6.0)
    if job.size is None:
        return Fit(float(ease))
    size_range = getattr(job.size, measure)
    if size_range is None:
        return Fit(float(ease))
    body_girth = getattr(job.rest_measurements, f"{measure}_girth_cm")
    garment_girth = (size_range[0] + size_range[1]) / 2 + ease
    return Fit(float(garment_girth - body_girth))


def hem_height(anat: Anatomy, length: str) -> float:
    h = anat.heights
    thigh = (h["crotch"] + h["knee"]) / 2
    heights = {
        "cropped": h["waist"] + 0.04,
        "hip": h["hip"] - 0.04,
        "thigh": thigh,
        "knee": h["knee"] - 0.02,
        "midi": h["knee"] - 0.45 * (h["knee"] - h["ankle"]),
        "ankle": h["ankle"] + 0.02,
        "floor": 0.015,
    }
    if length not in heights:
        raise ValueError(f"length: {length!r} is not one of {', '.join(heights)}")
    return heights[length]


def hem_reach(anat: Anatomy, length: str) -> float:
    """Arc length down the leg from the hip joint where a hem of this length ends (seated bodies)."""
    thigh, shin = (np.mean([anat.legs[s].lengths[i] for s in "lr"]) for i in (0, 1))
    reach = {
        "cropped": -0.12,
        "hip": 0.03,
        "thigh": 0.5 * thigh,
        "knee": thigh + 0.02,
        "midi": thigh + 0.45 * shin,
        "ankle": thigh + shin - 0.03,
        "floor": thigh + shin + 0.02,
    }
    if length not in reach:
        raise ValueError(f"length: {length!r} is not one of {', '.join(reach)}")
    return float(reach[length])


def sleeve_reach(anat: Anatomy, sleeve: str) -> float:
    """Arc length from the shoulder joint where the sleeve ends (negative: an armhole)."""
    upper, fore = (np.mean([anat.arms[s].lengths[i] for s in "lr"]) for i in (0, 1))
    reach = {
        "none": -0.035,
        "cap": 0.12 * upper,
        "short": 0.42 * upper,
        "elbow": upper + 0.02,
        "three-quarter": upper + 0.6 * fore,
        "long": upper + fore - 0.005,
    }
    if sleeve not in reach:
        raise ValueError(f"sleeve_length: {sleeve!r} is not one of {', '.join(reach)}")
    return float(reach[sleeve])


def neckline(anat: Anatomy, depth_front: float, width: float, raise_m: float = 0.0) -> np.ndarray:
    """Cut field of a neckline: below the neck base, scooped at the front by depth_front."""
    v = anat.v
    base = anat.neck_base
    front = np.clip((v[:, 2] - base[2]) / 0.04 + 0.5, 0.0, 1.0)
    # A U: flat at the bottom, rising steeply to the width (a crew neck is a shallow one).
    scoop = depth_front * np.clip(1.0 - ((v[:, 0] - base[0]) / width) ** 4, 0.0, 1.0) * front
    return (base[1] + raise_m - scoop) - v[:, 1]


# --- drape ---------------------------------------------------------------------------------------


def hang_out(anat: Anatomy, mask: np.ndarray, anchor_y: float, looseness: float) -> np.ndarray:
    """Horizontal displacement that lets cloth fall straight from the most protruding point above
    (bust, belly, shoulder blades) instead of following the body in, with folds below."""
    disp = np.zeros_like(anat.v)
    if looseness <= 0 or not mask.any():
        return disp
    theta, r = anat.radial
    n_theta, bin_m = 72, 0.015
    tb = ((theta + math.pi) / (2 * math.pi) * n_theta).astype(int) % n_theta
    top = anchor_y
    yb = np.clip(((top - anat.v[:, 1]) / bin_m).astype(int), 0, None)
    n_y = int(yb[mask].max()) + 1
    rmax = np.zeros((n_y, n_theta))
    np.maximum.at(rmax, (yb[mask], tb[mask]), r[mask])
    # Widest point at or above each height; cloth above the anchor follows the body.
    hang = np.maximum.accumulate(rmax, axis=0)
    # Bridge concavities round the body too (between the breasts, the small of the back): a chord
    # between two bins k apart passes the bin between them at r cos(k dtheta).
    step = 2 * math.pi / n_theta
    bridged = hang.copy()
    for k in range(1, 7):
        for shift in (k, -k):
            bridged = np.maximum(bridged, np.roll(hang, shift, axis=1) * math.cos(k * step))
    hang = bridged
    below = mask & (anat.v[:, 1] < top)
    target = hang[yb[below], tb[below]]
    grow = looseness * np.clip(target - r[below], 0.0, 0.12)
    depth = np.clip((top - anat.v[below, 1]) / 0.25, 0.0, 1.0)
    folds = looseness * 0.011 * depth * np.sin(11 * theta[below] + 2.0 * np.sin(3 * theta[below]) + 0.7)
    radial_dir = np.stack([np.sin(theta[below]), np.zeros(below.sum()), np.cos(theta[below])], axis=1)
    disp[below] = radial_dir * (grow + np.maximum(folds, -0.5 * grow - 0.002))[:, None]
    return disp


def limb_flare(anat: Anatomy, mask: np.ndarray, coordinate: np.ndarray, looseness: float) -> np.ndarray:
    """Sleeves and trouser legs stand off more towards their ends when loose."""
    return np.where(mask, looseness * 0.018 * np.clip(coordinate / 0.5, 0.0, 1.0), 0.0)


# --- texture coordinates -------------------------------------------------------------------------

_TOP_LANDMARKS = {  # fractions of the flat-lay's bounding box, used where prep found none
    "neckline_centre": (0.5, 0.06),
    "shoulder_left": (0.3, 0.03),
    "shoulder_right": (0.7, 0.03),
    "sleeve_end_left": (0.05, 0.35),
    "sleeve_end_right": (0.95, 0.35),
    "armpit_left": (0.28, 0.3),
    "armpit_right": (0.72, 0.3),
    "waist_left": (0.27, 0.6),
    "waist_right": (0.73, 0.6),
    "hem_left": (0.27, 1.0),
    "hem_right": (0.73, 1.0),
}
_BOTTOM_LANDMARKS = {
    "waist_left": (0.1, 0.0),
    "waist_right": (0.9, 0.0),
    "crotch": (0.5, 0.3),
    "hem_left": (0.2, 1.0),
    "hem_right": (0.8, 1.0),
}


def landmarks(texture: GarmentTexture, garment_type: str) -> dict[str, np.ndarray]:
    alpha = texture.rgba[..., 3] > 127
    ys, xs = np.nonzero(alpha)
    if len(xs) == 0:
        raise ValueError("texture: the flat-lay has no garment pixels (alpha is empty)")
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    defaults = _BOTTOM_LANDMARKS if garment_type in BOTTOMS else _TOP_LANDMARKS
    out = {k: np.array([x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)]) for k, (fx, fy) in defaults.items()}
    out.update({k: np.asarray(v, dtype=float) for k, v in texture.landmarks.items()})
    return out


@dataclass(frozen=True)
class TextureMap:
    """World position -> flat-lay pixel, through landmarks. Pixels become [0, 1] UVs at the end."""

    size: tuple[int, int]  # (W, H)
    ax: float
    bx: float
    ay: float
    by: float

    def planar(self, p: np.ndarray) -> np.ndarray:
        return np.stack([self.ax * p[:, 0] + self.bx, self.ay * p[:, 1] + self.by], axis=1)

    def normalise(self, px: np.ndarray) -> np.ndarray:
        return (px / np.array(self.size)).astype(np.float32)


def trunk_map(
    anat: Anatomy, lm: dict[str, np.ndarray], garment_type: str, hem_y: float, size: tuple[int, int]
) -> TextureMap:
    if garment_type in BOTTOMS:
        left, right = lm["waist_left"], lm["waist_right"]
        waist = anat.v[np.abs(anat.v[:, 1] - anat.heights["waist"]) < 0.01]
        trunk_waist = waist[
            np.isin(anat.parts[np.abs(anat.v[:, 1] - anat.heights["waist"]) < 0.01], (PARTS["torso"], PARTS["pelvis"]))
        ]
        xr, xl = trunk_waist[:, 0].min(), trunk_waist[:, 0].max()
        y_top, tex_top = anat.heights["waist"], (left[1] + right[1]) / 2
    else:
        left, right = lm["shoulder_left"], lm["shoulder_right"]
        xr, xl = anat.arms["r"].points[0, 0] - 0.02, anat.arms["l"].points[0, 0] + 0.02
        y_top, tex_top = anat.shoulder_y + 0.02, (left[1] + right[1]) / 2
    ax = (right[0] - left[0]) / (xl - xr)
    bx = (left[0] + right[0]) / 2 - ax * (xl + xr) / 2
    tex_hem = (lm["hem_left"][1] + lm["hem_right"][1]) / 2
    ay = (tex_hem - tex_top) / (hem_y - y_top)
    return TextureMap(size, float(ax), float(bx), float(ay), float(tex_top - ay * y_top))


def limb_uvs(
    points: np.ndarray,
    coordinate: np.ndarray,
    reach: float,
    chain_axis: tuple[np.ndarray, np.ndarray],
    tex_start: np.ndarray,
    tex_end: np.ndarray,
    tex_half_width: float,
) -> np.ndarray:
    """A sleeve or a trouser leg: along its axis to the flat-lay's sleeve/leg line, around it
    (front half, mirrored behind) across the line."""
    origin, axis = chain_axis
    axis = axis / np.linalg.norm(axis)
    front = np.array([0.0, 0.0, 1.0]) - axis[2] * axis
    front /= np.linalg.norm(front)
    side = np.cross(axis, front)
    rel = points - origin
    phi = np.arctan2(rel @ side, rel @ front)
    along = np.clip(coordinate / max(reach, 1e-3), 0.0, 1.0)
    line = tex_end - tex_start
    perp = np.array([-line[1], line[0]]) / max(np.linalg.norm(line), 1e-6)
    return tex_start + along[:, None] * line + (np.sin(phi) * tex_half_width)[:, None] * perp


def prepared_texture(texture: GarmentTexture) -> np.ndarray:
    """RGBA with the background filled by the garment's colour so filtering never bleeds it in."""
    rgba = texture.rgba.copy()
    bg = rgba[..., 3] < 128
    rgba[bg, :3] = texture.colour
    rgba[..., 3] = 255
    return rgba


# --- layers --------------------------------------------------------------------------------------


@dataclass
class Layer:
    """One garment over the body, before it becomes a Surface."""

    cut: np.ndarray  # (N,) over all body vertices
    offset: np.ndarray  # (N,) along the normal
    displacement: np.ndarray  # (N, 3) drape
    # (N, 2) flat-lay pixels along sleeves (product only), NaN elsewhere: the rest is projected
    # from the front at the garment's final position, so stripes stay level however it drapes.
    uv_px: np.ndarray | None
    material: Material
    colour: tuple[float, float, float]
    weave: Weave
    tension: float = 0.0
    looseness: float = 0.0
    product: bool = False
    smoothing: int = 0  # iterations of surface smoothing (cloth over the body's hollows)


def to_surface(anat: Anatomy, layer: Layer, tex_map: TextureMap | None) -> Surface:
    keep = (layer.cut[anat.faces] > -0.002).any(axis=1)
    faces = anat.faces[keep]
    used = np.unique(faces)
    remap = np.full(len(anat.v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    pos = anat.v + anat.body.normals * layer.offset[:, None] + layer.displacement
    if layer.smoothing:
        # Cloth bridges the body's small hollows (navel, ribs, between muscles): smooth the
        # surface, then push it back out wherever that brought it closer than its offset.
        smoothed = anat.smooth(pos, layer.smoothing)
        gap = np.einsum("ij,ij->i", smoothed - anat.v, anat.body.normals)
        pos = smoothed + anat.body.normals * np.maximum(0.0, 0.7 * layer.offset - gap)[:, None]
    pos = pos[used]
    sub_faces = remap[faces].astype(np.int32)
    normals = vertex_normals(pos, sub_faces)
    if layer.uv_px is not None and tex_map is not None:
        sleeve = layer.uv_px[used]
        uvs = tex_map.normalise(np.where(np.isnan(sleeve), tex_map.planar(pos), sleeve))
    else:
        uvs = np.zeros((len(used), 2), np.float32)
    aux = np.zeros((len(used), 4), np.float32)
    aux[:, 0] = layer.tension
    aux[:, 1] = layer.looseness
    return Surface(
        positions=pos.astype(np.float32),
        normals=normals,
        uvs=uvs,
        cut=layer.cut[used].astype(np.float32),
        aux=aux,
        faces=sub_faces,
        material=layer.material,
        colour=layer.colour,
        weave=layer.weave,
        product=layer.product,
    )


def top_cut(anat: Anatomy, garment_type: str, sleeve: str, hem_y: float) -> np.ndarray:
    necklines = {
        "tank": (0.1, 0.1, 0.0),
        "shirt": (0.025, 0.05, 0.03),
        "jacket": (0.16, 0.06, 0.035),
        "knitwear": (0.015, 0.06, 0.015),
        "dress": (0.06, 0.08, 0.0),
    }
    depth, width, raise_m = necklines.get(garment_type, (0.03, 0.065, 0.008))
    reach = sleeve_reach(anat, sleeve)
    cut = np.minimum(neckline(anat, depth, width, raise_m), anat.v[:, 1] - hem_y)
    cut = np.minimum(cut, reach - anat.arm_coordinate)
    if garment_type == "tank":  # armholes: the shoulder is bare outside a strap's width
        shoulder_x = 0.5 * (abs(anat.arms["l"].points[0, 0]) + abs(anat.arms["r"].points[0, 0]))
        armpit_y = anat.shoulder_y - 0.09
        x_limit = shoulder_x - 0.035 + 2.5 * np.maximum(0.0, armpit_y - anat.v[:, 1])
        cut = np.minimum(cut, x_limit - np.abs(anat.v[:, 0]))
    hands_feet = np.isin(anat.parts, (PARTS["hand_l"], PARTS["hand_r"], PARTS["head"]))
    return np.where(hands_feet, np.minimum(cut, -0.01), cut)


def bottom_cut(anat: Anatomy, top_y: float, hem_y: float, length: str = "") -> np.ndarray:
    """Waistband to hem: both horizontal when standing or walking (legs near vertical); seated,
    the hem goes round the leg where the length reaches along it."""
    seated = anat.seated and length
    hem = hem_reach(anat, length) - anat.leg_coordinate if seated else anat.v[:, 1] - hem_y
    cut = np.minimum(top_y - anat.v[:, 1], hem)
    arms = np.isin(anat.parts, [p for parts in ARM_PARTS.values() for p in parts])
    return np.where(arms, -0.05, cut)


def brief_cut(anat: Anatomy) -> np.ndarray:
    return bottom_cut(anat, anat.heights["hip"] + 0.05, anat.heights["crotch"] - 0.035, "hip")


def modesty_field(anat: Anatomy) -> np.ndarray:
    """The body that must never show skin, whatever is worn: chest and pelvis (with margin)."""
    h = anat.heights
    v = anat.v
    trunk = np.isin(anat.parts, (PARTS["torso"], PARTS["pelvis"]))
    chest = np.minimum(v[:, 1] - (h["underbust"] - 0.02), h["chest"] + 0.015 - v[:, 1])
    front_chest = np.where(np.abs(v[:, 0]) < 0.5 * abs(anat.arms["l"].points[0, 0]), chest, -1.0)
    pelvis = np.minimum(v[:, 1] - (h["crotch"] + 0.02), h["hip"] + 0.02 - v[:, 1])
    inner = np.abs(v[:, 0]) < 0.6 * abs(anat.legs["l"].points[0, 0])
    return np.where(trunk, np.maximum(front_chest, np.where(inner, pelvis, -1.0)), -1.0)


def cone(
    anat: Anatomy,
    top_y: float,
    hem_y: float,
    offset: float,
    looseness: float,
    tex_map: TextureMap,
    colour: tuple[float, float, float],
    weave: Weave,
) -> Surface:
    """A skirt from top_y to hem_y: encloses the hips and legs, never narrows below the hip,
    flares with looseness, and folds more towards the hem."""
    n_theta, n_rings = 144, 40
    theta_c = np.linspace(-math.pi, math.pi, n_theta, endpoint=False)
    ys = np.linspace(top_y, hem_y, n_rings)
    lower = np.isin(anat.parts, [PARTS["pelvis"], *LEG_PARTS["l"], *LEG_PARTS["r"]]) | (
        np.isin(anat.parts, (PARTS["torso"],)) & (anat.v[:, 1] < top_y + 0.05)
    )
    theta, r = anat.radial
    tb = ((theta + math.pi) / (2 * math.pi) * n_theta).astype(int) % n_theta
    radius = np.zeros((n_rings, n_theta))
    band = (ys[0] - ys[-1]) / (n_rings - 1) + 1e-6
    for i, y in enumerate(ys):
        sel = lower & (np.abs(anat.v[:, 1] - y) < band)
        np.maximum.at(radius[i], tb[sel], r[sel])
    radius = np.maximum.accumulate(radius, axis=0)
    body_radius = radius.copy()
    for _ in range(6):  # close empty angular bins and round the section
        radius = np.maximum(radius, 0.5 * (np.roll(radius, 1, axis=1) + np.roll(radius, -1, axis=1)))
    radius = 0.5 * radius + 0.25 * (np.roll(radius, 1, axis=1) + np.roll(radius, -1, axis=1))
    drop = (top_y - ys)[:, None]
    flare = drop * (0.06 + 0.35 * looseness)
    folds_amp = (0.004 + 0.012 * looseness) * np.clip(drop / 0.35, 0.0, 1.0)
    folds = folds_amp * np.sin(9 * theta_c[None] + 1.7 * np.sin(2 * theta_c[None] + 0.5))
    radius = radius + offset + flare + folds
    # Hands hanging by the sides rest on the skirt instead of disappearing into it.
    hands = np.isin(anat.parts, (PARTS["hand_l"], PARTS["hand_r"], PARTS["forearm_l"], PARTS["forearm_r"]))
    for i, y in enumerate(ys):
        sel = hands & (np.abs(anat.v[:, 1] - y) < band)
        if not sel.any():
            continue
        reach = np.full(n_theta, np.inf)
        np.minimum.at(reach, tb[sel], r[sel])
        for shift in (-2, -1, 1, 2):  # a little either side of the hand
            reach = np.minimum(reach, np.roll(reach, shift) + 0.01 * abs(shift))
        radius[i] = np.maximum(np.minimum(radius[i], reach - 0.006), body_radius[i] + offset)
    zc = anat.trunk_centre_z
    x = radius * np.sin(theta_c)[None]
    z = zc + radius * np.cos(theta_c)[None]
    y = np.broadcast_to(ys[:, None], x.shape)
    pos = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    idx = np.arange(n_rings * n_theta).reshape(n_rings, n_theta)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = idx[1:], np.roll(idx[1:], -1, axis=1)
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)]).astype(
        np.int32
    )
    normals = vertex_normals(pos, faces)
    cut = np.full(len(pos), 1.0, np.float32)
    cut[idx[-1].ravel()] = 0.0005  # hem band in the shader
    cut_rows = (ys - hem_y)[:, None] * np.ones((1, n_theta))
    aux = np.zeros((len(pos), 4), np.float32)
    aux[:, 1] = looseness
    aux[:, 2] = 1.0  # a free-hanging skirt: no stretch wrinkles
    return Surface(
        positions=pos.astype(np.float32),
        normals=normals,
        uvs=tex_map.normalise(tex_map.planar(pos)),
        cut=cut_rows.ravel().astype(np.float32) + 0.0005,
        aux=aux,
        faces=faces,
        material=Material.GARMENT,
        colour=colour,
        weave=weave,
        product=True,
    )


def dress_body(anat: Anatomy, job: RenderJob) -> tuple[list[Surface], np.ndarray]:
    """The product garment plus the base outfit; returns the surfaces and the body's coverage field
    of the product (positive where the garment must cover, with a margin)."""
    gtype = job.garment_type
    if gtype not in WEAVE:
        raise ValueError(f"garment_type: {gtype!r} is not one of {', '.join(WEAVE)}")
    fit = garment_fit(job)
    weave = WEAVE[gtype]
    length = job.length or DEFAULT_LENGTH[gtype]
    hem_y = hem_height(anat, length)
    lm = landmarks(job.texture, gtype)
    h, w = job.texture.rgba.shape[:2]
    tex_map = trunk_map(anat, lm, gtype, hem_y, (w, h))
    colour = tuple(c / 255 for c in job.texture.colour)
    thickness = THICKNESS[weave]
    offset = max(fit.offset_m * (1 - fit.tension), 0.0) + thickness
    surfaces: list[Surface] = []
    trunk_mask = np.isin(anat.parts, (PARTS["torso"], PARTS["pelvis"], PARTS["neck"]))
    hang_mask = trunk_mask | np.isin(anat.parts, (PARTS["thigh_l"], PARTS["thigh_r"]))

    uv_px = np.full((len(anat.v), 2), np.nan)
    if gtype in TOPS or gtype == "dress":
        sleeve = job.sleeve_length or DEFAULT_SLEEVE[gtype]
        reach = sleeve_reach(anat, sleeve)
        upper_hem = hem_y if gtype != "dress" else anat.heights["waist"] - 0.02
        cut = top_cut(anat, gtype, sleeve, upper_hem)
        if reach > 0:
            arm_uv = _sleeve_uvs(anat, lm, reach)
            on_arm = anat.arm_coordinate > 0
            uv_px = np.where(on_arm[:, None], arm_uv, uv_px)
        arm_mask = np.isin(anat.parts, [p for parts in ARM_PARTS.values() for p in parts])
        base_off = np.full(len(anat.v), offset) + limb_flare(anat, arm_mask, anat.arm_coordinate, fit.looseness)
        # Over the base trousers' waistband at least.
        base_off = np.where(
            anat.v[:, 1] < anat.heights["waist"] + 0.06, np.maximum(base_off, 0.012 + thickness), base_off
        )
        anchor = anat.heights["chest"] + 0.06 if gtype != "jacket" else anat.shoulder_y
        disp = hang_out(anat, hang_mask, anchor, fit.looseness if gtype != "dress" else fit.looseness * 0.5)
        layer = Layer(
            cut,
            anat.smooth(base_off, 4),
            disp,
            uv_px,
            Material.GARMENT,
            colour,
            weave,
            fit.tension,
            fit.looseness,
            True,
            6,
        )
        surfaces.append(to_surface(anat, layer, tex_map))
        coverage = cut
        if gtype == "dress":
            skirt, skirt_coverage = _skirt(
                anat, anat.heights["waist"], hem_y, length, offset + 0.002, fit, tex_map, colour, weave
            )
            surfaces.append(skirt)
            coverage = np.maximum(cut, skirt_coverage)
        else:
            surfaces.append(_base_trousers(anat))
            if gtype == "jacket":  # a plain tee shows in the jacket's neckline
                surfaces.append(_base_top(anat))
    else:  # bottoms
        waist_top = anat.heights["waist"] + 0.01
        if gtype == "skirt":
            band = np.minimum(waist_top - anat.v[:, 1], anat.v[:, 1] - (anat.heights["waist"] - 0.03))
            band = np.where(trunk_mask, band, -0.05)
            layer = Layer(
                band,
                np.full(len(anat.v), offset + 0.004),
                np.zeros_like(anat.v),
                uv_px,
                Material.GARMENT,
                colour,
                weave,
                fit.tension,
                0.0,
                True,
            )
            surfaces.append(to_surface(anat, layer, tex_map))
            skirt, skirt_coverage = _skirt(
                anat, anat.heights["waist"] - 0.01, hem_y, length, offset + 0.004, fit, tex_map, colour, weave
            )
            surfaces.append(skirt)
            coverage = np.maximum(band, skirt_coverage)
        else:
            cut = bottom_cut(anat, waist_top, hem_y, length)
            leg_mask = np.isin(anat.parts, [p for parts in LEG_PARTS.values() for p in parts])
            off = np.full(len(anat.v), offset + 0.002) + limb_flare(anat, leg_mask, anat.leg_coordinate, fit.looseness)
            layer = Layer(
                cut,
                anat.smooth(off, 4),
                np.zeros_like(anat.v),
                uv_px,
                Material.GARMENT,
                colour,
                weave,
                fit.tension,
                fit.looseness,
                True,
                6,
            )
            surfaces.append(to_surface(anat, layer, tex_map))
            coverage = cut
        surfaces.append(_base_top(anat))  # tucked in: the product's waistband shows
    surfaces.append(_underwear(anat))
    surfaces.extend(_shoes(anat))
    return surfaces, coverage


def _skirt(
    anat: Anatomy,
    top_y: float,
    hem_y: float,
    length: str,
    offset: float,
    fit: Fit,
    tex_map: TextureMap,
    colour: tuple[float, float, float],
    weave: Weave,
) -> tuple[Surface, np.ndarray]:
    """A skirt standing: a cone from top_y; seated: cloth over the lap, hemmed along the legs."""
    if not anat.seated:
        return cone(anat, top_y, hem_y, offset, fit.looseness, tex_map, colour, weave), _cone_coverage(anat, hem_y)
    cut = bottom_cut(anat, top_y + 0.01, hem_y, length)
    lap = Layer(
        cut,
        np.full(len(cut), offset + 0.006),
        np.zeros_like(anat.v),
        np.full((len(cut), 2), np.nan),
        Material.GARMENT,
        colour,
        weave,
        fit.tension,
        fit.looseness,
        True,
        8,
    )
    return to_surface(anat, lap, tex_map), cut


def _cone_coverage(anat: Anatomy, hem_y: float) -> np.ndarray:
    """The part of the body a skirt hides when seen from outside: pelvis and the legs' outer
    surfaces down to the hem (inner legs can show between the legs under a short skirt's hem)."""
    lower = np.isin(anat.parts, [PARTS["pelvis"], PARTS["thigh_l"], PARTS["thigh_r"]])
    return np.where(lower, np.minimum(anat.v[:, 1] - hem_y - 0.05, anat.heights["hip"] - anat.v[:, 1]), -1.0)


def _sleeve_uvs(anat: Anatomy, lm: dict[str, np.ndarray], reach: float) -> np.ndarray:
    uv = np.zeros((len(anat.v), 2))
    # The wearer's right arm is on the image's left.
    for side, img in (("r", "left"), ("l", "right")):
        chain = anat.arms[side]
        shoulder, end, armpit = lm[f"shoulder_{img}"], lm[f"sleeve_end_{img}"], lm[f"armpit_{img}"]
        # The sleeve's centre line starts between the shoulder seam and the underarm.
        start = (shoulder + armpit) / 2
        half = 0.3 * float(np.linalg.norm(armpit - shoulder))
        axis_end = chain.points[1] if reach <= chain.lengths[0] else chain.points[2]
        mine = anat.arm_side == (0 if side == "l" else 1)
        uv[mine] = limb_uvs(
            anat.v[mine],
            anat.arm_coordinate[mine],
            reach,
            (chain.points[0], axis_end - chain.points[0]),
            start,
            end,
            half,
        )
    return uv


def _plain_layer(
    cut: np.ndarray,
    offset: float,
    colour: tuple[float, float, float],
    weave: Weave,
    material: Material = Material.CLOTH,
) -> Layer:
    return Layer(cut, np.full(len(cut), offset), np.zeros((len(cut), 3)), None, material, colour, weave)


def _base_trousers(anat: Anatomy) -> Surface:
    cut = bottom_cut(anat, anat.heights["waist"] + 0.005, anat.heights["ankle"] + 0.01, "ankle")
    return to_surface(anat, _plain_layer(cut, 0.008, BASE_TROUSERS_RGB, Weave.SUITING), None)


def _base_top(anat: Anatomy) -> Surface:
    """A plain tee, tucked in (under the product's waistband, or under a jacket)."""
    cut = top_cut(anat, "t-shirt", "short", anat.heights["hip"] + 0.02)
    layer = Layer(
        cut,
        np.full(len(cut), 0.004),
        np.zeros_like(anat.v),
        None,
        Material.CLOTH,
        BASE_TOP_RGB,
        Weave.JERSEY,
        smoothing=4,
    )
    return to_surface(anat, layer, None)


def _underwear(anat: Anatomy) -> Surface:
    return to_surface(anat, _plain_layer(brief_cut(anat), 0.0015, UNDERWEAR_RGB, Weave.JERSEY), None)


def _shoes(anat: Anatomy) -> list[Surface]:
    """Each shoe the convex hull of its foot below the ankle (a last: no toes), standing off it."""
    top = anat.heights["ankle"] + 0.01
    shoes = []
    for side in "lr":
        foot = anat.v[np.isin(anat.parts, LEG_PARTS[side][1:]) & (anat.v[:, 1] < top)]
        hull = ConvexHull(foot)
        used = np.unique(hull.simplices)
        remap = np.full(len(foot), -1)
        remap[used] = np.arange(len(used))
        pts = foot[used]
        faces = remap[hull.simplices]
        centre = pts.mean(axis=0)
        fn = np.cross(pts[faces[:, 1]] - pts[faces[:, 0]], pts[faces[:, 2]] - pts[faces[:, 0]])
        inward = np.einsum("ij,ij->i", fn, pts[faces[:, 0]] - centre) < 0
        faces[inward] = faces[inward][:, ::-1]
        normals = vertex_normals(pts, faces.astype(np.int32))
        pos = pts + normals * np.where(pts[:, 1] < 0.01, 0.0, 0.004)[:, None]
        n = len(pos)
        cut = (top - pos[:, 1]).astype(np.float32)
        shoes.append(
            Surface(
                pos.astype(np.float32),
                normals,
                np.zeros((n, 2), np.float32),
                cut,
                np.zeros((n, 4), np.float32),
                faces.astype(np.int32),
                Material.SHOE,
                SHOE_RGB,
                Weave.SUITING,
            )
        )
    return shoes
