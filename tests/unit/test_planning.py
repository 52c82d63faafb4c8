from dataclasses import replace
from datetime import date

import pytest

from services.twin_builder.handlers import handle_product_upserted
from services.twin_builder.planning import plan_renders
from services.twin_builder.roster import DEFAULT_ROSTER, MONK_SKIN_TONES, Body, Consent, Twin
from twinwear.v1 import events_pb2
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.faults import PermanentError

TODAY = date(2026, 11, 25)


def product(**fields) -> events_pb2.ProductUpserted:
    values = {
        "sku": "TW-1",
        "revision": "r1",
        "imagery_digest": "img1",
        "product_version": 1_764_000_000_000_000,
        "flat_lay": events_pb2.ObjectRef(bucket="b", key="TW-1/r1.png"),
    }
    values.update(fields)
    return events_pb2.ProductUpserted(**values)


def test_one_render_per_consenting_twin_with_stable_ids():
    first = plan_renders(product(), DEFAULT_ROSTER, TODAY)
    assert [r.twin.twin_id for r in first] == [t.twin_id for t in DEFAULT_ROSTER]
    assert len({r.render_id for r in first}) == len(DEFAULT_ROSTER)
    assert [r.render_id for r in plan_renders(product(), DEFAULT_ROSTER, TODAY)] == [r.render_id for r in first]
    assert plan_renders(product(imagery_digest="img2"), DEFAULT_ROSTER, TODAY)[0].render_id != first[0].render_id


def test_a_change_that_keeps_the_imagery_plans_the_same_renders_under_the_new_version():
    first = plan_renders(product(), DEFAULT_ROSTER, TODAY)
    newer = plan_renders(product(revision="r2", product_version=1_764_000_000_000_001), DEFAULT_ROSTER, TODAY)
    assert [r.render_id for r in newer] == [r.render_id for r in first]
    assert {r.product_version for r in newer} == {1_764_000_000_000_001}


def test_products_that_share_imagery_get_renders_of_their_own():
    [a] = plan_renders(product(), DEFAULT_ROSTER[:1], TODAY)
    [b] = plan_renders(product(sku="TW-2"), DEFAULT_ROSTER[:1], TODAY)
    assert a.render_id != b.render_id


def test_a_changed_twin_or_pose_is_a_new_render():
    twin = DEFAULT_ROSTER[0]
    [base] = plan_renders(product(), [twin], TODAY)
    [changed] = plan_renders(product(), [replace(twin, version=2)], TODAY)
    [side] = plan_renders(product(), [twin], TODAY, pose="side")
    assert len({base.render_id, changed.render_id, side.render_id}) == 3
    assert (changed.twin.twin_version, side.pose) == (2, "side")


def test_render_request_carries_what_the_renderer_needs():
    request = plan_renders(product(colour=events_pb2.Rgb(r=1, g=2, b=3)), DEFAULT_ROSTER[:1], TODAY)[0]
    twin = DEFAULT_ROSTER[0]
    assert (request.twin.skin_rgb.r, request.twin.skin_rgb.g, request.twin.skin_rgb.b) == twin.skin_rgb
    assert request.twin.body.chest_girth_cm == twin.body.chest_girth_cm
    assert request.twin.consent_id == twin.consent.consent_id
    assert request.garment_colour.b == 3 and request.flat_lay.key == "TW-1/r1.png"


@pytest.mark.parametrize(
    "consent",
    [
        Consent("c", frozenset({"catalogue-imagery"}), date(2026, 1, 1), date(2026, 6, 30)),  # expired
        Consent("c", frozenset({"advertising"}), date(2026, 1, 1), date(2027, 1, 1)),  # other scope
        Consent("c", frozenset({"catalogue-imagery"}), date(2026, 1, 1), date(2027, 1, 1), revoked=True),
    ],
)
def test_twins_without_valid_consent_are_not_rendered(consent):
    twin = Twin("twin-x", "X", "M", 5, Body(170, 90, 75, 98), consent)
    assert plan_renders(product(), [twin], TODAY) == []


def test_the_default_roster_is_diverse_and_the_palette_complete():
    assert len(DEFAULT_ROSTER) >= 2
    assert len({t.size_label for t in DEFAULT_ROSTER}) == len(DEFAULT_ROSTER)
    assert len({t.monk_skin_tone for t in DEFAULT_ROSTER}) == len(DEFAULT_ROSTER)
    assert sorted(MONK_SKIN_TONES) == list(range(1, 11))
    with pytest.raises(ValueError, match=r"monk_skin_tone must be 1\.\.10"):
        replace(DEFAULT_ROSTER[0], monk_skin_tone=11)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"imagery_digest": ""}, r"ProductUpserted\.imagery_digest is empty"),
        ({"product_version": 0}, r"ProductUpserted\.product_version must be positive"),
    ],
)
def test_handler_rejects_products_it_cannot_plan(change, message):
    bad = product(**change)
    incoming = Incoming(wrap(bad, producer="p", key="k", event_id="e", correlation_id="c"), bad)
    with pytest.raises(PermanentError, match=message):
        handle_product_upserted(incoming, DEFAULT_ROSTER, lambda: TODAY)
