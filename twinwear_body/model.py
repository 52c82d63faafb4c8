"""anny bodies as meshes in the twinwear frame: metres, +Y up, feet on y = 0, facing +Z, centred on x = z = 0.

anny (0.6.2) works in its own frame, +Z up and facing -Y; every output is turned into ours by
(x, y, z) -> (x, z, -y), a proper rotation, so the body's left stays on +X.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from twinwear_body.params import PHENOTYPE_LABELS, BodyParams
from twinwear_body.poses import Pose, load_pose

if TYPE_CHECKING:
    import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = REPO_ROOT / ".stack" / "cache" / "anny"

# anny's configuration: its default rig and topology, every phenotype control (cupsize, firmness and ancestry
# included) and its default local changes (all but the nipple ones). Changing any of these builds a new cache.
ANNY_CONFIG = {"rig": "anny", "topology": "anny", "local_changes": "default", "phenotypes": "all"}

# anny frame -> twinwear frame: v_ours = ANNY_TO_WORLD @ v_anny.
ANNY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

PARTS: Mapping[str, int] = MappingProxyType(
    {
        "head": 1,
        "neck": 2,
        "torso": 3,
        "pelvis": 4,
        "upper_arm_l": 5,
        "upper_arm_r": 6,
        "forearm_l": 7,
        "forearm_r": 8,
        "hand_l": 9,
        "hand_r": 10,
        "thigh_l": 11,
        "thigh_r": 12,
        "shin_l": 13,
        "shin_r": 14,
        "foot_l": 15,
        "foot_r": 16,
        "eye_l": 17,
        "eye_r": 18,
    }
)


def part_of_bone(bone: str) -> str:
    """The body part an anny bone moves (the label of the vertices that bone weighs most on)."""
    base, _, side = bone.partition(".")
    suffix = {"L": "_l", "R": "_r"}.get(side, "")
    stem = base.split("-")[0].rstrip("0123456789")
    part = {
        "head": "head",
        "neck": "neck",
        "spine": "torso",
        "clavicle": "torso",
        "shoulder": "torso",
        "root": "pelvis",
        "pelvis": "pelvis",
        "upperarm": "upper_arm",
        "lowerarm": "forearm",
        "wrist": "hand",
        "finger": "hand",
        "metacarpal": "hand",
        "upperleg": "thigh",
        "lowerleg": "shin",
        "foot": "foot",
        "toe": "foot",
        "eye": "eye",
    }[stem]
    return part if part in ("head", "neck", "torso", "pelvis") else part + suffix


@dataclass(frozen=True)
class BodyMesh:
    vertices: np.ndarray  # (N, 3) float32, metres, +Y up, feet on y = 0, facing +Z, centred on x = z = 0
    normals: np.ndarray  # (N, 3) float32, unit
    faces: np.ndarray  # (F, 3) int32 triangles
    parts: np.ndarray  # (N,) uint8 body-part label per vertex, see PARTS
    joints: Mapping[str, np.ndarray]  # anny bone name -> posed bone head (3,), same frame
    # (N, 2) float32: one texture coordinate per vertex. anny's UVs have seams (a vertex may carry several);
    # this keeps the first, so textures may smear along the seams.
    uvs: np.ndarray | None = None


def configure_cache() -> Path:
    """Points anny at ANNY_CACHE_DIR (default .stack/cache/anny under the repo root); before importing anny."""
    path = Path(os.environ.setdefault("ANNY_CACHE_DIR", str(DEFAULT_CACHE_DIR)))
    path.mkdir(parents=True, exist_ok=True)
    return path


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    v = vertices.astype(np.float64)
    face_normals = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    normals = np.zeros_like(v)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(lengths, 1e-12)).astype(np.float32)


def axis_angle_matrix(rotation_vector_deg: Sequence[float]) -> np.ndarray:
    """Rodrigues: the rotation matrix of a rotation vector in degrees."""
    r = np.radians(np.asarray(rotation_vector_deg, dtype=np.float64))
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * kx + (1.0 - np.cos(angle)) * (kx @ kx)


class BodyModel:
    """anny, loaded once (from ANNY_CACHE_DIR), evaluated without gradients; CPU by default."""

    def __init__(self, device: str = "cpu") -> None:
        configure_cache()
        import anny
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.anny = anny.Anny(**ANNY_CONFIG, pose_parameterization="local-ref").to(self.device)
        self.local_change_labels: tuple[str, ...] = tuple(self.anny.local_change_labels)
        self.bone_labels: tuple[str, ...] = tuple(self.anny.bone_labels)
        self.faces = self.anny.faces.cpu().numpy().astype(np.int32)
        bone_weights = self.anny.vertex_bone_weights.cpu().numpy()
        bone_indices = self.anny.vertex_bone_indices.cpu().numpy()
        main_bone = bone_indices[np.arange(len(bone_indices)), bone_weights.argmax(axis=1)]
        part_ids = np.array([PARTS[part_of_bone(b)] for b in self.bone_labels], dtype=np.uint8)
        self.parts = part_ids[main_bone]
        self.uvs = self._vertex_uvs(len(bone_indices))

    def _vertex_uvs(self, vertex_count: int) -> np.ndarray | None:
        coords, corners = self.anny.texture_coordinates, self.anny.face_texture_coordinate_indices
        if coords is None or corners is None:
            return None
        uvs = np.zeros((vertex_count, 2), dtype=np.float32)
        # Reverse order so that the first corner of each vertex is the one written last.
        uvs[self.faces.ravel()[::-1]] = coords.cpu().numpy()[corners.cpu().numpy().ravel()[::-1]]
        return uvs

    def parameter_tensors(self, params: Sequence[BodyParams]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, phenotypes) and (B, local changes) tensors in anny's order; unset phenotypes are 0.5."""
        unknown = sorted({k for p in params for k in p.local_changes} - set(self.local_change_labels))
        if unknown:
            raise ValueError(f"local_changes: unknown {unknown}; anny's are listed by BodyModel.local_change_labels")
        phenotypes = [[p.phenotype.get(label, 0.5) for label in PHENOTYPE_LABELS] for p in params]
        changes = [[p.local_changes.get(label, 0.0) for label in self.local_change_labels] for p in params]
        as_tensor = self.torch.tensor
        return (
            as_tensor(phenotypes, dtype=self.anny.dtype, device=self.device),
            as_tensor(changes, dtype=self.anny.dtype, device=self.device).reshape(len(params), -1),
        )

    def pose_deltas(self, poses: Sequence[Pose | str | None]) -> torch.Tensor:
        """(B, bones, 4, 4) local-ref deltas: each pose's world-frame rotations turned into anny's frame."""
        deltas = np.tile(np.eye(4), (len(poses), len(self.bone_labels), 1, 1))
        for i, pose in enumerate(poses):
            resolved = load_pose(pose) if isinstance(pose, str) else pose
            for bone, rotation in (resolved.joint_rotations if resolved else {}).items():
                deltas[i, self.bone_labels.index(bone), :3, :3] = (
                    ANNY_TO_WORLD.T @ axis_angle_matrix(rotation) @ ANNY_TO_WORLD
                )
        return self.torch.tensor(deltas, dtype=self.anny.dtype, device=self.device)

    def mesh(self, params: BodyParams, pose: Pose | str | None = None) -> BodyMesh:
        """The body of `params` in `pose` (a Pose, a library pose name, or None for anny's rest A-pose mesh)."""
        return self.mesh_batch([params], [pose])[0]

    def mesh_batch(self, params: Sequence[BodyParams], poses: Sequence[Pose | str | None]) -> list[BodyMesh]:
        if len(params) != len(poses):
            raise ValueError(f"mesh_batch: {len(params)} params but {len(poses)} poses")
        phenotypes, changes = self.parameter_tensors(params)
        with self.torch.no_grad():
            output = self.anny(
                pose_parameters=self.pose_deltas(poses),
                phenotype_kwargs=phenotypes,
                local_changes_kwargs=changes,
            )
        # No pose: anny's rest mesh itself (an A-pose), unskinned, which is what the tape measures.
        at_rest = self.torch.tensor([pose is None for pose in poses], device=self.device)[:, None, None]
        vertices = self.torch.where(at_rest, output["rest_vertices"], output["vertices"])
        heads = self.torch.where(at_rest, output["rest_bone_heads"], output["bone_poses"][..., :3, 3])
        vertices = vertices.cpu().numpy() @ ANNY_TO_WORLD.T
        heads = heads.cpu().numpy() @ ANNY_TO_WORLD.T
        return [self._placed_mesh(v, h) for v, h in zip(vertices, heads, strict=True)]

    def _placed_mesh(self, vertices: np.ndarray, heads: np.ndarray) -> BodyMesh:
        # Feet on the floor, the root (between the hips) above the origin.
        offset = np.array([-heads[0, 0], -vertices[:, 1].min(), -heads[0, 2]])
        vertices = vertices + offset
        joints = {label: (heads[j] + offset).astype(np.float32) for j, label in enumerate(self.bone_labels)}
        return BodyMesh(
            vertices=vertices.astype(np.float32),
            normals=vertex_normals(vertices, self.faces),
            faces=self.faces,
            parts=self.parts,
            joints=MappingProxyType(joints),
            uvs=self.uvs,
        )
