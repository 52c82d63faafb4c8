"""The anny body as a mesh in the twinwear frame."""

from __future__ import annotations

import numpy as np

from twinwear_body.model import PARTS
from twinwear_body.params import BodyParams, anny_age


def _adult(sex: float, **phenotype: float) -> BodyParams:
    return BodyParams({"gender": sex, "age": anny_age(35), **phenotype})


def test_mesh_stands_on_the_floor_facing_plus_z_in_metres(body_model):
    mesh = body_model.mesh(_adult(1.0), "front")

    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
    assert abs(float(mesh.vertices[:, 1].min())) < 1e-5
    assert 1.4 < float(mesh.vertices[:, 1].max()) < 2.1
    # The face reaches further in front of the head joint than the skull behind it; the toes point +Z.
    head_z = mesh.vertices[mesh.parts == PARTS["head"], 2] - mesh.joints["head"][2]
    assert head_z.max() > -head_z.min() + 0.02
    assert mesh.joints["foot.L"][2] < mesh.vertices[mesh.parts == PARTS["foot_l"]][:, 2].max() - 0.1
    # The body's left (its left hand) is on +X; the root is centred on x = z = 0.
    assert mesh.vertices[mesh.parts == PARTS["hand_l"]][:, 0].mean() > 0.2
    assert np.allclose(mesh.joints["root"][[0, 2]], 0.0, atol=1e-5)


def test_every_part_is_labelled_and_normals_are_unit(body_model):
    mesh = body_model.mesh(_adult(0.0))

    assert set(np.unique(mesh.parts)) == set(PARTS.values())
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
    # Normals point outwards: on the chest they face +Z.
    torso = mesh.parts == PARTS["torso"]
    front = torso & (mesh.vertices[:, 2] > mesh.vertices[torso, 2].max() - 0.01)
    assert mesh.normals[front, 2].mean() > 0.5
    assert mesh.uvs is not None and mesh.uvs.shape == (len(mesh.vertices), 2)


def test_mesh_batch_matches_single_meshes_and_phenotype_changes_the_body(body_model):
    tall, short = _adult(0.0, height=0.9), _adult(0.0, height=0.1)

    batch = body_model.mesh_batch([tall, short], ["front", None])

    assert np.allclose(batch[0].vertices, body_model.mesh(tall, "front").vertices, atol=1e-5)
    assert np.allclose(batch[1].vertices, body_model.mesh(short).vertices, atol=1e-5)
    assert batch[0].vertices[:, 1].max() - batch[1].vertices[:, 1].max() > 0.1
