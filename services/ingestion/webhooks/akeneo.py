"""Akeneo's Events API (``POST /v1/webhooks/akeneo``): ``{"events": [...]}`` with up to 10 events,
signed with ``X-Akeneo-Request-Signature``, the hex HMAC-SHA256 of
``"<X-Akeneo-Request-Timestamp>." + body`` under the connection's secret. Each event becomes one
inbox record whose body is the event object's bytes as Akeneo wrote them."""

from __future__ import annotations

from collections.abc import Mapping

from services.ingestion.webhooks import (
    FieldError,
    InvalidDelivery,
    Unauthorized,
    check_timestamp,
    delivery,
    hex_signature,
    invalid,
    not_set,
    pick_headers,
    signed_by_any,
)
from services.ingestion.webhooks.raw_json import object_members
from twinwear.v1 import events_pb2

SECRET_VARIABLE = "TWINWEAR_AKENEO_SECRET"
MAX_EVENTS = 10
ACTIONS = frozenset(
    f"{resource}.{change}" for resource in ("product", "product_model") for change in ("created", "updated", "removed")
)
_KEPT_HEADERS = ("x-akeneo-request-timestamp",)


class AkeneoEventsApi:
    source = "akeneo"
    content_types = frozenset({"application/json"})

    def __init__(self, secret: str | None) -> None:
        self._secret = (secret or "").strip()

    @property
    def not_configured(self) -> str | None:
        return None if self._secret else not_set(SECRET_VARIABLE)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp = headers.get("x-akeneo-request-timestamp")
        check_timestamp(timestamp, now)
        signature = hex_signature(headers.get("x-akeneo-request-signature"))
        assert timestamp is not None  # checked above
        if not signed_by_any([self._secret], timestamp.encode() + b"." + body, [signature]):
            raise Unauthorized("bad_signature")

    def split(self, headers: Mapping[str, str], body: bytes, received_at_us: int) -> list[events_pb2.PimDelivery]:
        members = object_members(body, arrays=frozenset({"events"}))
        if "events" not in members:
            raise invalid("events", "is required: the list of events")
        if not isinstance(members["events"].value, list):
            raise invalid("events", "must be a JSON array")
        events = members["events"].elements
        if not events:
            raise invalid("events", "must hold at least one event")
        if len(events) > MAX_EVENTS:
            raise invalid("events", f"holds {len(events)} events; the Events API sends at most {MAX_EVENTS}")
        errors = [error for i, event in enumerate(events) for error in _event_errors(f"events[{i}]", event.value)]
        if errors:
            raise InvalidDelivery(errors)
        kept = pick_headers(headers, _KEPT_HEADERS)
        deliveries = []
        for event in events:
            fields = event.value
            assert isinstance(fields, dict)  # checked above
            deliveries.append(
                delivery(self.source, fields["event_id"], fields["action"], event.raw, kept, received_at_us)
            )
        return deliveries


def _event_errors(path: str, event: object) -> list[FieldError]:
    if not isinstance(event, dict):
        return [FieldError(path, "must be an object")]
    errors = []
    action = event.get("action")
    if action not in ACTIONS:
        errors.append(FieldError(f"{path}.action", f"must be one of {', '.join(sorted(ACTIONS))}"))
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        errors.append(FieldError(f"{path}.event_id", "is required: a non-empty string"))
    # The reference names the field event_datetime; its examples show event_date.
    if not isinstance(event.get("event_datetime", event.get("event_date")), str):
        errors.append(FieldError(f"{path}.event_datetime", "is required: the event's date and time"))
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
        errors.append(FieldError(f"{path}.data.resource", "is required: the product or product model"))
    return errors
