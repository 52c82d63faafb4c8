"""The PIM aggregator on each vendor's documented payloads: mapping, grouping into looks,
ordering, duplicates, removals and rejections. Memory stores and fake images: no servers."""

from __future__ import annotations

import json
import tomllib

import pytest

from services.ingestion.pim.delivery import UndecodableDelivery
from services.ingestion.pim.mapping import MappingError, parse_mapping
from tests.pim_payloads import (
    MAPPING_FILE,
    SHOPIFY_PRODUCT_ID,
    akeneo_event,
    akeneo_product,
    akeneo_product_model,
    cloud_event,
    delivery,
    salsify_delivery,
    salsify_parent,
    salsify_variant,
    shopify_delivery,
    shopify_product,
)
from tests.unit.pim_fakes import FakeFetcher, Harness, retirements, upserts

FLAT = "https://assets.example.com/tee-navy-flat.png"


def tee(identifier: str, size: str, **kwargs: object) -> dict[str, object]:
    return akeneo_product(identifier, "NW-TEE-NAVY", size, FLAT, **kwargs)


def test_an_akeneo_event_becomes_a_look_with_every_field():
    harness = Harness()
    outputs = harness.feed(
        akeneo_event("product.updated", tee("NW-TEE-NAVY-M", "M"), "ev-1", "2026-05-01T10:00:00+00:00")
    )
    [event] = upserts(outputs)
    assert outputs[0].key == "NW-TEE-NAVY"
    assert (event.look_id, event.sku, event.brand, event.title) == (
        "NW-TEE-NAVY",
        "NW-TEE-NAVY",
        "Northwind",
        "Linen tee",
    )
    assert (event.garment.type, event.garment.sleeve_length, event.garment.fit) == ("t-shirt", "short", "regular")
    assert (event.colour_name, event.colour_estimated) == ("Navy", False)
    assert (event.colour.r, event.colour.g, event.colour.b) == (0x1F, 0x2A, 0x44)
    [variant] = event.variants
    assert (variant.sku, variant.size_label, variant.price, variant.currency, variant.barcode) == (
        "NW-TEE-NAVY-M",
        "M",
        "29.90",
        "EUR",
        "5012345678900",
    )
    [row] = event.size_chart
    assert (row.size_label, row.chest_girth.min_cm, row.chest_girth.max_cm, row.rank) == ("M", 86, 90, 2)
    assert [(i.role, i.source_url) for i in event.images] == [("flat_lay", FLAT)]
    assert event.flat_lay.key == event.images[0].object.key
    assert list(event.materials) == ["linen", "cotton"]
    assert list(event.channels) == ["ecommerce", "social"]  # b2b_portal is not mapped: left out
    assert list(event.markets) == ["GB", "FR"]
    assert list(event.campaign_tags) == ["summer-2026"]
    assert event.enabled and event.source == "akeneo"
    assert list(event.source_event_ids) == ["ev-1"]
    assert event.product_version == 1_777_629_600_000_000  # 2026-05-01T10:00:00Z in µs
    assert event.imagery_digest and event.revision


def test_akeneo_variants_of_one_parent_group_into_one_look_sorted_by_size():
    harness = Harness()
    for n, size in enumerate(["L", "S", "M"]):
        when = f"2026-05-01T10:00:0{n}+00:00"
        harness.feed(akeneo_event("product.created", tee(f"NW-TEE-NAVY-{size}", size), f"ev-{n}", when))
    last = harness.feed(akeneo_event("product.updated", tee("NW-TEE-NAVY-S", "S"), "ev-9", "2026-05-01T11:00:00+00:00"))
    assert last == []  # the same content again: no new event
    outputs = harness.feed(
        akeneo_event("product.updated", tee("NW-TEE-NAVY-S", "S", price="19.90"), "ev-10", "2026-05-01T12:00:00+00:00")
    )
    [event] = upserts(outputs)
    assert [v.size_label for v in event.variants] == ["S", "M", "L"]
    assert [r.size_label for r in event.size_chart] == ["S", "M", "L"]
    assert sorted(event.source_event_ids) == ["ev-0", "ev-10", "ev-2"]


def test_a_price_change_keeps_the_imagery_digest_and_a_colour_change_does_not():
    harness = Harness()
    [first] = upserts(harness.feed(akeneo_event("product.updated", tee("T-M", "M"), "a", "2026-05-01T10:00:00Z")))
    [priced] = upserts(
        harness.feed(akeneo_event("product.updated", tee("T-M", "M", price="9"), "b", "2026-05-01T11:00:00Z"))
    )
    [recoloured] = upserts(
        harness.feed(akeneo_event("product.updated", tee("T-M", "M", colour="red"), "c", "2026-05-01T12:00:00Z"))
    )
    assert priced.imagery_digest == first.imagery_digest and priced.revision != first.revision
    assert recoloured.imagery_digest != first.imagery_digest
    assert first.product_version < priced.product_version < recoloured.product_version


