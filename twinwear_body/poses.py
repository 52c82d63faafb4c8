"""The pose library: poses on anny's default rig, shipped as data (twinwear_body/poses/*.json). Pure.

A pose file holds, per anny bone, a rotation of that bone about its head as a rotation vector in degrees
(axis * angle), in the twinwear world frame (+Y up, the body facing +Z, +X the body's left). It is handed to
anny with pose_parameterization="local-ref", which takes world-aligned rotations: each bone turns relative to
its parent, about axes aligned with the world when the parent is at rest. Bones not named stay at rest.
`view_yaw_deg` is the camera's yaw around the body (0: in front; 180: behind).

A sequence file lists frames, each a pose name plus an optional view yaw and bone overrides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

POSES_DIR = Path(__file__).parent / "poses"

POSE_NAMES: tuple[str, ...] = ("front", "three-quarter", "walking", "hand-on-hip", "back", "seated")
SEQUENCE_NAMES: tuple[str, ...] = ("turntable", "walk-cycle")

# anny's default rig ("anny"): the bones a pose may turn. Fingers, toes and eyes are left to the rest pose.
RIG_BONES: tuple[str, ...] = (
    "root",
    "spine05",
    "spine04",
    "spine03",
    "spine02",
    "spine01",
    "neck01",
    "neck02",
    "neck03",
    "head",
    *(
        f"{bone}.{side}"
        for side in ("L", "R")
        for bone in (
            "pelvis",
            "upperleg01",
            "upperleg02",
            "lowerleg01",
            "lowerleg02",
            "foot",
            "clavicle",
            "shoulder01",
            "upperarm01",
            "upperarm02",
            "lowerarm01",
            "lowerarm02",
            "wrist",
        )
    ),
)


@dataclass(frozen=True)
class Pose:
    name: str
    # anny bone -> rotation vector in degrees (twinwear world axes), see the module docstring.
    joint_rotations: Mapping[str, tuple[float, float, float]]
    view_yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.joint_rotations) - set(RIG_BONES))
        if unknown:
            raise ValueError(f"pose {self.name!r}: unknown bones {unknown}; accepted: {', '.join(RIG_BONES)}")
        rotations = {bone: tuple(float(c) for c in r) for bone, r in self.joint_rotations.items()}
        if any(len(r) != 3 for r in rotations.values()):
            raise ValueError(f"pose {self.name!r}: each rotation is a 3-vector of degrees")
        object.__setattr__(self, "joint_rotations", MappingProxyType(rotations))


def _read(name: str, accepted: tuple[str, ...], kind: str) -> dict:
    if name not in accepted:
        raise ValueError(f"unknown {kind} {name!r}; accepted: {', '.join(accepted)}")
    return json.loads((POSES_DIR / f"{name}.json").read_text())


@cache
def load_pose(name: str) -> Pose:
    """The named pose of the library; ValueError naming the accepted names for any other."""
    data = _read(name, POSE_NAMES, "pose")
    return Pose(name=name, joint_rotations=data["joint_rotations"], view_yaw_deg=data.get("view_yaw_deg", 0.0))


def sequence(name: str) -> list[Pose]:
    """The frames of a named sequence ("turntable": 24 yaw steps of the A-pose; "walk-cycle")."""
    data = _read(name, SEQUENCE_NAMES, "sequence")
    frames = []
    for i, frame in enumerate(data["frames"]):
        base = load_pose(frame["pose"])
        rotations = {**base.joint_rotations, **frame.get("joint_rotations", {})}
        yaw = frame.get("view_yaw_deg", base.view_yaw_deg)
        frames.append(Pose(name=f"{name}-{i:02d}", joint_rotations=rotations, view_yaw_deg=yaw))
    return frames
