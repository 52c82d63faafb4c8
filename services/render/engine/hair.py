"""Hair: a shell over the scalp cut at a smooth hairline, plus what the style adds (a curtain that
falls behind the shoulders, a bun, a ponytail), shaded as strands by the hair shader.

aux per vertex: (strand coordinate, curl, root-to-tip 0..1, _).
"""

from __future__ import annotations

import math

import numpy as np

from twinwear_body.appearance import HAIRSTYLES
from twinwear_body.model import PARTS

from .anatomy import Anatomy, vertex_normals
from .scene import Material, Surface

# Forehead hairline drop (m) where a style has a fringe.
_FRINGE = {"bob": 0.028, "wavy-medium": 0.008}
# style -> (shell thickness m, curl, curtain bottom ("" none | "jaw" | "shoulder" | "chest"))
_STYLE = {
    "bob": (0.012, 0.0, "jaw"),
    "long-straight": (0.012, 0.0, "chest"),
    "curly-afro": (0.05, 1.0, ""),
    "buzz": (0.0018, 0.0, ""),
    "bun": (0.005, 0.0, ""),
    "ponytail": (0.005, 0.0, ""),
    "wavy-medium": (0.011, 0.35, "shoulder"),
}


def _hash_noise(p: np.ndarray, freq: float) -> np.ndarray:
    """Smooth-ish deterministic noise from a few sines (no RNG: renders must be reproducible)."""
    x, y, z = (p * freq).T
    return (np.sin(x * 1.7 + y * 2.3 + 0.4) * np.sin(y * 1.3 - z * 2.9 + 1.1) + np.sin(z * 3.1 + x * 0.7 + 2.0)) / 2


def hairline(anat: Anatomy, verts: np.ndarray, fringe: float = 0.0) -> np.ndarray:
    """Cut field of the hairline on the scalp (metres above it); a fringe lowers it over the forehead."""
    head = anat.head
    s = float(head["scale"])
    rel = verts - head["centre"]
    c = np.cos(np.arctan2(rel[:, 0], rel[:, 2]))  # 1 front .. -1 back
    # An arch: high at the forehead, down at the temples and sideburns, over the ears, low at the nape.
    knots_c = np.array([-1.0, -0.4, 0.0, 0.3, 0.6, 0.85, 1.0])
    knots_h = np.array([-0.07, -0.05, 0.035, 0.02, 0.04, 0.058, 0.068])
    drop = fringe * np.clip((c - 0.55) / 0.3, 0.0, 1.0)
    return verts[:, 1] - (head["eye_mid"][1] + s * (np.interp(c, knots_c, knots_h) - drop))


def _shell(anat: Anatomy, thickness: float, curl: float, fringe: float, colour: tuple[float, float, float]) -> Surface:
    on_head = anat.parts == PARTS["head"]
    keep = on_head[anat.faces].all(axis=1)
    faces = anat.faces[keep]
    used = np.unique(faces)
    remap = np.full(len(anat.v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    v, n = anat.v[used], anat.body.normals[used].astype(np.float64)
    cut = hairline(anat, v, fringe)
    grow = np.clip(cut / 0.03, 0.0, 1.0) ** 0.7
    bumps = 1.0 + curl * 0.35 * _hash_noise(v, 45.0)
    pos = v + n * (0.0015 + thickness * grow * bumps)[:, None]
    if curl > 0.5:  # an afro is rounder than the skull under it
        centre = anat.head["centre"] + np.array([0.0, 0.01, -0.01])
        radial = pos - centre
        dist = np.linalg.norm(radial, axis=1, keepdims=True)
        target = centre + radial / dist * np.maximum(
            dist, float(anat.head["radius"].max()) + thickness * bumps[:, None]
        )
        pos = pos + (target - pos) * grow[:, None]
    sub = remap[faces].astype(np.int32)
    rel = v - anat.head["centre"]
    aux = np.stack(
        [
            np.arctan2(rel[:, 0], rel[:, 2]),
            np.full(len(v), curl),
            np.clip(1 - rel[:, 1] / 0.12, 0, 1),
            np.zeros(len(v)),
        ],
        axis=1,
    )
    return Surface(
        pos.astype(np.float32),
        vertex_normals(pos, sub),
        np.zeros((len(v), 2), np.float32),
        cut.astype(np.float32),
        aux.astype(np.float32),
        sub,
        Material.HAIR,
        colour,
    )


def _grid_faces(rows: int, cols: int, wrap: bool) -> np.ndarray:
    idx = np.arange(rows * cols).reshape(rows, cols)
    right = np.roll(idx, -1, axis=1) if wrap else idx[:, 1:]
    left = idx if wrap else idx[:, :-1]
    a, b, c, d = left[:-1], right[:-1], left[1:], right[1:]
    return np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)]).astype(
        np.int32
    )


