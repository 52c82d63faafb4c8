"""Signed PIM webhook deliveries, as Akeneo, Salsify and Shopify send them, for tests, benchmarks
and trying the endpoints by hand. The payloads follow each vendor's documentation field by field:

- Akeneo Events API: ``{"events": [...]}``, PHP ``json_encode`` output (``\\/`` and ``\\uXXXX``),
  signed hex HMAC-SHA256 of ``"<timestamp>." + body``;
- Akeneo Event Platform: one CloudEvent, hex HMAC-SHA256 of the body under the primary and the
  secondary secret;
- Salsify: the product-change envelope, RSA-SHA256 of
  ``"<timestamp>.<request id>.<organisation id>.<webhook url>.<body>"``;
- Shopify: the product resource, base64 HMAC-SHA256 of the body; ids above 2^53.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Delivery:
    """A request as the PIM sends it: path, headers and the exact body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes


def php_json(document: object) -> bytes:
    """``json_encode`` with PHP's defaults: compact, ``/`` escaped, non-ASCII as ``\\uXXXX``."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


# -- Akeneo Events API -------------------------------------------------------------------------


def akeneo_product_event(
    action: str = "product.updated",
    identifier: str = "tshirt-cotele-rouge-m",
    parent: str | None = "tshirt-cotele-rouge",
    event_id: str | None = None,
    event_datetime: str = "2026-11-25T09:13:59+00:00",
    product_uuid: str | None = None,
) -> dict[str, object]:
    """A product event of the Events API reference (a variant with its full snapshot)."""
    resource: dict[str, object] = {
        "uuid": product_uuid or str(uuid.uuid4()),
        "identifier": identifier,
        "family": "tshirts",
        "parent": parent,
        "groups": [],
        "categories": ["master_men_tshirts", "supplier_zaro"],
        "enabled": True,
        "values": {
            "name": [{"locale": "fr_FR", "scope": None, "data": "T-shirt côtelé à manches courtes"}],
            "size": [{"locale": None, "scope": None, "data": "m"}],
            "image": [
                {
                    "locale": None,
                    "scope": None,
                    "data": "9/9/c/c/99cc83f105199c667505cfa8ec1458c8be4f0814_tshirt.jpg",
                    "_links": {
                        "download": {
                            "href": "https://demo.akeneo.com/api/rest/v1/media-files/9/9/c/c/"
                            "99cc83f105199c667505cfa8ec1458c8be4f0814_tshirt.jpg/download"
                        }
                    },
                }
            ],
            "description": [{"locale": "en_US", "scope": "ecommerce", "data": "<p>Ribbed cotton tee</p>"}],
        },
        "created": "2026-10-20T08:30:28+00:00",
        "updated": event_datetime,
        "associations": {"X_SELL": {"groups": [], "products": [], "product_models": []}},
        "quantified_associations": [],
    }
    if action.endswith(".removed"):
        resource = {"uuid": resource["uuid"], "identifier": identifier}
    return {
        "action": action,
        "event_id": event_id or str(uuid.uuid4()),
        "event_datetime": event_datetime,
        "author": "julia",
        "author_type": "ui",
        "pim_source": "https://demo.akeneo.com",
        "data": {"resource": resource},
    }


def akeneo_delivery(events: list[dict[str, object]], secret: str, timestamp: int) -> Delivery:
    body = php_json({"events": events})
    signature = _hmac(secret, str(timestamp).encode() + b"." + body).hex()
    headers = {
        "Content-Type": "application/json",
        "X-Akeneo-Request-Timestamp": str(timestamp),
        "X-Akeneo-Request-Signature": signature,
        "User-Agent": "AkeneoEventsApi",
    }
    return Delivery("/v1/webhooks/akeneo", headers, body)


# -- Akeneo Event Platform ---------------------------------------------------------------------


def cloud_event(
    event_type: str = "com.akeneo.pim.v1.product.updated", product_uuid: str | None = None, event_id: str | None = None
) -> dict[str, object]:
    """A thin product event of the Event Platform's catalogue."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "source": "pim",
        "subject": "019256aa-7f77-7f58-bc8c-770f7e369c5b",
        "time": "2026-11-25T17:31:00Z",
        "datacontenttype": "application/json",
        "dataschema": f"https://event.prd.sdk.akeneo.cloud/spec/{event_type}.schema.json",
        "data": {
            "product": {"uuid": product_uuid or str(uuid.uuid4())},
            "author": {"identifier": "b238e9f7-fcec-45bd-9431-d43cd624b244", "type": "api"},
        },
    }


def event_platform_delivery(event: dict[str, object], primary: str, secondary: str | None = None) -> Delivery:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        "X-AKENEO-SIGNATURE-ALGORITHM": "HmacSHA256",
        "X-AKENEO-SIGNATURE-PRIMARY": _hmac(primary, body).hex(),
    }
    if secondary:
        headers["X-AKENEO-SIGNATURE-SECONDARY"] = _hmac(secondary, body).hex()
    return Delivery("/v1/webhooks/akeneo-event-platform", headers, body)


