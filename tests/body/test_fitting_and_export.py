"""Fitting anny to measurements, bad and unreachable targets, GLB export and size advice on fitted bodies."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import trimesh

from twinwear_body.fitting import MeasurementError, fit
from twinwear_body.gltf import export_glb
from twinwear_body.params import Measurements
from twinwear_body.roster import generate_roster
from twinwear_body.sizing import COMMON_CHARTS, recommend_size
from twinwear_body.tape import measure

GOOD = Measurements(168.0, 90.0, 72.0, 98.0, 77.0, 36.5)


def _with(**changes: float) -> Measurements:
    return Measurements(**{**GOOD.as_dict(), **changes})


# 20 profiles across the size range, both sexes, ages 18-70 (the roster's stratified design).
PROFILES = generate_roster(20, seed="fitting-accuracy")


@pytest.mark.parametrize("member", PROFILES, ids=lambda m: f"{m.sex}-{m.age_years}-{m.size_label}")
def test_fitted_mesh_measures_within_5_mm_of_the_targets(body_model, member):
    result = fit(member.measurements, member.sex, member.age_years, body_model)

    assert all(abs(r) <= 5.0 for r in result.residuals_mm.values()), result.residuals_mm
    assert result.warnings == []
    # Measured again on the mesh the parameters make, as a renderer would build it.
    remeasured = measure(body_model.mesh(result.params)).as_dict()
    for name, target in member.measurements.as_dict().items():
        assert remeasured[name] == pytest.approx(target, abs=0.5), name


@pytest.mark.parametrize(
    ("targets", "field", "accepted"),
    [
        (_with(stature_cm=500.0), "stature_cm", "140..210 cm"),
        (_with(waist_girth_cm=-70.0), "waist_girth_cm", "50..170 cm"),
        (_with(hip_girth_cm=math.nan), "hip_girth_cm", "70..180 cm"),
        (_with(waist_girth_cm=160.0, hip_girth_cm=50.0), "hip_girth_cm", "70..180 cm"),
        (_with(inside_leg_cm=99.0, stature_cm=150.0), "inside_leg_cm", "0.35..0.55 x stature_cm"),
    ],
)
def test_impossible_measurements_name_the_field_and_range(body_model, targets, field, accepted):
    with pytest.raises(MeasurementError) as error:
        fit(targets, "female", 30, body_model)

    assert error.value.field == field and error.value.accepted == accepted
    assert field in str(error.value)


def test_sex_and_age_are_validated(body_model):
    with pytest.raises(MeasurementError, match="age_years"):
        fit(GOOD, "female", 12, body_model)
    with pytest.raises(MeasurementError, match="sex"):
        fit(GOOD, "robot", 30, body_model)


def test_a_possible_but_unreachable_target_returns_residuals_and_a_warning(body_model):
    # A 30 cm waist drop to the hips on a tall narrow frame: inside the ranges, beyond anny's shapes.
    result = fit(_with(stature_cm=200.0, waist_girth_cm=52.0, hip_girth_cm=130.0, inside_leg_cm=92.0), "male", 40)

    assert any(abs(r) > 5.0 for r in result.residuals_mm.values())
    assert result.warnings and "anny cannot reach it" in result.warnings[0]


def test_glb_opens_in_trimesh_at_the_stature_asked_for(body_model):
    result = fit(GOOD, "female", 30, body_model)

    glb = export_glb(body_model.mesh(result.params, "front"))

    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    mesh = next(iter(scene.geometry.values()))
    height = float(mesh.bounds[1][1] - mesh.bounds[0][1])
    assert height == pytest.approx(GOOD.stature_cm / 100.0, abs=0.005)
    assert np.isclose(mesh.bounds[0][1], 0.0, atol=1e-4)
    assert len(mesh.faces) == len(body_model.faces)


def test_size_advice_on_fitted_bodies(body_model):
    small = fit(Measurements(160.0, 80.0, 63.0, 88.0, 73.0, 34.0), "female", 25, body_model)
    large = fit(Measurements(170.0, 118.0, 104.0, 126.0, 77.0, 40.0), "female", 50, body_model)

    assert recommend_size(small.fitted, COMMON_CHARTS["female"], "t-shirt").size_label == "XS"
    assert recommend_size(large.fitted, COMMON_CHARTS["female"], "dress").size_label == "3XL"
