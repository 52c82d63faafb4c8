"""Akeneo: Events API events (a full product or product model in ``data.resource``), Event
Platform CloudEvents (only the product's uuid: the full product is fetched from the REST API),
and REST products from a backfill. A variant product's REST values include those it inherits
from its product models."""

from __future__ import annotations

from services.ingestion.pim.canonical import Change, Observation, Unmappable
from services.ingestion.pim.delivery import (
    IndexLookup,
    Mapped,
    ProductFetcher,
    UndecodableDelivery,
    check_object,
    decode_json,
    header,
    rejection,
    version_at,
)
from services.ingestion.pim.mapping import Mapping, SourceMapping
from twinwear.v1 import events_pb2

# The product's own fields, read as attributes.
_FIELDS = ("identifier", "uuid", "family", "family_variant", "parent", "enabled", "categories", "code", "groups")
_EVENT_PLATFORM = "com.akeneo.pim.v1."


class AkeneoView:
    """An Akeneo product or product model as attribute -> value, in the mapping's locale and
    channel; a media value gives its download URL."""

    def __init__(self, resource: dict[str, object], section: SourceMapping) -> None:
        self._resource = resource
        self._section = section

    def get(self, attribute: str) -> object:
        if attribute in _FIELDS:
            return self._resource.get(attribute)
        values = self._resource.get("values")
        candidates = values.get(attribute) if isinstance(values, dict) else None
        if not isinstance(candidates, list):
            return None
        for value in candidates:
            if isinstance(value, dict) and self._applies(value):
                links = value.get("_links")
                download = links.get("download") if isinstance(links, dict) else None
                if isinstance(download, dict) and isinstance(download.get("href"), str):
                    return download["href"]
                return value.get("data")
        return None

    def _applies(self, value: dict[str, object]) -> bool:
        locale, scope = value.get("locale"), value.get("scope")
        return (locale is None or not self._section.locale or locale == self._section.locale) and (
            scope is None or not self._section.scope or scope == self._section.scope
        )


def _index_keys(resource: dict[str, object]) -> list[str]:
    keys = [f"akeneo/uuid/{resource['uuid']}"] if resource.get("uuid") else []
    return keys + ([f"akeneo/identifier/{resource['identifier']}"] if resource.get("identifier") else [])


def _known(resource: dict[str, object], index: IndexLookup) -> dict[str, object] | None:
    """What the index holds for the product, by uuid or else identifier."""
    return next((found for key in _index_keys(resource) if (found := index(key))), None)


def _removed_after(entry: dict[str, object] | None, order: tuple[int, str]) -> bool:
    removed = entry.get("removed") if entry else None
    return isinstance(removed, list) and (int(removed[0]), str(removed[1])) >= order


def _product(
    resource: dict[str, object],
    version: int,
    event_id: str,
    delivery: events_pb2.PimDelivery,
    mapping: Mapping,
    index: IndexLookup,
) -> Mapped:
    """A created or updated product (a variant); nothing when it was removed after this version."""
    current = {key: index(key) for key in _index_keys(resource)}
    if any(_removed_after(entry, (version, event_id)) for entry in current.values()):
        return Mapped()
    section = mapping.for_source(delivery.source)
    try:
        look_id, variant, look = mapping.map_variant(AkeneoView(resource, section), section)
    except Unmappable as error:
        return Mapped(rejections=[rejection(delivery, error, str(resource.get("identifier") or ""), event_id)])
    observation = Observation(look_id, Change.UPSERT, version, event_id, delivery.source, variant.sku, variant, look)
    entry: dict[str, object] = {"look_id": look_id, "sku": variant.sku}
    return Mapped([observation], index={key: entry for key, found in current.items() if found != entry})


def _product_model(
    resource: dict[str, object], version: int, event_id: str, delivery: events_pb2.PimDelivery, mapping: Mapping
) -> Mapped:
    """A product model: when the look key is the variants' parent, the model with that code is the
    look, and its attributes are the look's."""
    section = mapping.for_source(delivery.source)
    if section.look_key != ("parent",) or not resource.get("code"):
        return Mapped()
    look_id = section.look_prefix + str(resource["code"])
    try:
        look = mapping.map_look(AkeneoView(resource, section), section)
    except Unmappable as error:
        return Mapped(rejections=[rejection(delivery, Unmappable(error.reason, look_id), event_id=event_id)])
    return Mapped([Observation(look_id, Change.LOOK, version, event_id, delivery.source, look=look)])


def _removed(
    resource: dict[str, object], version: int, event_id: str, delivery: events_pb2.PimDelivery, index: IndexLookup
) -> Mapped:
    """A removed product, found by the uuid or identifier it was seen with. The removal is kept in
    the index too, so that an older update arriving later (even of a product never seen) is stale."""
    entry = _known(resource, index)
    order = (version, event_id)
    tombstone = {**(entry or {}), "removed": [version, event_id]}
    if _removed_after(entry, order):
        tombstone = dict(entry or {})
    keys = {key: tombstone for key in _index_keys(resource)}
    if entry is None or "look_id" not in entry:
        return Mapped(index=keys)
    look_id, sku = str(entry["look_id"]), str(entry["sku"])
    return Mapped([Observation(look_id, Change.REMOVE, version, event_id, delivery.source, sku)], index=keys)


