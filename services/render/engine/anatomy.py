"""What the dressing code needs to know about a posed body, derived from its vertices and part labels.

Everything here comes from the mesh itself (part boundaries, sections), so it works for any pose
and any body the body model makes, without relying on a particular rig's joint names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from twinwear_body.model import PARTS, BodyMesh

ARM_PARTS = {
    "l": (PARTS["upper_arm_l"], PARTS["forearm_l"], PARTS["hand_l"]),
    "r": (PARTS["upper_arm_r"], PARTS["forearm_r"], PARTS["hand_r"]),
}
LEG_PARTS = {
    "l": (PARTS["thigh_l"], PARTS["shin_l"], PARTS["foot_l"]),
    "r": (PARTS["thigh_r"], PARTS["shin_r"], PARTS["foot_r"]),
}
TRUNK_PARTS = (PARTS["neck"], PARTS["torso"], PARTS["pelvis"])
HEAD_PARTS = (PARTS["head"], PARTS["eye_l"], PARTS["eye_r"])


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    v = vertices.astype(np.float32, copy=False)
    face_n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for corner in range(3):
        np.add.at(n, faces[:, corner], face_n)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Chain:
    """A limb as a polyline of joints (shoulder, elbow, wrist, fingertip / hip, knee, ankle, toe)."""

    points: np.ndarray  # (4, 3)

    @property
    def lengths(self) -> np.ndarray:
        return np.linalg.norm(np.diff(self.points, axis=0), axis=1)

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Arc length along the chain of each point's nearest chain point, and that point."""
        best_d = np.full(len(p), np.inf)
        best_s = np.zeros(len(p))
        best_q = np.zeros_like(p)
        start = 0.0
        for a, b, length in zip(self.points[:-1], self.points[1:], self.lengths, strict=True):
            ab = b - a
            t = np.clip((p - a) @ ab / max(length**2, 1e-9), 0.0, 1.0)
            q = a + t[:, None] * ab
            d = np.linalg.norm(p - q, axis=1)
            closer = d < best_d
            best_d[closer], best_s[closer], best_q[closer] = d[closer], start + t[closer] * length, q[closer]
            start += length
        return best_s, best_q