def test_an_older_update_after_a_newer_one_and_a_duplicate_produce_nothing():
    harness = Harness()
    newer = akeneo_event("product.updated", tee("T-M", "M", title="New title"), "ev-2", "2026-05-01T12:00:00Z")
    older = akeneo_event("product.updated", tee("T-M", "M", title="Old title"), "ev-1", "2026-05-01T10:00:00Z")
    [event] = upserts(harness.feed(newer))
    assert harness.feed(older) == []
    assert harness.feed(newer) == []  # the same event again, as another inbox record
    assert event.title == "New title"


def test_an_inbox_record_handled_again_after_an_abort_gives_the_same_events():
    harness = Harness()
    event = akeneo_event("product.updated", tee("T-M", "M"), "ev-1", "2026-05-01T10:00:00Z")
    first = harness.feed(event, offset=7)
    again = harness.feed(event, offset=7)
    assert [(o.key, o.identity, o.payload) for o in again] == [(o.key, o.identity, o.payload) for o in first]


def test_a_removal_retires_the_variant_then_the_look_and_a_late_update_is_stale():
    harness = Harness()
    for n, size in enumerate(["S", "M"]):
        harness.feed(akeneo_event("product.created", tee(f"T-{size}", size), f"c-{n}", f"2026-05-01T10:00:0{n}Z"))
    removed_s = harness.feed(akeneo_event("product.removed", {"identifier": "T-S"}, "r-1", "2026-05-02T10:00:00Z"))
    [retired] = retirements(removed_s)
    assert (retired.look_id, retired.variant_sku, retired.sku) == ("NW-TEE-NAVY", "T-S", "T-S")
    [remaining] = upserts(removed_s)
    assert [v.sku for v in remaining.variants] == ["T-M"]
    assert remaining.product_version > retired.product_version
    removed_m = harness.feed(akeneo_event("product.removed", {"identifier": "T-M"}, "r-2", "2026-05-02T11:00:00Z"))
    variant, look = retirements(removed_m)
    assert (variant.variant_sku, look.variant_sku, look.sku, look.look_id) == ("T-M", "", "NW-TEE-NAVY", "NW-TEE-NAVY")
    assert look.product_version > variant.product_version
    late = akeneo_event("product.updated", tee("T-M", "M"), "u-late", "2026-05-02T10:30:00Z")
    assert harness.feed(late) == []
    revived = harness.feed(akeneo_event("product.updated", tee("T-M", "M"), "u-new", "2026-05-03T10:00:00Z"))
    [back] = upserts(revived)
    assert back.product_version > look.product_version


def test_a_product_model_update_changes_the_look_for_every_variant():
    harness = Harness()
    harness.feed(akeneo_event("product.created", tee("T-M", "M"), "c-1", "2026-05-01T10:00:00Z"))
    model = akeneo_product_model("NW-TEE-NAVY", "NW-TEE", FLAT, "Linen tee, relaxed")
    [event] = upserts(harness.feed(akeneo_event("product_model.updated", model, "m-1", "2026-05-02T09:00:00Z")))
    assert event.title == "Linen tee, relaxed" and [v.sku for v in event.variants] == ["T-M"]
    root = akeneo_product_model("NW-TEE", None, FLAT, "Root")
    assert harness.feed(akeneo_event("product_model.updated", root, "m-2", "2026-05-02T10:00:00Z")) == []


def test_a_family_without_garment_type_is_a_rejection_with_the_exact_reason():
    harness = Harness()
    shoe = akeneo_product("NW-SHOE-42", "NW-SHOE-BLK", "42", FLAT, family="shoes")
    assert harness.feed(akeneo_event("product.created", shoe, "ev-shoe", "2026-05-01T10:00:00Z")) == []
    [rejected] = harness.rejected()
    assert rejected["reason"] == "family 'shoes' has no garment type in the mapping"
    assert (rejected["look_id"], rejected["sku"], rejected["source_event_id"]) == (
        "NW-SHOE-BLK",
        "NW-SHOE-42",
        "ev-shoe",
    )


