"""Salsify product-change webhooks. The envelope holds ``alert.trigger_type`` (add, change,
remove), ``products[]`` in the product CRUD API's JSON format (properties keyed by display name,
``salsify:*`` system fields) and ``parent_products[]``. A removed product with
``salsify:destroyed_at`` was deleted: its variant is retired. One without it only left the
webhook's list: it stays, disabled."""

from __future__ import annotations

import dataclasses

from services.ingestion.pim.canonical import Change, Observation, Unmappable
from services.ingestion.pim.delivery import (
    IndexLookup,
    Mapped,
    UndecodableDelivery,
    check_object,
    decode_json,
    rejection,
    version_at,
)
from services.ingestion.pim.mapping import Mapping
from twinwear.v1 import events_pb2

_ID = "salsify:id"
_PARENT_ID = "salsify:parent_id"
_ASSETS = "salsify:digital_assets"


class SalsifyView:
    """A Salsify product as property -> value; a property missing on the variant is read from its
    parent product, and a digital asset id gives the asset's URL."""

    def __init__(self, product: dict[str, object], parent: dict[str, object] | None) -> None:
        self._layers = [product] + ([parent] if parent else [])
        self._assets = {
            str(asset.get(_ID)): str(asset.get("salsify:url") or "")
            for layer in self._layers
            for asset in (layer.get(_ASSETS) or [])
            if isinstance(asset, dict)
        }

    def get(self, attribute: str) -> object:
        value = next((layer[attribute] for layer in self._layers if layer.get(attribute) not in (None, "", [])), None)
        if isinstance(value, list):
            return [self._assets.get(str(v), v) for v in value]
        return self._assets.get(str(value), value) if value is not None else None


def map_salsify(delivery: events_pb2.PimDelivery, mapping: Mapping, index: IndexLookup) -> Mapped:
    """A webhook delivery (or one product of it, split by the endpoint)."""
    document = check_object(decode_json(delivery.body, delivery.source), delivery.source)
    alert = document.get("alert")
    trigger = alert.get("trigger_type") if isinstance(alert, dict) else delivery.event_type
    products = document.get("products") if "products" in document else [document]
    parents = document.get("parent_products") or []
    if not isinstance(products, list) or not isinstance(parents, list):
        raise UndecodableDelivery("salsify delivery: products and parent_products must be lists")
    parent_by_id = {str(p.get(_ID)): p for p in parents if isinstance(p, dict)}
    mapped = Mapped()
    for product in products:
        product = check_object(product, delivery.source)
        if not product.get(_ID):
            raise UndecodableDelivery("salsify product has no salsify:id")
        # The endpoint may split a delivery into one record per product; the id then is already its own.
        event_id = delivery.event_id if len(products) == 1 else f"{delivery.event_id}:{product[_ID]}"
        parent = parent_by_id.get(str(product.get(_PARENT_ID)))
        mapped.extend(_product(product, parent, str(trigger), event_id, delivery, mapping))
    return mapped


def _product(
    product: dict[str, object],
    parent: dict[str, object] | None,
    trigger: str,
    event_id: str,
    delivery: events_pb2.PimDelivery,
    mapping: Mapping,
) -> Mapped:
    sku = str(product[_ID])
    section = mapping.for_source(delivery.source)
    view = SalsifyView(product, parent)
    destroyed = product.get("salsify:destroyed_at")
    try:
        if trigger == "remove" and destroyed:
            version = version_at(destroyed, "salsify:destroyed_at", delivery)
            look_id = mapping.look_id(view, section)
            return Mapped([Observation(look_id, Change.REMOVE, version, event_id, delivery.source, sku)])
        version = version_at(product.get("salsify:updated_at"), "salsify:updated_at", delivery)
        look_id, variant, look = mapping.map_variant(view, section)
    except Unmappable as error:
        return Mapped(rejections=[rejection(delivery, error, sku, event_id)])
    if trigger == "remove":  # left the webhook's list, still in Salsify
        variant = dataclasses.replace(variant, enabled=False)
    return Mapped([Observation(look_id, Change.UPSERT, version, event_id, delivery.source, variant.sku, variant, look)])
