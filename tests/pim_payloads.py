"""PIM payloads written from the vendors' documentation, as PimDelivery records: Akeneo Events
API events (api.akeneo.com events reference: action, event_id, event_datetime, author,
author_type, pim_source, data.resource as the REST product or product model), Akeneo Event
Platform CloudEvents (api.akeneo.com/event-platform/available-events: specversion, id, type,
source, subject, time, data.product.uuid), Salsify product-change webhooks (alert.trigger_type,
products[] in the product CRUD API format, parent_products[], salsify:digital_assets,
salsify:destroyed_at) and Shopify products/* webhooks (the REST product resource; ids above 2^53)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from twinwear.v1 import events_pb2

MAPPING_FILE = Path(__file__).resolve().parents[1] / "services/ingestion/pim/mapping.example.toml"
RECEIVED_AT_US = 1_780_000_000_000_000


def php_json(document: object) -> bytes:
    """JSON as PHP's json_encode writes it (Akeneo): '/' escaped, non-ASCII as \\uXXXX."""
    return json.dumps(document, separators=(",", ":")).replace("/", "\\/").encode()


def delivery(source: str, event_id: str, body: bytes, event_type: str = "", **headers: str) -> events_pb2.PimDelivery:
    return events_pb2.PimDelivery(
        source=source,
        event_id=event_id,
        body=body,
        headers=headers,
        received_at_us=RECEIVED_AT_US,
        event_type=event_type,
    )


def _value(data: object, locale: str | None = None, scope: str | None = None) -> list[dict[str, object]]:
    return [{"locale": locale, "scope": scope, "data": data}]


def akeneo_product(
    identifier: str,
    parent: str,
    size: str,
    flat_lay_url: str,
    *,
    colour: str = "navy",
    family: str = "tshirts",
    title: str = "Linen tee",
    price: str = "29.90",
    updated: str = "2026-05-01T10:00:00+00:00",
) -> dict[str, object]:
    """A variant product as the REST API (and the Events API's data.resource) gives it: values
    by attribute code, each a list of {locale, scope, data}, inherited values included."""
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, identifier)),
        "identifier": identifier,
        "enabled": True,
        "family": family,
        "categories": ["tshirts", "summer_2026"],
        "groups": [],
        "parent": parent,
        "values": {
            "name": [
                {"locale": "en_GB", "scope": None, "data": title},
                {"locale": "fr_FR", "scope": None, "data": "T-shirt en lin"},
            ],
            "brand": _value("Northwind"),
            "color": _value(colour),
            "size": _value(size),
            "size_chart": _value("tops_w"),
            "sleeve_length": _value("short_sleeve"),
            "fit": _value("regular_fit"),
            "material": _value(["linen", "cotton"]),
            "image_flat_lay": [
                {
                    "locale": None,
                    "scope": None,
                    "data": "8/e/2/a/8e2a_tee_flat.png",
                    "_links": {"download": {"href": flat_lay_url}},
                }
            ],
            "price": _value([{"amount": price, "currency": "EUR"}, {"amount": "34.00", "currency": "USD"}]),
            "publish_to": _value(["ecommerce", "instagram", "b2b_portal"], scope="ecommerce"),
            "markets": _value(["uk", "france"]),
            "campaign": _value(["summer-2026"]),
            "ean": _value("5012345678900"),
        },
        "created": "2026-04-01T09:00:00+00:00",
        "updated": updated,
        "associations": {"PACK": {"products": [], "product_models": [], "groups": []}},
        "quantified_associations": {},
    }


def akeneo_event(action: str, resource: dict[str, object], event_id: str, when: str) -> events_pb2.PimDelivery:
    event = {
        "action": action,
        "event_id": event_id,
        "event_datetime": when,
        "author": "julia",
        "author_type": "ui",
        "pim_source": "https://northwind.cloud.akeneo.com",
        "data": {"resource": resource},
    }
    return delivery("akeneo", event_id, php_json(event), action)


def akeneo_product_model(code: str, parent: str | None, flat_lay_url: str, title: str) -> dict[str, object]:
    return {
        "code": code,
        "family": "tshirts",
        "family_variant": "tshirts_color_size",
        "parent": parent,
        "categories": ["tshirts"],
        "values": {
            "name": _value(title, locale="en_GB"),
            "color": _value("navy"),
            "image_flat_lay": [
                {"locale": None, "scope": None, "data": "a/b/flat.png", "_links": {"download": {"href": flat_lay_url}}}
            ],
        },
        "created": "2026-04-01T09:00:00+00:00",
        "updated": "2026-05-02T09:00:00+00:00",
    }


def cloud_event(kind: str, product_uuid: str, event_id: str, when: str) -> events_pb2.PimDelivery:
    event = {
        "specversion": "1.0",
        "id": event_id,
        "type": f"com.akeneo.pim.v1.{kind}",
        "source": "pim",
        "subject": "019256aa-7f77-7f58-bc8c-770f7e369c5b",
        "time": when,
        "datacontenttype": "application/json",
        "dataschema": f"https://event.prd.sdk.akeneo.cloud/spec/com.akeneo.pim.v1.{kind}.schema.json",
        "data": {
            "product": {"uuid": product_uuid},
            "author": {"identifier": "b238e9f7-fcec-45bd-9431-d43cd624b244", "type": "user"},
        },
    }
    return delivery("akeneo-event-platform", event_id, json.dumps(event).encode(), event["type"])


