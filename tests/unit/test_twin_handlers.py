"""The twin builder's handlers and state: replays, price-only changes, reverts, retirement, a
twin's new version and consent changes, and the state rebuilt from the topics."""

from __future__ import annotations

import itertools

import pytest

from services.twin_builder.consent import validate_grant
from services.twin_builder.handlers import Planner
from services.twin_builder.planning import CampaignPolicy
from services.twin_builder.state import TwinBuilderState
from tests.twin_fixtures import TODAY, diverse_roster, grant, product, twin
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_runtime.events import Incoming, Outgoing, wrap
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.replay import Replayed

_ids = itertools.count()


def incoming(payload, event_id: str | None = None) -> Incoming:
    envelope = wrap(payload, producer="t", key="k", event_id=event_id or f"e{next(_ids)}", correlation_id="c")
    return Incoming(envelope, payload)


@pytest.fixture
def planner() -> Planner:
    state = TwinBuilderState()
    for member in diverse_roster():
        state.registry.apply_upserted(twins_pb2.TwinUpserted(twin=member))
    return Planner(state, CampaignPolicy(), "default-brand", "renders", lambda: TODAY)


def handle(planner: Planner, payload, event_id: str | None = None) -> list[Outgoing]:
    event = incoming(payload, event_id)
    outgoing = planner.handlers()[type(payload)](event)
    planner.state.planned.committed()  # as the consumer does once the transaction commits
    return outgoing


def render_ids(outgoing: list[Outgoing]) -> set[str]:
    return {o.payload.render_id for o in outgoing if isinstance(o.payload, events_pb2.RenderRequested)}


def test_a_replay_plans_nothing_twice(planner):
    first = handle(planner, product(), "upsert-1")
    assert first and all(o.topic == "renders" and o.key == "LOOK-1" for o in first)
    assert handle(planner, product(), "upsert-1") == []


def test_a_price_only_change_plans_nothing(planner):
    handle(planner, product())
    cheaper = product(product_version=2_000_000_000_000_000, variants=[events_pb2.Variant(sku="x", price="9.99")])
    assert handle(planner, cheaper) == []


def test_new_imagery_plans_again_and_a_revert_asks_for_the_first_renders_again(planner):
    a = render_ids(handle(planner, product(imagery_digest="A", product_version=1)))
    b = render_ids(handle(planner, product(imagery_digest="B", product_version=2)))
    again = render_ids(handle(planner, product(imagery_digest="A", product_version=3)))
    assert a and b and not a & b
    assert again == a  # render answers them from its cache; the publisher republishes at version 3


def test_an_older_version_arriving_late_plans_nothing(planner):
    handle(planner, product(imagery_digest="new", product_version=5))
    assert handle(planner, product(imagery_digest="old", product_version=4)) == []


def test_retirement_cancels_and_a_later_upsert_plans_again(planner):
    planned = render_ids(handle(planner, product(product_version=1)))
    [cancel] = handle(planner, events_pb2.ProductRetired(look_id="LOOK-1", product_version=2))
    assert isinstance(cancel.payload, events_pb2.RenderCancelled) and cancel.payload.look_id == "LOOK-1"
    assert handle(planner, product(product_version=1)) == []  # older than the retirement
    assert render_ids(handle(planner, product(product_version=3))) == planned
    assert handle(planner, events_pb2.ProductRetired(look_id="LOOK-1", variant_sku="LOOK-1-M", product_version=4)) == []


def test_a_twins_new_version_replans_the_looks_it_is_in(planner):
    handle(planner, product("LOOK-1"))
    handle(planner, product("LOOK-2", imagery_digest="img2"))
    chosen = next(o.payload.twin for o in handle(planner, product("LOOK-3", imagery_digest="img3")))
    member = planner.state.registry.get(chosen.twin_id)
    newer = twins_pb2.Twin()
    newer.CopyFrom(member)
    newer.twin_version = 2
    replanned = handle(planner, twins_pb2.TwinUpserted(twin=newer))
    assert {o.key for o in replanned} == {"LOOK-1", "LOOK-2", "LOOK-3"}
    assert {o.payload.twin.twin_id for o in replanned} == {chosen.twin_id}
    assert {o.payload.twin.twin_version for o in replanned} == {2}
    assert handle(planner, twins_pb2.TwinUpserted(twin=newer)) == []  # redelivered