def _model_removed(
    resource: dict[str, object], version: int, event_id: str, delivery: events_pb2.PimDelivery, mapping: Mapping
) -> Mapped:
    section = mapping.for_source(delivery.source)
    if section.look_key != ("parent",) or not resource.get("code"):
        return Mapped()
    look_id = section.look_prefix + str(resource["code"])
    return Mapped([Observation(look_id, Change.REMOVE, version, event_id, delivery.source)])


def map_events_api(delivery: events_pb2.PimDelivery, mapping: Mapping, index: IndexLookup) -> Mapped:
    """One Events API event (or a whole ``{"events": [...]}`` body)."""
    document = check_object(decode_json(delivery.body, delivery.source), delivery.source)
    events = document.get("events") if "events" in document else [document]
    if not isinstance(events, list):
        raise UndecodableDelivery("akeneo delivery: events must be a list")
    mapped = Mapped()
    for event in events:
        event = check_object(event, delivery.source)
        data = event.get("data")
        resource = data.get("resource") if isinstance(data, dict) else None
        action = event.get("action")
        if not isinstance(resource, dict) or not isinstance(action, str):
            raise UndecodableDelivery("akeneo event needs an action and data.resource")
        event_id = str(event.get("event_id") or delivery.event_id)
        try:
            version = version_at(event.get("event_datetime"), "event_datetime", delivery)
        except Unmappable as error:
            mapped.rejections.append(rejection(delivery, error, event_id=event_id))
            continue
        mapped.extend(_event(action, resource, version, event_id, delivery, mapping, index))
    return mapped


def _event(
    action: str,
    resource: dict[str, object],
    version: int,
    event_id: str,
    delivery: events_pb2.PimDelivery,
    mapping: Mapping,
    index: IndexLookup,
) -> Mapped:
    if action in ("product.created", "product.updated"):
        return _product(resource, version, event_id, delivery, mapping, index)
    if action == "product.removed":
        return _removed(resource, version, event_id, delivery, index)
    if action in ("product_model.created", "product_model.updated"):
        return _product_model(resource, version, event_id, delivery, mapping)
    if action == "product_model.removed":
        return _model_removed(resource, version, event_id, delivery, mapping)
    return Mapped()


def map_rest(delivery: events_pb2.PimDelivery, mapping: Mapping, index: IndexLookup) -> Mapped:
    """A REST product or product model (header ``akeneo-resource``), from a backfill: versioned by
    its ``updated`` time."""
    resource = check_object(decode_json(delivery.body, delivery.source), delivery.source)
    kind = header(delivery, "akeneo-resource") or ("product_model" if "identifier" not in resource else "product")
    return _current(resource, delivery.event_id, delivery, mapping, index, kind)


def _current(
    resource: dict[str, object],
    event_id: str,
    delivery: events_pb2.PimDelivery,
    mapping: Mapping,
    index: IndexLookup,
    kind: str = "product",
) -> Mapped:
    try:
        version = version_at(resource.get("updated"), "updated", delivery)
    except Unmappable as error:
        return Mapped(rejections=[rejection(delivery, error, event_id=event_id)])
    if kind == "product_model":
        return _product_model(resource, version, event_id, delivery, mapping)
    return _product(resource, version, event_id, delivery, mapping, index)


def map_event_platform(
    delivery: events_pb2.PimDelivery, mapping: Mapping, index: IndexLookup, fetcher: ProductFetcher
) -> Mapped:
    """A thin CloudEvent: the product as it is now is fetched, and versioned by its own
    ``updated`` time, so an old event fetched late still gives the newest state."""
    event = check_object(decode_json(delivery.body, delivery.source), delivery.source)
    kind = str(event.get("type") or delivery.event_type)
    data = event.get("data")
    product = data.get("product") if isinstance(data, dict) else None
    if not isinstance(product, dict) or not kind.startswith(_EVENT_PLATFORM):
        raise UndecodableDelivery("akeneo-event-platform event needs a com.akeneo.pim.v1.* type and data.product")
    event_id = str(event.get("id") or delivery.event_id)
    kind = kind.removeprefix(_EVENT_PLATFORM)
    if kind == "product.deleted":
        try:
            version = version_at(event.get("time"), "time", delivery)
        except Unmappable as error:
            return Mapped(rejections=[rejection(delivery, error, event_id=event_id)])
        return _removed(product, version, event_id, delivery, index)
    if kind not in ("product.created", "product.updated", "product.updated.delta"):
        return Mapped()
    uuid = product.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        raise UndecodableDelivery("akeneo-event-platform event has no data.product.uuid")
    try:
        resource = fetcher.get_product(uuid)
    except LookupError:
        return Mapped()  # deleted since: its product.deleted event retires it
    return _current(resource, event_id, delivery, mapping, index)