def salsify_variant(sku: str, parent: str, size: str, updated: str, **properties: object) -> dict[str, object]:
    return {
        "salsify:id": sku,
        "salsify:parent_id": parent,
        "salsify:created_at": "2026-04-01T09:00:00.000Z",
        "salsify:updated_at": updated,
        "salsify:system_id": f"s-{uuid.uuid5(uuid.NAMESPACE_URL, sku)}",
        "Size": size,
        "Color": "Red",
        "Price": "89.00",
        "GTIN": "00012345678905",
        "Bust (cm)": {"S": "82-86", "M": "86-90"}.get(size, "90-94"),
        **properties,
    }


def salsify_parent(parent: str, flat_lay_url: str, product_type: str = "Dresses") -> dict[str, object]:
    asset_id = f"{parent}-flat"
    return {
        "salsify:id": parent,
        "salsify:created_at": "2026-04-01T09:00:00.000Z",
        "salsify:updated_at": "2026-04-01T09:00:00.000Z",
        "Product Name": "Wrap dress",
        "Brand": "Northwind",
        "Product Type": product_type,
        "Material": ["Viscose", "Elastane"],
        "Markets": ["GB", "US"],
        "Flat Lay Image": asset_id,
        "salsify:digital_assets": [
            {
                "salsify:id": asset_id,
                "salsify:url": flat_lay_url,
                "salsify:name": "wrap-dress-flat.png",
                "salsify:format": "png",
                "salsify:status": "completed",
            }
        ],
    }


def salsify_delivery(
    request_id: str, trigger: str, products: list[dict[str, object]], parents: list[dict[str, object]]
) -> events_pb2.PimDelivery:
    body = {
        "organization_id": "s-8a1c2f0e-0000-4000-8000-000000000001",
        "alert": {"id": 4521, "name": "twinwear looks", "trigger_type": trigger},
        "products": products,
        "parent_products": parents,
    }
    return delivery("salsify", request_id, json.dumps(body).encode(), trigger)


SHOPIFY_PRODUCT_ID = 788032119674292922  # above 2^53: a float would change it


def shopify_product(
    variants: list[tuple[str, str, int]], image_urls: dict[str, str], updated_at: str, title: str = "Linen shirt"
) -> dict[str, object]:
    """A products/update payload: ``variants`` are (colour, size, stock); ``image_urls`` the flat lay per colour."""
    base_variant_id = 9_007_199_254_740_993  # 2^53 + 1
    listed = []
    for position, (colour, size, stock) in enumerate(variants, start=1):
        listed.append(
            {
                "id": base_variant_id + position,
                "product_id": SHOPIFY_PRODUCT_ID,
                "title": f"{colour} / {size}",
                "price": "45.00",
                "sku": f"NW-SH-{colour[:3].upper()}-{size}",
                "position": position,
                "inventory_policy": "deny",
                "compare_at_price": None,
                "option1": colour,
                "option2": size,
                "option3": None,
                "created_at": "2026-04-01T09:00:00-04:00",
                "updated_at": updated_at,
                "taxable": True,
                "barcode": f"0001234567{position:03d}",
                "grams": 200,
                "weight": 0.2,
                "weight_unit": "kg",
                "inventory_item_id": 808950810 + position,
                "inventory_quantity": stock,
                "old_inventory_quantity": stock,
                "requires_shipping": True,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{base_variant_id + position}",
            }
        )
    colours = list(dict.fromkeys(c for c, _, _ in variants))
    images = [
        {
            "id": 850703190 + position,
            "product_id": SHOPIFY_PRODUCT_ID,
            "position": position,
            "alt": f"{colour} flat lay",
            "width": 64,
            "height": 64,
            "src": image_urls[colour],
            "variant_ids": [v["id"] for v in listed if v["option1"] == colour],
        }
        for position, colour in enumerate(colours, start=1)
    ]
    return {
        "id": SHOPIFY_PRODUCT_ID,
        "title": title,
        "body_html": "<p>Loose linen shirt</p>",
        "vendor": "Northwind",
        "product_type": "Shirt",
        "created_at": "2026-04-01T09:00:00-04:00",
        "handle": "linen-shirt",
        "updated_at": updated_at,
        "published_at": "2026-04-01T09:00:00-04:00",
        "template_suffix": None,
        "published_scope": "web",
        "tags": "summer-2026, linen",
        "status": "active",
        "admin_graphql_api_id": f"gid://shopify/Product/{SHOPIFY_PRODUCT_ID}",
        "variants": listed,
        "options": [
            {"id": 594680422, "product_id": SHOPIFY_PRODUCT_ID, "name": "Color", "position": 1, "values": colours},
            {
                "id": 594680423,
                "product_id": SHOPIFY_PRODUCT_ID,
                "name": "Size",
                "position": 2,
                "values": ["S", "M", "L"],
            },
        ],
        "images": images,
        "image": images[0] if images else None,
    }


def shopify_delivery(topic: str, product: dict[str, object], event_id: str, **headers: str) -> events_pb2.PimDelivery:
    return delivery("shopify", event_id, json.dumps(product).encode(), topic, **{"X-Shopify-Topic": topic, **headers})