def test_a_grant_plans_the_brands_looks_and_a_revocation_stops_planning_at_once(planner):
    star = twin("talent-1", kind="talent")
    handle(planner, twins_pb2.TwinUpserted(twin=star))
    handle(planner, product("LOOK-1"))
    licence = validate_grant(grant("talent-1"), TODAY).to_proto()
    granted = handle(planner, twins_pb2.ConsentGranted(grant=licence, actor="ops"))
    assert {(o.key, o.payload.twin.twin_id) for o in granted} == {("LOOK-1", "talent-1")}
    handle(planner, twins_pb2.ConsentRevoked(consent_id=licence.consent_id, twin_id="talent-1", actor="ops"))
    fresh = handle(planner, product("LOOK-2", imagery_digest="img2"))
    assert fresh and "talent-1" not in {o.payload.twin.twin_id for o in fresh}


def test_avatars_are_never_planned(planner):
    handle(planner, product())
    avatar = twin("avatar-1", kind="customer")
    assert handle(planner, twins_pb2.TwinUpserted(twin=avatar)) == []


def test_an_aborted_transaction_forgets_its_plans(planner):
    event = incoming(product(), "upsert-x")
    first = planner.product_upserted(event)
    planner.state.planned.discard()  # the transaction aborted: the record comes again
    assert render_ids(planner.product_upserted(event)) == render_ids(first)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"imagery_digest": ""}, r"imagery_digest is empty"),
        ({"product_version": 0}, r"product_version must be positive"),
        ({"look_id": "", "sku": ""}, r"look_id is empty"),
        ({"flat_lay": None, "images": []}, r"neither a flat_lay nor images"),
    ],
)
def test_products_that_cannot_be_planned_are_dead_lettered(planner, change, message):
    with pytest.raises(PermanentError, match=message):
        planner.product_upserted(incoming(product(**change)))


def test_the_state_comes_back_from_the_topics(planner):
    planned = handle(planner, product(imagery_digest="A", product_version=1))
    handle(planner, product(imagery_digest="B", product_version=2))
    star = twin("talent-1", kind="talent")
    licence = validate_grant(grant("talent-1"), TODAY).to_proto()
    records = [
        *(Replayed("twins", t.twin_id, None, twins_pb2.TwinUpserted(twin=t)) for t in planner.state.registry),
        Replayed("twins", "talent-1", None, twins_pb2.TwinUpserted(twin=star)),
        Replayed("twins", "talent-1", None, twins_pb2.TwinDeleted(twin_id="talent-1", twin_version=1)),
        Replayed("twins", "talent-1", None, None),
        Replayed(
            "consent",
            "talent-1",
            wrap(twins_pb2.ConsentGranted(grant=licence), producer="t", key="k", event_id="g1", correlation_id="c"),
            twins_pb2.ConsentGranted(grant=licence),
        ),
        Replayed("products", "LOOK-1", None, product(imagery_digest="A", product_version=1)),
        *(Replayed("renders", "LOOK-1", None, o.payload) for o in planned),
        Replayed("products", "LOOK-1", None, product(imagery_digest="B", product_version=2)),
        Replayed("products", "LOOK-1", None, product(imagery_digest="A", product_version=3)),
    ]
    state = TwinBuilderState()
    state.replay(records)
    assert len(state.registry) == len(planner.state.registry) and state.registry.get("talent-1") is None
    assert state.registry.version_of("talent-1") == 1  # an id used again continues after it
    assert [e.action for e in state.ledger.history("talent-1")] == ["granted"]
    assert state.looks["LOOK-1"].product_version == 3
    # A's renders were planned at version 1; the look has had imagery A since version 3 only (a
    # revert), so they are asked for again.
    rebuilt = Planner(state, CampaignPolicy(), "default-brand", "renders", lambda: TODAY)
    assert render_ids(handle(rebuilt, product(imagery_digest="A", product_version=3))) == render_ids(planned)
    assert handle(rebuilt, product(imagery_digest="A", product_version=3)) == []