def test_a_size_missing_from_the_chart_and_a_broken_image_are_rejections():
    harness = Harness()
    harness.feed(akeneo_event("product.created", tee("T-3XS", "3XS"), "ev-1", "2026-05-01T10:00:00Z"))
    harness.images.broken.add(FLAT)
    harness.feed(akeneo_event("product.created", tee("T-M", "M"), "ev-2", "2026-05-01T11:00:00Z"))
    image, size = harness.rejected()  # newest first: both share the received time, ordered by key
    reasons = {image["reason"], size["reason"]}
    assert "size '3XS' is not in size chart 'womens_tops'" in reasons
    assert f"image {FLAT}: HTTP 404" in reasons
    assert {image["url"], size["url"]} == {FLAT, ""}


def test_an_unmapped_colour_is_estimated_from_the_flat_lay():
    harness = Harness()
    [event] = upserts(
        harness.feed(akeneo_event("product.created", tee("T-M", "M", colour="teal"), "e", "2026-05-01T10:00:00Z"))
    )
    assert event.colour_estimated
    assert (event.colour.r, event.colour.g, event.colour.b) == (20, 40, 80)
    assert event.colour_name == "Navy"  # the nearest colour the mapping names


def test_the_event_platform_resolves_thin_events_through_the_rest_api():
    product = tee("T-M", "M", updated="2026-05-01T10:00:00+00:00")
    fetcher = FakeFetcher({str(product["uuid"]): product})
    harness = Harness(fetcher=fetcher)
    [event] = upserts(
        harness.feed(cloud_event("product.updated", str(product["uuid"]), "ce-1", "2026-05-01T10:00:01Z"))
    )
    assert event.look_id == "NW-TEE-NAVY" and event.product_version == 1_777_629_600_000_000
    assert list(event.source_event_ids) == ["ce-1"]
    del fetcher.products[str(product["uuid"])]
    outputs = harness.feed(cloud_event("product.deleted", str(product["uuid"]), "ce-2", "2026-05-02T10:00:00Z"))
    assert [r.variant_sku for r in retirements(outputs)] == ["T-M", ""]


def test_the_event_platform_without_a_rest_client_is_a_rejection():
    harness = Harness()
    harness.feed(cloud_event("product.updated", "0b3c", "ce-1", "2026-05-01T10:00:01Z"))
    [rejected] = harness.rejected()
    assert "TWINWEAR_AKENEO_API_URL" in str(rejected["reason"])


def test_a_salsify_delivery_groups_variants_under_their_parent():
    harness = Harness()
    flat = "https://images.salsify.com/wrap-dress-flat.png"
    products = [
        salsify_variant("NW-DRS-RED-S", "NW-DRS-RED", "S", "2026-05-01T10:00:00.000Z"),
        salsify_variant("NW-DRS-RED-M", "NW-DRS-RED", "M", "2026-05-01T10:00:00.000Z"),
    ]
    [event] = upserts(harness.feed(salsify_delivery("req-1", "change", products, [salsify_parent("NW-DRS-RED", flat)])))
    assert (event.look_id, event.title, event.brand, event.garment.type, event.colour_name) == (
        "NW-DRS-RED",
        "Wrap dress",
        "Northwind",
        "dress",
        "Red",
    )
    assert [i.source_url for i in event.images] == [flat]
    small, _ = event.size_chart
    # The variants' own measures win over the chart's; the chart gives the rest.
    assert (small.chest_girth.min_cm, small.chest_girth.max_cm, small.waist_girth.min_cm) == (82, 86, 64)
    assert list(event.materials) == ["Viscose", "Elastane"] and list(event.markets) == ["GB", "US"]
    assert sorted(event.source_event_ids) == ["req-1:NW-DRS-RED-M", "req-1:NW-DRS-RED-S"]


def test_a_salsify_deletion_retires_but_leaving_the_list_only_disables():
    harness = Harness()
    parent = salsify_parent("NW-DRS-RED", "https://images.salsify.com/flat.png")
    small = salsify_variant("NW-DRS-RED-S", "NW-DRS-RED", "S", "2026-05-01T10:00:00.000Z")
    medium = salsify_variant("NW-DRS-RED-M", "NW-DRS-RED", "M", "2026-05-01T10:00:00.000Z")
    harness.feed(salsify_delivery("req-1", "add", [small, medium], [parent]))
    left = salsify_variant("NW-DRS-RED-S", "NW-DRS-RED", "S", "2026-05-02T10:00:00.000Z")
    outputs = harness.feed(salsify_delivery("req-2", "remove", [left], [parent]))
    [event] = upserts(outputs)
    assert not retirements(outputs)
    assert {v.sku: v.enabled for v in event.variants} == {"NW-DRS-RED-S": False, "NW-DRS-RED-M": True}
    destroyed = salsify_variant(
        "NW-DRS-RED-M",
        "NW-DRS-RED",
        "M",
        "2026-05-03T10:00:00.000Z",
        **{"salsify:destroyed_at": "2026-05-03T10:00:00Z"},
    )
    outputs = harness.feed(salsify_delivery("req-3", "remove", [destroyed], [parent]))
    assert [r.variant_sku for r in retirements(outputs)] == ["NW-DRS-RED-M"]
    [after] = upserts(outputs)
    assert [v.sku for v in after.variants] == ["NW-DRS-RED-S"] and not after.enabled


