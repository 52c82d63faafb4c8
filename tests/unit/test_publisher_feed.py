"""The feed's pure parts: cursors, the feed view, the Merchant Center rows, consent by channel and
market, and the feed APIs' auth."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io

import httpx
import pytest

from services.publisher.consent import GrantRecord, NotPublishable, TwinRegistry, cleared_by_grants
from services.publisher.feed_api import FeedHttpApi
from services.publisher.feed_index import FeedRecord, FeedView, InvalidCursor, decode_cursor, encode_cursor
from services.publisher.merchant import merchant_rows, merchant_tsv
from services.publisher.sustainability import SustainabilityConfig
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_runtime.auth import AdminTokens, ApiTokens

DAY = dt.date(2026, 11, 25)


def derivative(name, width, height, labelled=False, channels=("ecommerce",), size=100_000):
    return events_pb2.Derivative(
        name=name, url=f"https://cdn/{name}", width=width, height=height, visible_label=labelled,
        channels=list(channels), object=events_pb2.ObjectRef(content_type="image/jpeg", size_bytes=size),
    )  # fmt: skip


def asset(slot, pose="front", variants=("V-S", "V-M"), channels=("ecommerce", "social")):
    look, twin, _ = slot.split("/")
    return events_pb2.AssetPublished(
        asset_id=f"a-{slot}", slot=slot, look_id=look, twin_id=twin, pose=pose, variant_skus=list(variants),
        channels=list(channels),
        derivatives=[
            derivative("jpeg-1024", 1024, 1536), derivative("jpeg-2048", 2048, 3072),
            derivative("square-1500", 1500, 1500), derivative("social-2048", 2048, 3072, True, ("social",)),
        ],
    )  # fmt: skip


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    assert decode_cursor(encode_cursor({0: 12, 2: 5})) == {0: 12, 2: 5}
    assert decode_cursor("") == {}
    for forged in ("not a cursor", encode_cursor({0: 1})[:-1] + "!!", "MDotMQ"):
        with pytest.raises(InvalidCursor):
            decode_cursor(forged)


def test_the_view_holds_the_newest_asset_per_slot_and_lists_changes_after_a_cursor():
    view = FeedView()
    view.add([FeedRecord(0, 0, "L/t/front", asset("L/t/front")), FeedRecord(1, 0, "M/t/front", asset("M/t/front"))])
    cursor = view.cursor()
    view.add(
        [
            FeedRecord(0, 1, "L/t/front", events_pb2.AssetWithdrawn(slot="L/t/front")),
            FeedRecord(0, 2, "L/t/front", None),
        ]
    )
    assert [a.slot for a in view.assets_for("V-M")] == ["M/t/front"]
    assert [(r.offset, r.event is None) for r in view.changes_since(cursor)] == [(1, False), (2, True)]


def test_merchant_rows_are_per_variant_without_overlays_and_with_large_images_first():
    rows = merchant_rows(
        [asset("L/t1/front"), asset("L/t2/back", pose="back"), asset("L/t3/front", channels=("social",))]
    )
    assert [r["id"] for r in rows] == ["V-M", "V-S"]
    row = rows[0]
    assert row["image_link"] == "https://cdn/square-1500" and row["lifestyle_image_link"] == "https://cdn/jpeg-2048"
    assert row["additional_image_link"] == "https://cdn/square-1500"  # the other ecommerce asset's
    parsed = list(csv.DictReader(io.StringIO(merchant_tsv([asset("L/t1/front")])), delimiter="\t"))
    assert parsed[0].keys() == {"id", "image_link", "additional_image_link", "lifestyle_image_link"}
    assert all("social" not in value for row in parsed for value in row.values())


def test_merchant_links_respect_the_64_megapixel_and_16_mb_limits():
    big = asset("L/t/front")
    del big.derivatives[:]
    too_many_pixels = derivative("square-9000", 9000, 9000)
    too_many_bytes = derivative("square-1500", 1500, 1500, size=17_000_000)
    big.derivatives.extend([too_many_pixels, too_many_bytes, derivative("square-1000", 1000, 1000)])
    assert merchant_rows([big])[0]["image_link"] == "https://cdn/square-1000"


def test_a_channel_is_cleared_by_any_active_grant_of_the_brand_in_a_planned_market():
    def grant(consent_id, channels, markets, end="2027-01-01", brand="acme"):
        return GrantRecord(twins_pb2.ConsentGrant(
            consent_id=consent_id, brand=brand, channels=channels, markets=markets, start_date="2026-01-01",
            end_date=end, fee_per_image_minor=100, currency="EUR",
        ))  # fmt: skip

    grants = [
        grant("c1", ["ecommerce"], ["FR"]),
        grant("c2", ["social"], ["DE"]),
        grant("c3", ["print"], ["DE"], end="2026-06-30"),  # ended
        grant("c4", ["ooh"], ["DE"], brand="other"),
    ]
    cleared = cleared_by_grants(grants, "acme", ("ecommerce", "social", "print", "ooh"), ("DE", "FR"), DAY)
    assert (cleared.channels, cleared.markets, cleared.consent_id) == (("ecommerce", "social"), ("DE", "FR"), "c1")
    with pytest.raises(NotPublishable, match="no active consent"):
        cleared_by_grants(grants, "acme", ("print",), ("DE",), DAY)


def get(api: FeedHttpApi, path: str, token: str = "") -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})

    return asyncio.run(send())


def test_feed_reads_take_the_api_token_and_review_takes_an_admin_token():
    api = FeedHttpApi(
        FeedView(), None, ApiTokens("feed-token"), AdminTokens("alice:admin-token"), SustainabilityConfig()
    )
    assert get(api, "/v1/assets?sku=V").status_code == 401
    assert get(api, "/v1/assets?sku=V", "feed-token").json()["assets"] == []
    assert get(api, "/v1/assets", "feed-token").json()["field"] == "sku"
    bad_cursor = get(api, "/v1/assets/changes?cursor=zz!", "feed-token")
    assert bad_cursor.status_code == 400 and bad_cursor.json()["field"] == "cursor"
    assert get(api, "/v1/review", "feed-token").status_code == 401
    unset = FeedHttpApi(FeedView(), None, ApiTokens(None), AdminTokens(None), SustainabilityConfig())
    assert get(unset, "/v1/ledger").status_code == 503
    with pytest.raises(ValueError, match="name:token"):
        AdminTokens("just-a-token")


def test_the_registry_keeps_the_newest_twin_and_marks_ended_grants_and_erasures():
    registry = TwinRegistry()
    registry.apply(twins_pb2.TwinUpserted(twin=twins_pb2.Twin(twin_id="t", twin_version=2, kind="talent")))
    registry.apply(twins_pb2.TwinUpserted(twin=twins_pb2.Twin(twin_id="t", twin_version=1, kind="synthetic")))
    registry.apply(twins_pb2.ConsentGranted(grant=twins_pb2.ConsentGrant(consent_id="c1", twin_id="t")))
    registry.apply(twins_pb2.ConsentGranted(grant=twins_pb2.ConsentGrant(consent_id="c2", twin_id="t")))
    registry.apply(twins_pb2.ConsentExpired(consent_id="c2", twin_id="t"))
    registry.apply(twins_pb2.ConsentRevoked(consent_id="unknown", twin_id="t"))  # nothing to end
    assert registry.twins["t"].kind == "talent" and not registry.twins["t"].deleted
    assert [(g.grant.consent_id, g.ended) for g in registry.grants_of("t")] == [("c1", ""), ("c2", "consent_expired")]
    registry.apply(twins_pb2.TwinDeleted(twin_id="t", twin_version=3, kind="talent"))
    assert registry.twins["t"].deleted
