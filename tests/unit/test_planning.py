from dataclasses import replace
from datetime import date

import pytest

from services.twin_builder.handlers import handle_product_upserted
from services.twin_builder.planning import plan_renders
from services.twin_builder.roster import DEFAULT_ROSTER, MONK_SKIN_TONES, Body, Consent, Twin
from twinwear.v1 import events_pb2
from twinwear_runtime.events import Incoming, wrap
from twinwear_runtime.retry import PermanentError

TODAY = date(2026, 11, 25)


def product(**fields) -> events_pb2.ProductUpserted:
    values = {"sku": "TW-1", "revision": "r1", "flat_lay": events_pb2.ObjectRef(bucket="b", key="TW-1/r1.png")}
    values.update(fields)
    return events_pb2.ProductUpserted(**values)


def test_one_render_per_consenting_twin_with_stable_ids():
    first = plan_renders(product(), DEFAULT_ROSTER, TODAY)
    assert [r.twin.twin_id for r in first] == [t.twin_id for t in DEFAULT_ROSTER]
    assert len({r.render_id for r in first}) == len(DEFAULT_ROSTER)
    assert [r.render_id for r in plan_renders(product(), DEFAULT_ROSTER, TODAY)] == [r.render_id for r in first]
    assert plan_renders(product(revision="r2"), DEFAULT_ROSTER, TODAY)[0].render_id != first[0].render_id


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


def test_handler_rejects_products_it_cannot_plan():
    incoming = Incoming(wrap(product(), producer="p", key="k", event_id="e", correlation_id="c"), product(revision=""))
    with pytest.raises(PermanentError, match=r"ProductUpserted\.revision is empty"):
        handle_product_upserted(incoming, DEFAULT_ROSTER, lambda: TODAY)