def test_a_shopify_update_with_five_variants_splits_into_looks_by_colour():
    harness = Harness()
    urls = {"Navy": "https://cdn.shopify.com/navy.png", "Red": "https://cdn.shopify.com/red.png"}
    variants = [("Navy", "S", 3), ("Navy", "M", 5), ("Navy", "L", 0), ("Red", "S", 2), ("Red", "M", 1)]
    product = shopify_product(variants, urls, "2026-05-01T10:00:00-04:00")
    outputs = harness.feed(shopify_delivery("products/update", product, "wh-1"))
    navy, red = upserts(outputs)
    assert [o.key for o in outputs] == [f"shopify-{SHOPIFY_PRODUCT_ID}-Navy", f"shopify-{SHOPIFY_PRODUCT_ID}-Red"]
    assert [v.size_label for v in navy.variants] == ["S", "M", "L"] and [v.size_label for v in red.variants] == [
        "S",
        "M",
    ]
    assert navy.variants[0].source_id == "9007199254740994"  # 2^53 + 2: exact, never through a float
    assert [v.stock for v in navy.variants] == [3, 5, 0]
    assert [i.source_url for i in navy.images] == [urls["Navy"]] and [i.source_url for i in red.images] == [urls["Red"]]
    assert (red.colour_name, red.garment.type, red.brand) == ("Red", "shirt", "Northwind")
    assert list(navy.campaign_tags) == ["summer-2026", "linen"]
    # Red M sold out and removed from the product: its variant retires, the look stays.
    fewer = shopify_product(variants[:4], urls, "2026-05-02T10:00:00-04:00")
    outputs = harness.feed(shopify_delivery("products/update", fewer, "wh-2"))
    assert [r.variant_sku for r in retirements(outputs)] == ["NW-SH-RED-M"]
    assert [e.look_id for e in upserts(outputs)] == [f"shopify-{SHOPIFY_PRODUCT_ID}-Red"]
    deleted = harness.feed(
        shopify_delivery(
            "products/delete", {"id": SHOPIFY_PRODUCT_ID}, "wh-3", **{"X-Shopify-Triggered-At": "2026-05-03T10:00:00Z"}
        )
    )
    looks = [r.look_id for r in retirements(deleted) if not r.variant_sku]
    assert sorted(looks) == [f"shopify-{SHOPIFY_PRODUCT_ID}-Navy", f"shopify-{SHOPIFY_PRODUCT_ID}-Red"]


def test_a_body_that_is_not_json_is_undecodable_and_an_unknown_source_too():
    harness = Harness()
    with pytest.raises(UndecodableDelivery):
        harness.feed(delivery("shopify", "x", b"{not json", "products/update"))
    with pytest.raises(UndecodableDelivery):
        harness.feed(delivery("bigcommerce", "x", b"{}"))


