"""Three very different bodies from twinwear_body (anny), and one renderer, for the whole module."""

from __future__ import annotations

import dataclasses

import pytest

from services.render.engine.api import Renderer, RenderJob
from twinwear_body import tape
from twinwear_body.model import BodyMesh, BodyModel
from twinwear_body.params import BodyParams, Measurements

from .flatlays import flatlay

# A short slim woman, a heavy older man, a tall muscular young man, with skin, hair and eyes to match.
BODIES = {
    "slim": (
        {"gender": 1.0, "age": 0.4, "muscle": 0.4, "weight": 0.25, "height": 0.3, "proportions": 0.6},
        (160, 126, 86),
        "bob",
    ),
    "heavy": (
        {"gender": 0.0, "age": 0.7, "muscle": 0.4, "weight": 1.0, "height": 0.55, "proportions": 0.4},
        (58, 49, 42),
        "curly-afro",
    ),
    "tall": (
        {"gender": 0.0, "age": 0.3, "muscle": 0.9, "weight": 0.5, "height": 0.95, "proportions": 0.7},
        (243, 231, 219),
        "ponytail",
    ),
}


@dataclasses.dataclass(frozen=True)
class Twin:
    mesh: BodyMesh
    measurements: Measurements
    skin_rgb: tuple[int, int, int]
    hairstyle: str


@pytest.fixture(scope="session")
def body_model() -> BodyModel:
    return BodyModel()


@pytest.fixture(scope="session")
def twins(body_model: BodyModel) -> dict[str, Twin]:
    model = body_model
    out = {}
    for name, (phenotype, skin, hair) in BODIES.items():
        params = BodyParams(phenotype=phenotype)
        out[name] = Twin(model.mesh(params, "front"), tape.measure(model.mesh(params, None)), skin, hair)
    return out


@pytest.fixture(scope="session")
def renderer(body_model: BodyModel) -> Renderer:
    return Renderer()  # after the body model: anny loads torch's LLVM users first


def job_for(
    twin: Twin, garment_type: str, colour: tuple[int, int, int] = (40, 80, 160), **overrides: object
) -> RenderJob:
    fields = {
        "body": twin.mesh,
        "rest_measurements": twin.measurements,
        "garment_type": garment_type,
        "sleeve_length": "",
        "length": "",
        "size": None,
        "texture": flatlay(garment_type, colour),
        "skin_rgb": twin.skin_rgb,
        "monk_skin_tone": 5,
        "hairstyle": twin.hairstyle,
        "hair_colour": (60, 40, 25),
        "eye_colour": (90, 60, 30),
    }
    fields.update(overrides)
    return RenderJob(**fields)  # type: ignore[arg-type]
