"""Body parameters, measurements and the age mapping: pure logic, no anny."""

from __future__ import annotations

import subprocess
import sys

import pytest

from twinwear_body import params
from twinwear_body.appearance import HAIRSTYLES, MONK_SKIN_TONES
from twinwear_body.params import BodyParams, Measurements, age_years, anny_age


def test_body_params_round_trip_through_the_proto():
    body = BodyParams({"gender": 1.0, "age": 0.75}, {"measure-waist-circ-incr": -0.25})

    again = BodyParams.from_proto(body.to_proto())

    assert again == body  # values exact in float32
    assert body.to_proto().model == params.ANNY_VERSION


def test_unknown_phenotype_is_named():
    with pytest.raises(ValueError, match="phenotype: unknown controls \\['girth'\\]"):
        BodyParams({"girth": 0.5})


def test_measurements_round_trip_through_the_proto():
    body = Measurements(170.0, 92.0, 74.0, 100.0, 78.0, 38.0)

    assert Measurements.from_proto(body.to_proto()) == body


def test_adults_map_onto_annys_adult_ages():
    assert anny_age(18) == pytest.approx(0.77)
    assert anny_age(64) == pytest.approx(0.83)
    assert 0.83 < anny_age(70) < 0.86
    assert age_years(anny_age(42.0)) == pytest.approx(42.0)


def test_appearance_covers_the_monk_scale_and_the_render_hairstyles():
    assert sorted(MONK_SKIN_TONES) == list(range(1, 11))
    assert {"bob", "long-straight", "curly-afro", "buzz", "bun", "ponytail", "wavy-medium"} <= set(HAIRSTYLES)


def test_pure_modules_do_not_import_torch():
    modules = ", ".join(
        f"twinwear_body.{m}" for m in ("params", "appearance", "poses", "sizing", "roster", "tape", "gltf")
    )
    code = f"import sys, {modules}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