def test_php_escaped_akeneo_json_is_read():
    event = akeneo_event("product.updated", tee("T-M", "M", title="Caf\u00e9 tee"), "e", "2026-05-01T10:00:00Z")
    assert b"\\/" in event.body and b"\\u00e9" in event.body
    [upserted] = upserts(Harness().feed(event))
    assert upserted.title == "Caf\u00e9 tee" and upserted.images[0].source_url == FLAT


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"akeneo": {"sku": "identifier"}}, "[akeneo] needs look_key"),
        ({"colours": {"navy": {"hex": "navy"}}, "shopify": {}}, "colours.navy.hex"),
        ({"size_charts": {"tops": {"M": {"bust": [1, 2]}}}, "shopify": {}}, "size_charts.tops.M"),
        ({"defaults": {"channels": ["tv"]}, "shopify": {}}, "defaults.channels"),
        ({}, "no PIM section"),
    ],
)
def test_a_wrong_mapping_file_names_the_key(document, message):
    with pytest.raises(MappingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_mapping(json.loads(json.dumps(document)))


def test_the_readme_examples_are_a_valid_mapping_with_the_example_charts_and_colours():
    readme = (MAPPING_FILE.parents[3] / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    example = tomllib.loads(MAPPING_FILE.read_text())
    mapping = parse_mapping(
        {**tomllib.loads(block), "colours": example["colours"], "size_charts": example["size_charts"]}
    )
    assert sorted(mapping.sources) == ["akeneo", "salsify", "shopify"]
    assert mapping.sources["shopify"].look_key == ("id", "option.Color")


def test_a_market_that_is_not_a_country_code_is_a_rejection():
    harness = Harness()
    parent = {**salsify_parent("NW-DRS-RED", "https://images.salsify.com/flat.png"), "Markets": ["Great Britain"]}
    small = salsify_variant("NW-DRS-RED-S", "NW-DRS-RED", "S", "2026-05-01T10:00:00.000Z")
    assert harness.feed(salsify_delivery("req-1", "add", [small], [parent])) == []
    [rejected] = harness.rejected()
    assert rejected["reason"].startswith("market 'Great Britain' is not an ISO 3166-1 alpha-2 code")


def test_a_backfill_loads_product_models_and_products_through_the_rest_format():
    harness = Harness()
    model = akeneo_product_model("NW-TEE-NAVY", "NW-TEE", FLAT, "Linen tee, relaxed")
    product = tee("T-M", "M", updated="2026-05-01T10:00:00+00:00")
    assert (
        harness.feed(
            delivery(
                "akeneo-rest",
                "product_model:NW-TEE-NAVY",
                json.dumps(model).encode(),
                **{"akeneo-resource": "product_model"},
            )
        )
        == []
    )
    [event] = upserts(
        harness.feed(
            delivery("akeneo-rest", "product:T-M", json.dumps(product).encode(), **{"akeneo-resource": "product"})
        )
    )
    # The model (updated later than the product) gives the look's title.
    assert (event.look_id, event.title, [v.sku for v in event.variants]) == (
        "NW-TEE-NAVY",
        "Linen tee, relaxed",
        ["T-M"],
    )


def test_a_look_changed_by_another_replica_meanwhile_is_folded_again():
    harness = Harness()
    other = Harness(store=harness.store)  # a second replica on the same state bucket
    real_put_if = harness.store.put_if
    raced: list[bool] = []

    def put_after_another_replica(*args, **kwargs):
        if not raced:
            raced.append(True)
            other.feed(akeneo_event("product.created", tee("T-S", "S"), "other", "2026-05-01T10:00:00Z"), offset=900)
        return real_put_if(*args, **kwargs)

    harness.store.put_if = put_after_another_replica
    outputs = harness.feed(akeneo_event("product.created", tee("T-M", "M"), "mine", "2026-05-01T10:00:01Z"))
    [event] = upserts(outputs)
    assert raced and [v.sku for v in event.variants] == ["T-S", "T-M"]


def test_garment_type_from_categories_and_length_from_an_attribute():
    document = tomllib.loads(MAPPING_FILE.read_text())
    document["akeneo"]["garment_type"] = {"attribute": "categories", "map": {"dresses_midi": "dress"}}
    document["akeneo"]["length"] = {"attribute": "dress_length", "map": {"midi": "midi"}}
    harness = Harness(parse_mapping(document))
    product = tee("D-M", "M")
    product["categories"] = ["summer_2026", "dresses_midi"]
    product["values"]["dress_length"] = [{"locale": None, "scope": None, "data": "midi"}]
    [event] = upserts(harness.feed(akeneo_event("product.created", product, "e", "2026-05-01T10:00:00Z")))
    assert (event.garment.type, event.garment.length) == ("dress", "midi")
    product["categories"] = ["summer_2026", "bags"]
    harness.feed(akeneo_event("product.created", {**product, "identifier": "B-M"}, "f", "2026-05-01T10:00:00Z"))
    [rejected] = harness.rejected()
    assert rejected["reason"] == "categories 'summer_2026', 'bags': none has a garment type in the mapping"


def test_a_removal_before_anything_of_its_variant_makes_the_older_creation_stale():
    harness = Harness()
    removal = akeneo_event("product.removed", {"identifier": "T-M"}, "r", "2026-05-02T10:00:00Z")
    assert harness.feed(removal) == []
    assert harness.feed(akeneo_event("product.created", tee("T-M", "M"), "c", "2026-05-01T10:00:00Z")) == []
    [revived] = upserts(harness.feed(akeneo_event("product.created", tee("T-M", "M"), "n", "2026-05-03T10:00:00Z")))
    assert [v.sku for v in revived.variants] == ["T-M"]
