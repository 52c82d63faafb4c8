"""Akeneo's Event Platform (``POST /v1/webhooks/akeneo-event-platform``), which replaces the Events
API: one thin CloudEvent per request in structured mode (``com.akeneo.pim.v1.product.updated``
with ``data.product.uuid``), signed with ``X-AKENEO-SIGNATURE-PRIMARY`` and, while a secret is
rotated, ``X-AKENEO-SIGNATURE-SECONDARY``: hex HMAC-SHA256 of the raw body. Either signature under
either configured secret is accepted. The event goes to the inbox as it came; the aggregator
fetches the product from Akeneo's REST API."""

from __future__ import annotations

from collections.abc import Mapping

from services.ingestion.webhooks import (
    FieldError,
    InvalidDelivery,
    Unauthorized,
    delivery,
    hex_signature,
    not_set,
    secret_list,
    signed_by_any,
)
from services.ingestion.webhooks.raw_json import parse_object
from twinwear.v1 import events_pb2

SECRETS_VARIABLE = "TWINWEAR_AKENEO_EP_SECRETS"
SIGNATURE_HEADERS = ("x-akeneo-signature-primary", "x-akeneo-signature-secondary")
ALGORITHM = "hmacsha256"
# CloudEvents attributes the aggregator relies on (id and time order and deduplicate the events).
_REQUIRED = ("id", "type", "source", "time")


class AkeneoEventPlatform:
    source = "akeneo-event-platform"
    content_types = frozenset({"application/json", "application/cloudevents+json"})

    def __init__(self, secrets: str | None) -> None:
        """``secrets``: the variable's value, comma-separated (the current and the next secret)."""
        self._secrets = secret_list(secrets)

    @property
    def not_configured(self) -> str | None:
        return None if self._secrets else not_set(SECRETS_VARIABLE)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        algorithm = headers.get("x-akeneo-signature-algorithm")
        if algorithm is not None and algorithm.strip().lower() != ALGORITHM:
            raise Unauthorized("unsupported_algorithm")
        presented = [hex_signature(headers[name]) for name in SIGNATURE_HEADERS if name in headers]
        if not presented:
            raise Unauthorized("missing_signature")
        if not signed_by_any(self._secrets, body, presented):
            raise Unauthorized("bad_signature")

    def split(self, headers: Mapping[str, str], body: bytes, received_at_us: int) -> list[events_pb2.PimDelivery]:
        members = parse_object(body)
        errors = [
            FieldError(name, "is required: a non-empty string")
            for name in _REQUIRED
            if not isinstance(members.get(name), str) or not members[name].strip()
        ]
        if members.get("specversion") != "1.0":
            errors.append(FieldError("specversion", 'must be "1.0" (CloudEvents 1.0, structured mode)'))
        if not isinstance(members.get("data"), dict):
            errors.append(FieldError("data", "is required: an object"))
        if errors:
            raise InvalidDelivery(errors)
        return [delivery(self.source, members["id"], members["type"], body, {}, received_at_us)]
