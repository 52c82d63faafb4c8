"""Measuring a body mesh the way a tape does (ISO 8559-1 measures, on the rest A-pose mesh). Pure numpy.

A girth is the perimeter of the convex hull of the body's horizontal cross-section at its landmark: the path
a tape pulled snug around the body takes, bridging hollows. The section is the exact intersection of the
plane with the mesh's edges, restricted to the body region the tape goes round (arms and hands excluded).

Landmarks (y up, metres; feet on y = 0):
- stature: the top of the head.
- chest / bust girth: at the bust point level, the most forward point of the torso between 0.67 and 0.77 of
  stature (the nipples / bust apex; ISO 8559-1 bust girth and chest girth).
- waist girth: at the natural waist, the level of anny's own waist vertex loop (the vertices of
  anny.anthropometry.BASE_MESH_WAIST_VERTICES, between the lowest rib and the iliac crest).
- hip girth: at the buttock point level, the most backward point of the buttocks between the crotch and the
  waist (ISO 8559-1: the level of maximum buttock prominence), round buttocks and thighs.
- inside leg (crotch height): the lowest point of the body's midline section above 0.3 of stature.
- shoulder width: ISO 8559-1 biacromial breadth (measured straight across, not over the back): the distance
  between the two shoulder points. A shoulder point (acromion) is a fixed vertex of anny's topology: the highest
  point of the shoulder's surface above the shoulder joint (upperarm01 head) on anny's bodies of either sex and
  any weight (the acromion sits over the head of the humerus). A fixed vertex, as MakeHuman's own measures use,
  because the nearest-surface search flips between vertices on heavy shoulders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from twinwear_body.params import Measurements

# Part labels, as twinwear_body.model.PARTS (kept here as numbers so that tape needs no torch).
_TORSO, _THIGHS = (3, 4), (11, 12)
SHOULDER_POINT_VERTICES = (8220, 1558)  # left, right; anny 0.6.2 "anny" topology
# anny.anthropometry.BASE_MESH_WAIST_VERTICES as indices of the "anny" topology (its base_mesh_vertex_indices).
WAIST_VERTICES = (
    4105, 10731, 10728, 10725, 10745, 10744, 10747, 10748, 10746, 10749, 10739, 10741, 10740, 10743, 10742, 10782,
    10802, 10784, 10785, 10786, 10787, 10788, 10789, 4165, 4164, 4163, 4162, 4161, 4160, 4159, 4180, 4157, 4115,
    4116, 4113, 4114, 4112, 4122, 4119, 4121, 4120, 4117, 4118, 4092, 4097, 4102,
)  # fmt: skip
_BUST_BAND = (0.67, 0.77)  # fractions of stature searched for the bust point
_SOFTNESS_M = 0.002


def _extreme_level(points: np.ndarray, low: float, high: float, sign: float) -> float:
    """The height of the most forward (sign=1) or backward (sign=-1) of the points between heights low and
    high: a soft arg-max (within a few mm of the extreme), so that the level moves smoothly with the body
    instead of jumping from vertex to vertex, which would throw finite differences off."""
    band = points[(points[:, 1] > low) & (points[:, 1] < high)]
    depth = sign * band[:, 2]
    weights = np.exp((depth - depth.max()) / _SOFTNESS_M)
    return float(weights @ band[:, 1] / weights.sum())


def _region_edges(faces: np.ndarray, parts: np.ndarray, labels: tuple[int, ...]) -> np.ndarray:
    inside = np.isin(parts, labels)[faces].all(axis=1)
    region = faces[inside]
    edges = np.concatenate([region[:, [0, 1]], region[:, [1, 2]], region[:, [2, 0]]])
    return np.unique(np.sort(edges, axis=1), axis=0)


def _crossings(vertices: np.ndarray, edges: np.ndarray, axis: int, value: float) -> np.ndarray:
    """Points where the edges meet the plane vertices[:, axis] == value (anny's midline vertices lie on x = 0)."""
    a = vertices[edges[:, 0]]
    b = vertices[edges[:, 1]]
    da, db = a[:, axis] - value, b[:, axis] - value
    crossing = (da * db) < 0
    t = (da[crossing] / (da[crossing] - db[crossing]))[:, None]
    on_plane = np.concatenate([a[da == 0], b[db == 0]])
    return np.concatenate([a[crossing] + t * (b[crossing] - a[crossing]), on_plane])


def hull_girth(vertices: np.ndarray, edges: np.ndarray, level: float) -> float:
    """Perimeter (m) of the convex hull of the horizontal section at height `level`; 0 if there is none."""
    points = _crossings(vertices, edges, 1, level)[:, [0, 2]]
    if len(points) < 3:
        return 0.0
    return float(ConvexHull(points).area)  # for 2-D hulls scipy's "area" is the perimeter


@dataclass(frozen=True)
class Tape:
    """Measures meshes of one topology (anny's); the regions are worked out once from the part labels."""

    torso_edges: np.ndarray
    hip_edges: np.ndarray
    torso_vertices: np.ndarray
    hip_vertices: np.ndarray
    shoulder_vertices: tuple[int, ...] = SHOULDER_POINT_VERTICES
    waist_vertices: tuple[int, ...] = WAIST_VERTICES

    @staticmethod
    def for_topology(faces: np.ndarray, parts: np.ndarray, vertex_index: np.ndarray | None = None) -> Tape:
        """The tape for anny's topology, or for a subset of its vertices: vertex_index maps anny's vertex
        indices to the subset's (faces and parts are the subset's)."""
        index = np.arange(len(parts)) if vertex_index is None else vertex_index
        return Tape(
            torso_edges=_region_edges(faces, parts, _TORSO),
            hip_edges=_region_edges(faces, parts, _TORSO + _THIGHS),
            torso_vertices=np.flatnonzero(np.isin(parts, _TORSO)),
            hip_vertices=np.flatnonzero(np.isin(parts, _TORSO + _THIGHS)),
            shoulder_vertices=tuple(int(i) for i in index[list(SHOULDER_POINT_VERTICES)]),
            waist_vertices=tuple(int(i) for i in index[list(WAIST_VERTICES)]),
        )

    def landmarks(self, vertices: np.ndarray) -> dict[str, float]:
        """Landmark heights (m) of a rest-pose mesh standing on y = 0."""
        stature = float(vertices[:, 1].max())
        torso = vertices[self.torso_vertices]
        chest = _extreme_level(torso, _BUST_BAND[0] * stature, _BUST_BAND[1] * stature, 1.0)
        crotch = self.crotch_height(vertices, stature)
        waist = float(vertices[list(self.waist_vertices), 1].mean())
        hip = _extreme_level(vertices[self.hip_vertices], crotch, waist, -1.0)
        return {"stature": stature, "chest": chest, "waist": waist, "hip": hip, "crotch": crotch}

    def girths_at(self, vertices: np.ndarray, levels: Mapping[str, float]) -> dict[str, float]:
        """Chest, waist and hip girths (m) at given landmark heights."""
        return {
            "chest": hull_girth(vertices, self.torso_edges, levels["chest"]),
            "waist": hull_girth(vertices, self.torso_edges, levels["waist"]),
            "hip": hull_girth(vertices, self.hip_edges, levels["hip"]),
        }

    def crotch_height(self, vertices: np.ndarray, stature: float) -> float:
        midline = _crossings(vertices, self.hip_edges, 0, 0.0)
        return float(midline[midline[:, 1] > 0.3 * stature, 1].min())

    def measure(self, vertices: np.ndarray) -> tuple[Measurements, dict[str, float]]:
        """The measurements of a rest-pose mesh, and its landmark heights."""
        levels = self.landmarks(vertices)
        levels["shoulder"] = float(vertices[list(self.shoulder_vertices), 1].mean())
        return self.measurements_of(levels, vertices), levels

    def measurements_of(self, levels: Mapping[str, float], vertices: np.ndarray) -> Measurements:
        """The measurements at known landmark heights."""
        girths = self.girths_at(vertices, levels)
        left, right = vertices[list(self.shoulder_vertices)]
        return Measurements(
            stature_cm=100.0 * levels["stature"],
            chest_girth_cm=100.0 * girths["chest"],
            waist_girth_cm=100.0 * girths["waist"],
            hip_girth_cm=100.0 * girths["hip"],
            inside_leg_cm=100.0 * levels["crotch"],
            shoulder_width_cm=100.0 * float(np.linalg.norm(left - right)),
        )


def _tape_for(mesh) -> Tape:  # mesh: twinwear_body.model.BodyMesh
    return Tape.for_topology(mesh.faces, mesh.parts)


def measure(mesh) -> Measurements:
    """The ISO 8559-1 measurements of a rest-pose (BodyModel.mesh(params)) mesh, in centimetres."""
    return _tape_for(mesh).measure(mesh.vertices.astype(np.float64))[0]


def landmark_heights(mesh) -> dict[str, float]:
    """Landmark heights (m): stature, chest, waist, hip, crotch, shoulder, knee, ankle."""
    levels = _tape_for(mesh).measure(mesh.vertices.astype(np.float64))[1]
    levels["knee"] = float(np.mean([mesh.joints[f"lowerleg01.{s}"][1] for s in "LR"]))
    levels["ankle"] = float(np.mean([mesh.joints[f"foot.{s}"][1] for s in "LR"]))
    return levels
