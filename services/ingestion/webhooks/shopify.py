"""Shopify's product webhooks (``POST /v1/webhooks/shopify``): ``products/create``, ``products/update``
and ``products/delete``, the topic in ``X-Shopify-Topic``, signed with ``X-Shopify-Hmac-Sha256``,
the **base64** HMAC-SHA256 of the raw body under the app's client secret. The body goes to the inbox
as it came, so product and variant ids above 2^53 keep every digit."""

from __future__ import annotations

from collections.abc import Mapping

from services.ingestion.webhooks import (
    FieldError,
    InvalidDelivery,
    Unauthorized,
    base64_signature,
    delivery,
    not_set,
    pick_headers,
    secret_list,
    signed_by_any,
)
from services.ingestion.webhooks.raw_json import parse_object
from twinwear.v1 import events_pb2

SECRET_VARIABLE = "TWINWEAR_SHOPIFY_SECRET"
TOPICS = frozenset({"products/create", "products/update", "products/delete"})
_KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
)


class ShopifyWebhooks:
    source = "shopify"
    content_types = frozenset({"application/json"})

    def __init__(self, secrets: str | None) -> None:
        """``secrets``: the client secret; comma-separated while a new one is rolled out."""
        self._secrets = secret_list(secrets)

    @property
    def not_configured(self) -> str | None:
        return None if self._secrets else not_set(SECRET_VARIABLE)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        signature = base64_signature(headers.get("x-shopify-hmac-sha256"))
        if not signed_by_any(self._secrets, body, [signature]):
            raise Unauthorized("bad_signature")

    def split(self, headers: Mapping[str, str], body: bytes, received_at_us: int) -> list[events_pb2.PimDelivery]:
        errors = []
        topic = headers.get("x-shopify-topic", "")
        if topic not in TOPICS:
            errors.append(FieldError("headers.X-Shopify-Topic", f"must be one of {', '.join(sorted(TOPICS))}"))
        # X-Shopify-Event-Id is the same on every retry of one event; the webhook id is the fallback.
        event_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
        if not event_id:
            errors.append(FieldError("headers.X-Shopify-Event-Id", "is required (or X-Shopify-Webhook-Id)"))
        product_id = parse_object(body).get("id")
        # JSON integers are exact in Python; a float (1.5, 7.88e17) would have lost digits.
        if isinstance(product_id, bool) or not isinstance(product_id, int):
            errors.append(FieldError("id", "is required: the product id, an integer"))
        if errors:
            raise InvalidDelivery(errors)
        assert event_id is not None  # checked above
        kept = pick_headers(headers, _KEPT_HEADERS)
        return [delivery(self.source, event_id, topic, body, kept, received_at_us)]
