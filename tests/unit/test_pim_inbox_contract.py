"""The contract between the webhook endpoints and the aggregator: the inbox records the endpoints
make from each vendor's signed delivery (devkit.pim_webhooks) become looks, with a mapping
written for those payloads."""

from __future__ import annotations

from devkit.pim_webhooks import (
    SHOPIFY_PRODUCT_ID,
    Delivery,
    SalsifySigner,
    akeneo_delivery,
    akeneo_product_event,
    cloud_event,
    event_platform_delivery,
    salsify_delivery,
    salsify_product,
    shopify_delivery,
    shopify_product,
)
from services.ingestion.pim.mapping import parse_mapping
from services.ingestion.webhooks.akeneo import AkeneoEventsApi
from services.ingestion.webhooks.akeneo_event_platform import AkeneoEventPlatform
from services.ingestion.webhooks.salsify import SalsifyWebhooks, load_public_key
from services.ingestion.webhooks.shopify import ShopifyWebhooks
from tests.unit.pim_fakes import FakeFetcher, Harness, retirements, upserts

SECRET = "s3cret"
NOW = 1_795_000_000
SALSIFY_URL = "https://twinwear.example.com/v1/webhooks/salsify"
CHART = {size: {"chest_girth": [80 + 4 * n, 84 + 4 * n]} for n, size in enumerate(["XS", "S", "M", "L", "XL"])}
MAPPING = parse_mapping(
    {
        "size_charts": {"tees": CHART},
        "colours": {"Red": {"name": "Red", "hex": "#c0392b"}},
        "akeneo": {
            "look_key": "parent",
            "sku": "identifier",
            "locale": "fr_FR",
            "title": "name",
            "garment_type": {"attribute": "family", "map": {"tshirts": "t-shirt"}},
            "size": {"attribute": "size", "map": {"xs": "XS", "s": "S", "m": "M", "l": "L", "xl": "XL"}},
            "size_chart": {"value": "tees"},
            "images": {"flat_lay": "image"},
        },
        "salsify": {
            "look_key": "salsify:parent_id",
            "sku": "salsify:id",
            "title": "Product Name",
            "brand": "Brand",
            "garment_type": {"value": "t-shirt"},
            "colour": "Color",
            "size": "Size",
            "size_chart": {"value": "tees"},
            "images": {"flat_lay": "Flat Lay"},
        },
        "shopify": {
            "look_key": ["id", "option.Color"],
            "sku": "variant.sku",
            "source_id": "variant.id",
            "title": "title",
            "brand": "vendor",
            "garment_type": {"attribute": "product_type", "map": {"T-Shirt": "t-shirt"}},
            "colour": "option.Color",
            "size": "option.Size",
            "size_chart": {"value": "tees"},
            "images": {"flat_lay": "image.1"},
        },
    }
)


def inbox_records(source, delivery: Delivery):  # type: ignore[no-untyped-def]
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    source.verify(headers, delivery.body, NOW)
    return source.split(headers, delivery.body, NOW * 1_000_000)


def test_an_akeneo_batch_from_the_endpoint_becomes_one_look_and_a_removal_retires_it():
    events = []
    for n, size in enumerate(["s", "m", "l"]):
        event = akeneo_product_event(identifier=f"tee-{size}", event_datetime=f"2026-11-25T09:1{n}:00+00:00")
        event["data"]["resource"]["values"]["size"][0]["data"] = size
        events.append(event)
    harness = Harness(MAPPING)
    records = inbox_records(AkeneoEventsApi(SECRET), akeneo_delivery(events, SECRET, NOW))
    outputs = [output for record in records for output in harness.feed(record)]
    last = upserts(outputs)[-1]
    assert (last.look_id, [v.size_label for v in last.variants]) == ("tshirt-cotele-rouge", ["S", "M", "L"])
    assert last.title == "T-shirt côtelé à manches courtes"
    assert last.images[0].source_url.startswith("https://demo.akeneo.com/api/rest/v1/media-files/")
    removal = akeneo_product_event("product.removed", identifier="tee-m", event_datetime="2026-11-25T10:00:00+00:00")
    [record] = inbox_records(AkeneoEventsApi(SECRET), akeneo_delivery([removal], SECRET, NOW))
    assert [r.variant_sku for r in retirements(harness.feed(record))] == ["tee-m"]


def test_an_event_platform_event_from_the_endpoint_is_resolved_through_the_fetcher():
    product = akeneo_product_event(identifier="tee-m", event_datetime="2026-11-25T09:13:59+00:00")["data"]["resource"]
    harness = Harness(MAPPING, fetcher=FakeFetcher({product["uuid"]: product}))
    delivery = event_platform_delivery(cloud_event(product_uuid=product["uuid"]), SECRET)
    [record] = inbox_records(AkeneoEventPlatform(SECRET), delivery)
    [event] = upserts(harness.feed(record))
    assert [v.sku for v in event.variants] == ["tee-m"]


def test_a_salsify_delivery_from_the_endpoint_is_split_per_product_and_grouped_again():
    signer = SalsifySigner.generate()
    products = [salsify_product(f"TEE-RIB-RED-{size}") for size in ("S", "M")]
    for product in products:
        product["Flat Lay"] = product["salsify:digital_assets"][0]["salsify:id"]
    delivery = salsify_delivery(products, signer, SALSIFY_URL, NOW)
    harness = Harness(MAPPING)
    webhooks = SalsifyWebhooks(load_public_key(signer.certificate_pem), SALSIFY_URL)
    outputs = [o for r in inbox_records(webhooks, delivery) for o in harness.feed(r)]
    last = upserts(outputs)[-1]
    assert (last.look_id, last.brand, last.colour_name) == ("TEE-RIB-RED", "Wildflower", "Red")
    assert [v.sku for v in last.variants] == ["TEE-RIB-RED-S", "TEE-RIB-RED-M"]
    assert last.images[0].source_url.endswith("tee-rib-red-flat.jpg")


def test_a_shopify_update_from_the_endpoint_keeps_ids_past_2_53_exact():
    [record] = inbox_records(ShopifyWebhooks(SECRET), shopify_delivery(shopify_product(), SECRET))
    [event] = upserts(Harness(MAPPING).feed(record))
    assert event.look_id == f"{SHOPIFY_PRODUCT_ID}-Red"
    assert [v.size_label for v in event.variants] == ["XS", "S", "M", "L", "XL"]
    assert event.variants[0].source_id == "642667041472713922"
