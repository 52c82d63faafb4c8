"""Salsify's product-change webhooks (``POST /v1/webhooks/salsify``). The envelope holds
``organization``, ``alert`` (``trigger_type``: add, change or remove), ``products`` (each keyed by
``salsify:id``, with ``salsify:parent_id``) and ``parent_products``. The signature,
``X-Salsify-Signature-V1``, is a base64 RSA-SHA256 (PKCS#1 v1.5) signature of
``"<X-Salsify-Timestamp>.<X-Salsify-Request-ID>.<X-Salsify-Organization-ID>.<webhook URL>.<body>"``,
checked against the certificate configured here (nothing is fetched from X-Salsify-Cert-Url).

A delivery holding several products becomes one inbox record per product, with event id
``<request id>:<salsify:id>``: its body is the envelope with that product and its parent only, each
member's bytes as Salsify wrote them. A delivery holding one product keeps its raw body."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.ingestion.webhooks import (
    FieldError,
    InvalidDelivery,
    Unauthorized,
    base64_signature,
    check_timestamp,
    delivery,
    not_set,
    pick_headers,
)
from services.ingestion.webhooks.raw_json import RawValue, object_members
from twinwear.v1 import events_pb2

CERT_VARIABLE = "TWINWEAR_SALSIFY_CERT"
URL_VARIABLE = "TWINWEAR_SALSIFY_WEBHOOK_URL"
TRIGGER_TYPES = frozenset({"add", "change", "remove"})
_SIGNED_HEADERS = ("x-salsify-timestamp", "x-salsify-request-id", "x-salsify-organization-id")
_KEPT_HEADERS = ("x-salsify-organization-id", "x-salsify-request-id", "x-salsify-timestamp")


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate (what Salsify publishes) or of a bare public key. Raises
    ValueError saying what the PEM is not."""
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        key = serialization.load_pem_public_key(pem)  # raises ValueError when it is neither
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the key is not an RSA key")
    return key


class SalsifyWebhooks:
    source = "salsify"
    content_types = frozenset({"application/json"})

    def __init__(self, public_key: rsa.RSAPublicKey | None, webhook_url: str | None, problem: str = "") -> None:
        """``webhook_url``: this endpoint's URL exactly as configured in Salsify (it is signed).
        ``problem``: why the certificate could not be loaded, when it could not."""
        self._key = public_key
        self._url = (webhook_url or "").strip()
        self._problem = problem

    @classmethod
    def from_settings(cls, cert_path: str, webhook_url: str) -> SalsifyWebhooks:
        """Load the certificate from ``cert_path``; an unreadable one leaves the endpoint
        unconfigured, saying why, rather than stopping the other APIs."""
        if not cert_path:
            return cls(None, webhook_url)
        try:
            with open(cert_path, "rb") as file:
                return cls(load_public_key(file.read()), webhook_url)
        except (OSError, ValueError) as error:
            return cls(None, webhook_url, f"{CERT_VARIABLE}: cannot use {cert_path}: {error}")

    @property
    def not_configured(self) -> str | None:
        if self._problem:
            return self._problem
        if self._key is None:
            return not_set(CERT_VARIABLE)
        return None if self._url else not_set(URL_VARIABLE)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        assert self._key is not None  # the endpoint refuses deliveries until configured
        timestamp, request_id, organization_id = (headers.get(name) for name in _SIGNED_HEADERS)
        check_timestamp(timestamp, now)
        if not request_id or not organization_id:
            raise Unauthorized("missing_header")
        signature = base64_signature(headers.get("x-salsify-signature-v1"))
        signed = f"{timestamp}.{request_id}.{organization_id}.{self._url}.".encode() + body
        try:
            self._key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise Unauthorized("bad_signature") from None

    def split(self, headers: Mapping[str, str], body: bytes, received_at_us: int) -> list[events_pb2.PimDelivery]:
        members = object_members(body, arrays=frozenset({"products", "parent_products"}))
        alert = members.get("alert")
        trigger_type = alert.value.get("trigger_type") if alert and isinstance(alert.value, dict) else None
        errors = []
        if trigger_type not in TRIGGER_TYPES:
            errors.append(FieldError("alert.trigger_type", f"must be one of {', '.join(sorted(TRIGGER_TYPES))}"))
        if "products" not in members:
            raise InvalidDelivery([*errors, FieldError("products", "is required: the list of products")])
        if not isinstance(members["products"].value, list):
            raise InvalidDelivery([*errors, FieldError("products", "must be a JSON array")])
        products = members["products"].elements
        if not products:
            errors.append(FieldError("products", "must hold at least one product"))
        errors += [
            FieldError(f"products[{i}].salsify:id", "is required: a non-empty string")
            for i, product in enumerate(products)
            if not _salsify_id(product.value)
        ]
        parents = members["parent_products"].elements if "parent_products" in members else ()
        errors += [
            FieldError(f"parent_products[{i}].salsify:id", "is required: a non-empty string")
            for i, parent in enumerate(parents)
            if not _salsify_id(parent.value)
        ]
        if errors:
            raise InvalidDelivery(errors)
        assert isinstance(trigger_type, str)
        kept = pick_headers(headers, _KEPT_HEADERS)
        request_id = headers["x-salsify-request-id"]
        return [
            delivery(
                self.source,
                f"{request_id}:{_salsify_id(product.value)}",
                trigger_type,
                body if len(products) == 1 else _envelope_of(members, product, parents),
                kept,
                received_at_us,
            )
            for product in products
        ]


def _salsify_id(value: object) -> str:
    identifier = value.get("salsify:id") if isinstance(value, dict) else None
    return identifier if isinstance(identifier, str) and identifier.strip() else ""


def _envelope_of(members: Mapping[str, RawValue], product: RawValue, parents: Sequence[RawValue]) -> bytes:
    """The delivery's envelope holding only ``product`` and its parent, from the original bytes."""
    assert isinstance(product.value, dict)
    parent_id = product.value.get("salsify:parent_id")
    own_parents = [p.raw for p in parents if parent_id and _salsify_id(p.value) == parent_id]
    parts = []
    for key, member in members.items():
        if key == "products":
            raw = b"[" + product.raw + b"]"
        elif key == "parent_products":
            raw = b"[" + b",".join(own_parents) + b"]"
        else:
            raw = member.raw
        parts.append(json.dumps(key).encode() + b":" + raw)
    return b"{" + b",".join(parts) + b"}"