class Anatomy:
    """Landmarks, limb chains and smooth per-vertex body coordinates of one posed body."""

    def __init__(self, body: BodyMesh) -> None:
        self.body = body
        self.v = body.vertices.astype(np.float64)
        self.parts = body.parts
        self.faces = body.faces.astype(np.int64)

    def _boundary_centre(self, part_a: int, part_b: int) -> np.ndarray:
        """Centroid of the vertices of faces that touch both parts (a joint's ring)."""
        labels = self.parts[self.faces]
        both = np.any(labels == part_a, axis=1) & np.any(labels == part_b, axis=1)
        if not both.any():
            raise ValueError(f"body mesh has no boundary between parts {part_a} and {part_b}")
        return self.v[np.unique(self.faces[both])].mean(axis=0)

    def _part_extreme(self, part: int, direction: np.ndarray) -> np.ndarray:
        pts = self.v[self.parts == part]
        return pts[np.argmax(pts @ direction)]

    @cached_property
    def arms(self) -> dict[str, Chain]:
        chains = {}
        for side, (upper, fore, hand) in ARM_PARTS.items():
            shoulder = self._boundary_centre(PARTS["torso"], upper)
            elbow = self._boundary_centre(upper, fore)
            wrist = self._boundary_centre(fore, hand)
            tip = self._part_extreme(hand, (wrist - elbow) / np.linalg.norm(wrist - elbow))
            chains[side] = Chain(np.stack([shoulder, elbow, wrist, tip]))
        return chains

    @cached_property
    def legs(self) -> dict[str, Chain]:
        chains = {}
        for side, (thigh, shin, foot) in LEG_PARTS.items():
            hip = self._boundary_centre(PARTS["pelvis"], thigh)
            knee = self._boundary_centre(thigh, shin)
            ankle = self._boundary_centre(shin, foot)
            toe = self._part_extreme(foot, np.array([0.0, 0.0, 1.0]))
            chains[side] = Chain(np.stack([hip, knee, ankle, toe]))
        return chains

    @cached_property
    def seated(self) -> bool:
        """Thighs nearer horizontal than vertical: cloth follows the lap, hems follow the legs."""
        drops = [(c.points[0, 1] - c.points[1, 1]) / max(c.lengths[0], 1e-6) for c in self.legs.values()]
        return float(np.mean(drops)) < 0.6

    @cached_property
    def neck_base(self) -> np.ndarray:
        return self._boundary_centre(PARTS["neck"], PARTS["torso"])

    @cached_property
    def shoulder_y(self) -> float:
        return float((self.arms["l"].points[0, 1] + self.arms["r"].points[0, 1]) / 2)

    @cached_property
    def crotch_y(self) -> float:
        trunk = self.v[np.isin(self.parts, (PARTS["pelvis"], PARTS["thigh_l"], PARTS["thigh_r"]))]
        centre_x = (self.legs["l"].points[0, 0] + self.legs["r"].points[0, 0]) / 2
        middle = trunk[np.abs(trunk[:, 0] - centre_x) < 0.015]
        return float(middle[:, 1].min())

    def _trunk_height(self, fraction: float) -> float:
        """A height between the crotch (0) and the shoulder joints (1)."""
        return self.crotch_y + fraction * (self.shoulder_y - self.crotch_y)

    @cached_property
    def heights(self) -> dict[str, float]:
        knee = float((self.legs["l"].points[1, 1] + self.legs["r"].points[1, 1]) / 2)
        ankle = float((self.legs["l"].points[2, 1] + self.legs["r"].points[2, 1]) / 2)
        return {
            "shoulder": self.shoulder_y,
            "chest": self._trunk_height(0.72),
            "underbust": self._trunk_height(0.6),
            "waist": self._trunk_height(0.45),
            "hip": self._trunk_height(0.17),
            "crotch": self.crotch_y,
            "knee": knee,
            "ankle": ankle,
            "neck": float(self.neck_base[1]),
        }

    @cached_property
    def trunk_centre_z(self) -> float:
        trunk = self.v[np.isin(self.parts, TRUNK_PARTS)]
        return float((trunk[:, 2].min() + trunk[:, 2].max()) / 2)

    @cached_property
    def head(self) -> dict[str, np.ndarray]:
        head = self.v[self.parts == PARTS["head"]]
        eyes = [self.v[self.parts == PARTS[f"eye_{s}"]] for s in "lr"]
        eye_l, eye_r = (e.mean(axis=0) if len(e) else None for e in eyes)
        top = head[np.argmax(head[:, 1])]
        if eye_l is None or eye_r is None:  # a mesh without eyeballs: place them by proportion
            eye_y = top[1] - 0.11
            front = head[np.abs(head[:, 1] - eye_y) < 0.01]
            z = front[:, 2].max() - 0.025
            eye_l, eye_r = np.array([0.031, eye_y, z]), np.array([-0.031, eye_y, z])
        mid = (eye_l + eye_r) / 2
        near_mid = head[np.abs(head[:, 0] - mid[0]) < 0.012]
        below = near_mid[near_mid[:, 1] < mid[1]]
        nose = below[np.argmax(below[:, 2])]
        scale = float(np.linalg.norm(eye_l - eye_r) / 0.062)
        mouth_y = nose[1] - 0.03 * scale
        mouth_row = near_mid[np.abs(near_mid[:, 1] - mouth_y) < 0.004]
        mouth = np.array([mid[0], mouth_y, mouth_row[:, 2].max() if len(mouth_row) else nose[2] - 0.015])
        lo, hi = head.min(axis=0), head.max(axis=0)
        return {
            "eye_l": eye_l,
            "eye_r": eye_r,
            "eye_mid": mid,
            "nose": nose,
            "mouth": mouth,
            "top": top,
            "centre": np.array([(lo[0] + hi[0]) / 2, mid[1] + 0.01 * scale, (lo[2] + hi[2]) / 2]),
            "radius": np.array([(hi[0] - lo[0]) / 2, (top[1] - mid[1]), (hi[2] - lo[2]) / 2]),
            "scale": np.array(scale),
        }

    @cached_property
    def smoother(self) -> sp.csr_matrix:
        """Row-stochastic vertex adjacency (lazy: half self, half neighbours)."""
        f = self.faces
        rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
        cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
        n = len(self.v)
        adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        adj.data[:] = 1.0
        deg = np.asarray(adj.sum(axis=1)).ravel()
        walk = sp.diags(0.5 / np.maximum(deg, 1)) @ adj
        return (walk + sp.identity(n) * 0.5).tocsr()

    def smooth(self, field: np.ndarray, iterations: int) -> np.ndarray:
        for _ in range(iterations):
            field = self.smoother @ field
        return field

    def _limb_coordinate(self, chains: dict[str, Chain], limb_parts: dict[str, tuple[int, ...]]) -> np.ndarray:
        """Arc length (metres) along the nearest limb from its root joint; negative on the trunk
        (minus the distance to the root joint), smoothed so iso-lines are clean curves."""
        coord = np.zeros(len(self.v))
        for side, chain in chains.items():
            mine = np.isin(self.parts, limb_parts[side])
            s, _ = chain.project(self.v[mine])
            coord[mine] = s
        rest = ~np.isin(self.parts, [p for parts in limb_parts.values() for p in parts])
        roots = np.stack([c.points[0] for c in chains.values()])
        dist = np.linalg.norm(self.v[rest][:, None, :] - roots[None], axis=2).min(axis=1)
        coord[rest] = -dist
        return self.smooth(coord, 12)

    @cached_property
    def arm_coordinate(self) -> np.ndarray:
        return self._limb_coordinate(self.arms, ARM_PARTS)

    @cached_property
    def leg_coordinate(self) -> np.ndarray:
        return self._limb_coordinate(self.legs, LEG_PARTS)

    @cached_property
    def arm_side(self) -> np.ndarray:
        """Which arm chain (0 = l, 1 = r) each vertex belongs to, by nearest shoulder."""
        sl, sr = self.arms["l"].points[0], self.arms["r"].points[0]
        return (np.linalg.norm(self.v - sr, axis=1) < np.linalg.norm(self.v - sl, axis=1)).astype(np.int8)

    @cached_property
    def radial(self) -> tuple[np.ndarray, np.ndarray]:
        """Angle around the vertical trunk axis (0 = front) and horizontal distance from it."""
        dx = self.v[:, 0]
        dz = self.v[:, 2] - self.trunk_centre_z
        return np.arctan2(dx, dz), np.hypot(dx, dz)
