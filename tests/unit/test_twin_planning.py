"""Render planning (pure): who wears a look, in which size, under which consent."""

from __future__ import annotations

import pytest

from services.twin_builder.planning import CampaignPolicy, plan_look, render_id
from tests.twin_fixtures import (
    BRAND,
    TODAY,
    body_for,
    chart_proto,
    diverse_roster,
    grant,
    ledger_with,
    product,
    twin,
)
from twinwear_body.sizing import COMMON_CHART, SizeRow, recommend_size

POLICY = CampaignPolicy()


def plan(twins, ledger=None, policy=POLICY, **product_fields):
    return plan_look(product(**product_fields), twins, ledger or ledger_with(), policy, TODAY, "default-brand")


def talent_plans(requests):
    return [r for r in requests if r.twin.kind == "talent"]


def test_a_talent_with_a_grant_in_force_is_planned_cleared_for_the_overlap():
    star = twin("talent-1", kind="talent")
    ledger = ledger_with(grant("talent-1", channels=("ecommerce", "print"), markets=("FR", "US")))
    [request] = talent_plans(plan([star], ledger))
    assert list(request.channels) == ["ecommerce"]  # product: ecommerce, social
    assert list(request.markets) == ["FR"]  # product: FR, DE
    assert request.twin.consent_id == ledger.active("talent-1", BRAND, TODAY)[0].consent_id
    assert request.twin.display_name == ""  # no talent's name outside the twins topic
    assert request.brand == BRAND


@pytest.mark.parametrize(
    ("licence", "why"),
    [
        (grant("talent-1", channels=("print", "ooh")), "outside the product's channels"),
        (grant("talent-1", markets=("US",)), "outside the product's markets"),
        (grant("talent-1", start="2025-01-01", end="2026-06-30"), "expired"),
        (grant("talent-1", start="2027-01-01", end="2027-12-31"), "not started"),
        (grant("talent-1", brand="other-brand"), "another brand's"),
    ],
)
def test_a_talent_outside_its_grant_is_not_planned(licence, why):
    assert talent_plans(plan([twin("talent-1", kind="talent")], ledger_with(licence))) == [], why


def test_a_revoked_talent_is_not_planned():
    ledger = ledger_with(grant("talent-1"), revoked=["talent-1"])
    assert talent_plans(plan([twin("talent-1", kind="talent")], ledger)) == []


def test_customer_avatars_and_other_brands_synthetics_are_never_planned():
    twins = [twin("avatar", kind="customer"), twin("theirs", brand="other-brand")]
    assert plan(twins) == []


def test_synthetic_twins_cover_the_policys_sizes_and_tones():
    requests = plan(diverse_roster())
    sizes = {r.size_label for r in requests}
    tones = {r.twin.monk_skin_tone for r in requests}
    assert {"S", "M", "XL", "3XL"} <= sizes
    assert len(tones) >= POLICY.min_monk_tones
    assert len({r.twin.twin_id for r in requests}) <= POLICY.max_synthetic_twins
    assert all(r.twin.kind == "synthetic" and r.brand == BRAND for r in requests)


def test_products_without_a_brand_are_the_default_brands():
    roster = diverse_roster(brand="default-brand")
    assert plan(roster, brand="") and plan(roster) == []


def test_each_twin_wears_the_size_it_would_buy_from_the_looks_chart():
    # A chart that runs small: every body range moved down by 8 cm, so bodies need a size up.
    small = tuple(
        SizeRow(
            size_label=r.size_label,
            rank=r.rank,
            chest=None if r.chest is None else (r.chest[0] - 8, r.chest[1] - 8),
            waist=None if r.waist is None else (r.waist[0] - 8, r.waist[1] - 8),
            hip=None if r.hip is None else (r.hip[0] - 8, r.hip[1] - 8),
            inside_leg=r.inside_leg,
        )
        for r in COMMON_CHART
    )
    roster = [twin("m", size="M"), twin("xl", size="XL", tone=8)]
    on_common = {r.twin.twin_id: r.size_label for r in plan(roster)}
    on_small = {r.twin.twin_id: r for r in plan(roster, size_chart=chart_proto(small))}
    assert on_common == {"m": "M", "xl": "XL"}
    for twin_id, request in on_small.items():
        expected = recommend_size(body_for(on_common[twin_id]), small, "t-shirt").size_label
        assert request.size_label == expected == request.twin.size_label == request.size.size_label
    rank = {r.size_label: r.rank for r in small}
    assert rank[on_small["m"].size_label] > rank["M"]  # the chart runs small: a size up


def test_render_ids_follow_imagery_twin_version_pose_and_size_worn():
    roster = [twin("a", size="M")]
    [first] = plan(roster)
    worn = first.size.SerializeToString(deterministic=True)
    assert first.render_id == render_id("LOOK-1", "img1", "a", 1, "front", worn)
    assert render_id("LOOK-1", "img1", "a", 1, "front", b"another row") != first.render_id
    assert [r.render_id for r in plan(roster, revision="r2", product_version=2)] == [first.render_id]
    assert plan(roster, imagery_digest="img2")[0].render_id != first.render_id
    assert plan([twin("a", size="M", version=2)])[0].render_id != first.render_id
    poses = CampaignPolicy(poses=("front", "back"))
    assert {r.pose for r in plan(roster, policy=poses)} == {"front", "back"}


def test_a_render_request_is_self_contained():
    [request] = plan([twin("a", size="M", tone=7)])
    assert request.twin.body_parameters.phenotype["gender"] == 1.0
    assert request.twin.appearance.hairstyle == "bob" and request.twin.skin_rgb.r > 0
    assert request.garment.type == "t-shirt" and request.flat_lay.key == "LOOK-1/r1.png"
    assert (request.width, request.height, request.background) == (POLICY.width, POLICY.height, POLICY.background)
    assert list(request.variant_skus) == ["LOOK-1-M"] and request.look_id == "LOOK-1"


def test_the_policy_reads_from_toml():
    policy = CampaignPolicy.from_toml('[coverage]\nsizes = ["M"]\n[render]\nposes = ["back"]\nturntable = true\n')
    assert (policy.sizes, policy.poses, policy.turntable, policy.min_monk_tones) == (("M",), ("back",), True, 5)
    with pytest.raises(ValueError, match=r"render\.poses"):
        CampaignPolicy.from_toml("[render]\nposes = []\n")
