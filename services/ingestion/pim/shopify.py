"""Shopify products/create, products/update and products/delete. One product holds every colour
and size; the mapping's look key (product id + the colour option's value) splits its variants
into looks. An update is a snapshot of every variant: a variant missing from it was removed.
Ids pass 2^53, so they are read as integers and kept as strings."""

from __future__ import annotations

from services.ingestion.pim.canonical import Change, Observation, Unmappable
from services.ingestion.pim.delivery import (
    IndexLookup,
    Mapped,
    UndecodableDelivery,
    check_object,
    decode_json,
    header,
    rejection,
    version_at,
)
from services.ingestion.pim.mapping import Mapping
from twinwear.v1 import events_pb2


class ShopifyView:
    """One variant of a product: the product's fields by name, ``variant.<field>``,
    ``option.<name>`` (the variant's value of that option), ``image.<n>`` (the n-th image, by
    position, of those linked to this variant or to none), and ``tags`` as a list."""

    def __init__(self, product: dict[str, object], variant: dict[str, object]) -> None:
        self._product = product
        self._variant = variant

    def get(self, attribute: str) -> object:
        prefix, _, name = attribute.partition(".")
        if prefix == "variant" and name:
            return self._variant.get(name)
        if prefix == "option" and name:
            options = self._product.get("options") or []
            position = next((o.get("position") for o in options if isinstance(o, dict) and o.get("name") == name), None)
            return self._variant.get(f"option{position}") if position else None
        if prefix == "image" and name.isdigit():
            images = self._images()
            return images[int(name) - 1] if 0 < int(name) <= len(images) else None
        if attribute == "tags":
            tags = self._product.get("tags")
            return [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else tags
        return self._product.get(attribute)

    def _images(self) -> list[str]:
        images = [i for i in self._product.get("images") or [] if isinstance(i, dict)]
        mine = [i for i in images if not i.get("variant_ids") or self._variant.get("id") in i["variant_ids"]]
        return [str(i.get("src")) for i in sorted(mine, key=lambda i: int(i.get("position") or 0)) if i.get("src")]


def _index_key(product_id: object) -> str:
    return f"shopify/product/{product_id}"


def map_shopify(delivery: events_pb2.PimDelivery, mapping: Mapping, index: IndexLookup) -> Mapped:
    """A product snapshot (create, update) or its deletion. The index keeps every variant the
    product ever had, and the product's newest snapshot: a snapshot older than that has nothing
    new to say, and a removal is found again when a record is handled again."""
    product = check_object(decode_json(delivery.body, delivery.source), delivery.source)
    product_id = product.get("id")
    if isinstance(product_id, bool) or not isinstance(product_id, int | str) or not str(product_id):
        raise UndecodableDelivery("shopify product has no id")
    deletion = (header(delivery, "X-Shopify-Topic") or delivery.event_type) == "products/delete"
    try:
        if deletion:
            version = version_at(header(delivery, "X-Shopify-Triggered-At"), "X-Shopify-Triggered-At", delivery)
        else:
            version = version_at(product.get("updated_at"), "updated_at", delivery)
    except Unmappable as error:
        return Mapped(rejections=[rejection(delivery, error)])
    known = index(_index_key(product_id)) or {}
    variants = known.get("variants")
    known_variants: dict[str, str] = dict(variants) if isinstance(variants, dict) else {}
    newest = known.get("newest")
    if isinstance(newest, list) and (int(newest[0]), str(newest[1])) > (version, delivery.event_id):
        return Mapped()  # an older snapshot than one already applied
    mapped = Mapped() if deletion else _snapshot(product, version, delivery, mapping)
    listed = set() if deletion else {str(v.get("sku")) for v in product.get("variants") or [] if isinstance(v, dict)}
    for sku, look_id in sorted(known_variants.items()):
        if sku not in listed:
            mapped.observations.append(
                Observation(look_id, Change.REMOVE, version, delivery.event_id, delivery.source, sku)
            )
    present = {o.sku: o.look_id for o in mapped.observations if o.change is Change.UPSERT}
    document = {"variants": {**known_variants, **present}, "newest": [version, delivery.event_id]}
    mapped.index[_index_key(product_id)] = document
    return mapped


def _snapshot(product: dict[str, object], version: int, delivery: events_pb2.PimDelivery, mapping: Mapping) -> Mapped:
    """Every listed variant, mapped; one that cannot be mapped is a rejection (and is not removed)."""
    section = mapping.for_source(delivery.source)
    variants = product.get("variants") or []
    if not isinstance(variants, list):
        raise UndecodableDelivery("shopify product: variants must be a list")
    mapped = Mapped()
    for variant in variants:
        variant = check_object(variant, delivery.source)
        try:
            look_id, fields, look = mapping.map_variant(ShopifyView(product, variant), section)
        except Unmappable as error:
            mapped.rejections.append(rejection(delivery, error, str(variant.get("sku") or variant.get("id") or "")))
            continue
        mapped.observations.append(
            Observation(look_id, Change.UPSERT, version, delivery.event_id, delivery.source, fields.sku, fields, look)
        )
    return mapped