def _curtain(anat: Anatomy, bottom: str, thickness: float, curl: float, colour: tuple[float, float, float]) -> Surface:
    """Hair falling from the crown: around the back and sides, wrapping the head and then whatever
    is below (neck, shoulders, back) without entering it."""
    head = anat.head
    s = float(head["scale"])
    ends = {
        "jaw": head["mouth"][1] - 0.025 * s,
        "shoulder": anat.shoulder_y - 0.04,
        "chest": anat.heights["chest"] - 0.02,
    }
    y_end = ends[bottom]
    y_top = head["top"][1] - 0.012 * s
    open_front = math.radians(62 if bottom == "jaw" else 72)
    n_a, n_y = 96, 56
    az = np.linspace(open_front, 2 * math.pi - open_front, n_a)  # 0 = front, pi = back
    ys = np.linspace(y_top, y_end, n_y)
    centre = head["centre"]
    trunk = np.isin(anat.parts, (PARTS["head"], PARTS["neck"], PARTS["torso"], PARTS["eye_l"], PARTS["eye_r"]))
    pts = anat.v[trunk]
    rel = pts - centre
    pa = np.mod(np.arctan2(rel[:, 0], rel[:, 2]), 2 * math.pi)
    pr = np.hypot(rel[:, 0], rel[:, 2])
    ab = np.clip(((pa - open_front) / (az[-1] - az[0]) * (n_a - 1)).round().astype(int), -1, n_a)
    band = (y_top - y_end) / (n_y - 1)
    yb = np.round((y_top - pts[:, 1]) / band).astype(int)
    ok = (ab >= 0) & (ab < n_a) & (yb >= 0) & (yb < n_y)
    radius = np.zeros((n_y, n_a))
    np.maximum.at(radius, (yb[ok], ab[ok]), pr[ok])
    radius = np.maximum.accumulate(radius, axis=0)
    for _ in range(4):
        radius = np.maximum(radius, 0.5 * (np.roll(radius, 1, axis=1) + np.roll(radius, -1, axis=1)))
    for _ in range(4):  # round off the steps (ears, the nape) the way hair does
        radius[1:-1] = np.maximum(radius[1:-1], 0.25 * radius[:-2] + 0.5 * radius[1:-1] + 0.25 * radius[2:])
        radius[1:-1] = 0.25 * radius[:-2] + 0.5 * radius[1:-1] + 0.25 * radius[2:]
    drop = (y_top - ys)[:, None]
    wave = curl * 0.01 * np.sin(drop * 38.0 + az[None] * 2.0)
    # Volume: hair stands off the head a little more with every centimetre it falls.
    flare = (0.012 + 0.02 * curl) * np.clip((drop - 0.03) / 0.12, 0.0, 1.0) + 0.015 * np.clip(
        (drop - 0.15) / 0.2, 0.0, 1.0
    )
    # A bob's ends turn under; longer hair just falls.
    tuck = 0.012 * np.clip(1.0 - (ys - y_end) / 0.03, 0.0, 1.0)[:, None] if bottom == "jaw" else 0.0
    radius = radius + thickness + 0.003 + wave + flare - tuck
    x = centre[0] + radius * np.sin(az)[None]
    z = centre[2] + radius * np.cos(az)[None]
    y = np.broadcast_to(ys[:, None], x.shape)
    pos = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    faces = _grid_faces(n_y, n_a, wrap=False)
    # Below the shoulders only the back part falls (the rest went behind the shoulders); the
    # ends are uneven strands; the sides end at the front opening.
    from_back = np.abs(np.pi - az)[None] * np.ones((n_y, 1))
    allowed = np.where(y < anat.shoulder_y + 0.03, math.radians(58), math.pi)
    uneven = 0.3 if bottom == "jaw" else 1.0
    ragged = uneven * (0.006 * np.sin(az * 23.0)[None] + 0.004 * np.sin(az * 61.0 + 1.0)[None])
    # The front edge follows the face: starts at the hairline's angle, strands of uneven reach.
    edge = (math.pi - open_front) - 0.05 * np.sin(y * 180.0) - 0.04 * np.sin(y * 410.0 + 1.0)
    cut = np.minimum(y - y_end - ragged - 0.02, np.minimum(allowed, edge) - from_back) * 0.1
    cut = np.minimum(cut, y - y_end - ragged - 0.02)
    aux = np.stack(
        [
            np.broadcast_to(az[None], x.shape),
            np.full(x.shape, curl),
            np.broadcast_to(np.clip(drop / max(y_top - y_end, 1e-3), 0, 1), x.shape),
            np.zeros(x.shape),
        ],
        axis=-1,
    )
    return Surface(
        pos.astype(np.float32),
        vertex_normals(pos, faces),
        np.zeros((len(pos), 2), np.float32),
        cut.ravel().astype(np.float32),
        aux.reshape(-1, 4).astype(np.float32),
        faces,
        Material.HAIR,
        colour,
    )