# -- Salsify -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalsifySigner:
    """Stands in for Salsify's signing key; ``certificate_pem`` is what the endpoint is given."""

    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def generate(cls) -> SalsifySigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhooks-auth.salsify.com")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate.public_bytes(serialization.Encoding.PEM))

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def salsify_product(
    product_id: str, parent_id: str = "TEE-RIB-RED", destroyed_at: str | None = None
) -> dict[str, object]:
    """A product in the CRUD API's export format: properties keyed by display name."""
    product: dict[str, object] = {
        "salsify:id": product_id,
        "salsify:created_at": "2026-10-20T08:30:28.000Z",
        "salsify:updated_at": "2026-11-25T09:13:59.000Z",
        "salsify:version": 7,
        "salsify:parent_id": parent_id,
        "salsify:system_id": f"s-{uuid.uuid4()}",
        "Product Name": "Ribbed tee — red",
        "Brand": "Wildflower",
        "Color": "Red",
        "Size": product_id.rsplit("-", 1)[-1],
        "salsify:digital_assets": [
            {
                "salsify:id": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9",
                "salsify:url": "https://images.salsify.com/image/upload/s--abc--/tee-rib-red-flat.jpg",
                "salsify:filename": "tee-rib-red-flat.jpg",
                "salsify:format": "jpg",
                "salsify:status": "completed",
            }
        ],
    }
    if destroyed_at:
        product["salsify:destroyed_at"] = destroyed_at
    return product


def salsify_delivery(
    products: list[dict[str, object]],
    signer: SalsifySigner,
    webhook_url: str,
    timestamp: int,
    trigger_type: str = "change",
    organization_id: str = "s-00000000-0000-0000-0000-000000000001",
    request_id: str | None = None,
) -> Delivery:
    parent_ids = sorted({str(p["salsify:parent_id"]) for p in products if p.get("salsify:parent_id")})
    body = json.dumps(
        {
            "organization": {"id": organization_id, "name": "Wildflower Apparel"},
            "alert": {"id": 4711, "name": "twinwear products", "trigger_type": trigger_type},
            "products": products,
            "parent_products": [
                {"salsify:id": parent_id, "Product Name": "Ribbed tee", "Brand": "Wildflower"}
                for parent_id in parent_ids
            ],
        }
    ).encode()
    request_id = request_id or str(uuid.uuid4())
    signed = f"{timestamp}.{request_id}.{organization_id}.{webhook_url}.".encode() + body
    headers = {
        "Content-Type": "application/json",
        "X-Salsify-Timestamp": str(timestamp),
        "X-Salsify-Request-ID": request_id,
        "X-Salsify-Organization-ID": organization_id,
        "X-Salsify-Cert-Url": "https://webhooks-auth.salsify.com/certificates/1.pem",
        "X-Salsify-Signature-V1": signer.sign(signed),
    }
    return Delivery("/v1/webhooks/salsify", headers, body)


# -- Shopify -----------------------------------------------------------------------------------

# Ids of Shopify's own product webhook example: above 2^53, so a float would lose digits.
SHOPIFY_PRODUCT_ID = 788032119674292922
SHOPIFY_VARIANT_IDS = (642667041472713922, 757650484644203962, 49148385, 39072856, 457924702)


def shopify_product(product_id: int = SHOPIFY_PRODUCT_ID, sizes: tuple[str, ...] = ("XS", "S", "M", "L", "XL")) -> str:
    """A ``products/update`` body with one variant per size, as JSON text (ids as exact integers)."""
    variants = [
        {
            "id": variant_id,
            "product_id": product_id,
            "title": f"Red / {size}",
            "price": "19.99",
            "sku": f"TEE-RIB-RED-{size}",
            "position": position,
            "option1": "Red",
            "option2": size,
            "option3": None,
            "inventory_quantity": 12,
            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
        }
        for position, (variant_id, size) in enumerate(zip(SHOPIFY_VARIANT_IDS, sizes, strict=False), start=1)
    ]
    return json.dumps(
        {
            "id": product_id,
            "title": "Ribbed tee",
            "body_html": "<p>Ribbed cotton tee</p>",
            "vendor": "Wildflower",
            "product_type": "T-Shirt",
            "created_at": "2026-10-20T08:30:28-05:00",
            "handle": "ribbed-tee",
            "updated_at": "2026-11-25T09:13:59-05:00",
            "status": "active",
            "tags": "summer, cotton",
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
            "variants": variants,
            "options": [
                {"id": 594680422, "product_id": product_id, "name": "Color", "position": 1, "values": ["Red"]},
                {"id": 594680423, "product_id": product_id, "name": "Size", "position": 2, "values": list(sizes)},
            ],
            "images": [
                {
                    "id": 850703190,
                    "product_id": product_id,
                    "position": 1,
                    "src": "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/ribbed-tee-red.jpg",
                    "width": 1200,
                    "height": 1600,
                    "variant_ids": list(SHOPIFY_VARIANT_IDS[: len(sizes)]),
                }
            ],
        }
    )


def shopify_delivery(
    body: str | bytes,
    secret: str,
    topic: str = "products/update",
    event_id: str | None = None,
    shop: str = "wildflower.myshopify.com",
) -> Delivery:
    raw = body.encode() if isinstance(body, str) else body
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(_hmac(secret, raw)).decode(),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-25T14:13:59.000Z",
    }
    return Delivery("/v1/webhooks/shopify", headers, raw)
