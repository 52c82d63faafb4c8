"""Size advice, the roster's coverage and the pose library: pure logic, no anny."""

from __future__ import annotations

from collections import Counter

import pytest

from twinwear.v1 import events_pb2
from twinwear_body.appearance import HAIRSTYLES
from twinwear_body.params import Measurements
from twinwear_body.poses import POSE_NAMES, RIG_BONES, load_pose, sequence
from twinwear_body.roster import coverage_table, generate_roster
from twinwear_body.sizing import COMMON_CHARTS, GARMENT_TYPES, SIZE_LABELS, SizeRow, recommend_size

FEMALE = COMMON_CHARTS["female"]


def _body(chest: float, waist: float, hip: float) -> Measurements:
    return Measurements(168.0, chest, waist, hip, 77.0, 37.0)


def test_a_mid_row_body_gets_that_size_with_a_regular_fit():
    advice = recommend_size(_body(91, 75, 99), FEMALE, "dress")

    assert advice.size_label == "M"
    assert advice.fit == {"chest": "regular", "waist": "regular", "hip": "regular"}
    assert advice.confidence > 0.9
    assert advice.ease_cm == {"chest": 6.0, "waist": 4.0, "hip": 6.0}


def test_the_tightest_measure_decides_and_is_noted():
    # Waist of an M, hips of an XL: a skirt is sized by waist and hip, and must fit the hip.
    advice = recommend_size(_body(85, 74, 112), FEMALE, "skirt")

    assert advice.size_label == "XL"
    assert advice.fit["waist"] == "loose"
    assert advice.confidence < 0.9


def test_a_body_beyond_the_chart_gets_the_largest_size_as_tight_with_low_confidence():
    advice = recommend_size(_body(150, 140, 160), FEMALE, "t-shirt")

    assert advice.size_label == "4XL"
    assert advice.fit["chest"] == "tight"
    assert advice.confidence < 0.1


def test_size_rows_come_from_the_proto_and_unknown_garments_are_named():
    row = events_pb2.SizeChartRow(size_label="M", rank=3, chest_girth=events_pb2.MeasureRange(min_cm=88, max_cm=94))

    assert SizeRow.from_proto(row) == SizeRow("M", 3, chest=(88.0, 94.0))
    with pytest.raises(ValueError, match="garment_type: unknown 'cape'"):
        recommend_size(_body(91, 75, 99), FEMALE, "cape")
    assert [r.size_label for r in FEMALE] == list(SIZE_LABELS)
    assert len(GARMENT_TYPES) == 10


def test_roster_is_deterministic_and_covers_every_level_evenly():
    members = generate_roster(90, seed="coverage")

    assert members == generate_roster(90, seed="coverage")
    assert members != generate_roster(90, seed="other")
    assert len({m.twin_id for m in members}) == 90
    for levels, values in [
        (SIZE_LABELS, [m.size_label for m in members]),
        (range(1, 11), [m.monk_skin_tone for m in members]),
        (HAIRSTYLES, [m.hairstyle for m in members]),
        (("female", "male"), [m.sex for m in members]),
    ]:
        counts = Counter(values)
        assert set(counts) == set(levels)
        assert max(counts.values()) - min(counts.values()) <= 1
    ages = [m.age_years for m in members]
    assert min(ages) < 22 and max(ages) > 66 and all(18 <= a <= 70 for a in ages)
    table = coverage_table(members)
    assert "monk tone  10" in table and "age        60-70" in table


def test_every_library_pose_loads_on_annys_bones():
    for name in POSE_NAMES:
        pose = load_pose(name)
        assert set(pose.joint_rotations) <= set(RIG_BONES)
        assert all(abs(c) <= 180 for r in pose.joint_rotations.values() for c in r)
    assert load_pose("back").view_yaw_deg == 180
    with pytest.raises(ValueError, match="unknown pose 'dab'; accepted: front, three-quarter"):
        load_pose("dab")


def test_sequences_turn_the_a_pose_and_cycle_the_walk():
    turntable = sequence("turntable")
    walk = sequence("walk-cycle")

    assert [p.view_yaw_deg for p in turntable] == [15.0 * i for i in range(24)]
    assert all(p.joint_rotations == load_pose("front").joint_rotations for p in turntable)
    assert len(walk) == 12
    assert walk[0].joint_rotations != walk[3].joint_rotations