def _tube(path: np.ndarray, radii: np.ndarray, colour: tuple[float, float, float], twist: float) -> Surface:
    """A closed tube along a path (bun, ponytail), strands twisting round it."""
    n_a = 28
    ang = np.linspace(0, 2 * math.pi, n_a, endpoint=False)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    ref = np.array([1.0, 0.0, 0.0])
    side = np.cross(tangents, ref)
    side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-9)
    up = np.cross(side, tangents)
    ring = np.cos(ang)[None, :, None] * side[:, None] + np.sin(ang)[None, :, None] * up[:, None]
    pos = (path[:, None] + ring * radii[:, None, None]).reshape(-1, 3)
    faces = _grid_faces(len(path), n_a, wrap=True)
    t = np.linspace(0, 1, len(path))
    aux = np.stack(
        [
            (ang[None] + twist * t[:, None] * 6.0) * np.ones((len(path), 1)),
            np.zeros((len(path), n_a)),
            t[:, None] * np.ones((1, n_a)),
            np.zeros((len(path), n_a)),
        ],
        axis=-1,
    )
    return Surface(
        pos.astype(np.float32),
        vertex_normals(pos, faces),
        np.zeros((len(pos), 2), np.float32),
        np.ones(len(pos), np.float32),
        aux.reshape(-1, 4).astype(np.float32),
        faces,
        Material.HAIR,
        colour,
    )


def _bun(anat: Anatomy, colour: tuple[float, float, float]) -> Surface:
    head = anat.head
    s = float(head["scale"])
    c = head["centre"] + np.array([0.0, 0.75 * head["radius"][1], -0.85 * head["radius"][2]])
    t = np.linspace(-1, 1, 18)
    path = c + np.outer(t, [0.0, 0.02, -0.035]) * s
    radii = 0.042 * s * np.sqrt(np.clip(1 - t**2, 0.02, 1))
    return _tube(path, radii, colour, twist=1.0)


def _ponytail(anat: Anatomy, colour: tuple[float, float, float]) -> Surface:
    head = anat.head
    s = float(head["scale"])
    root = head["centre"] + np.array([0.0, 0.35 * head["radius"][1], -0.95 * head["radius"][2]])
    back = anat.v[np.isin(anat.parts, (PARTS["neck"], PARTS["torso"])) & (np.abs(anat.v[:, 0]) < 0.03)]
    length = 0.3 * s
    t = np.linspace(0, 1, 24)
    ys = root[1] - 0.04 * s * t - length * t**1.3
    zs = np.empty_like(ys)
    for i, y in enumerate(ys):
        row = back[np.abs(back[:, 1] - y) < 0.02]
        behind = row[:, 2].min() - 0.03 if len(row) else root[2]
        zs[i] = min(root[2] - 0.03 * s * math.sin(math.pi * min(t[i] * 2, 1.0)), behind)
    path = np.stack([np.full_like(ys, root[0]), ys, zs], axis=1)
    radii = 0.03 * s * (1 - 0.75 * t) * np.clip(t * 6, 0.45, 1.0)
    return _tube(path, radii, colour, twist=0.15)


def hair_surfaces(anat: Anatomy, style: str, colour_rgb: tuple[int, int, int]) -> list[Surface]:
    if style not in HAIRSTYLES:
        raise ValueError(f"hairstyle: {style!r} is not one of {', '.join(HAIRSTYLES)}")
    colour = tuple(c / 255 for c in colour_rgb)
    thickness, curl, curtain = _STYLE[style]
    surfaces = [_shell(anat, thickness, curl, _FRINGE.get(style, 0.0), colour)]
    if curtain:
        surfaces.append(_curtain(anat, curtain, thickness, curl, colour))
    if style == "bun":
        surfaces.append(_bun(anat, colour))
    if style == "ponytail":
        surfaces.append(_ponytail(anat, colour))
    return surfaces
