"""The ingestion service under test: its ports, which are not the defaults so that these tests run
beside other engineers' services on the shared stack, and valid request bodies."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from devkit.catalogue import draw_flat_lay
from devkit.local_services import RunningServices

HTTP_PORT, GRPC_PORT, OPS_PORT = 18080, 15051, 19101
BODY_TIMEOUT_SECONDS = 2.0
MAX_IN_FLIGHT = 32
FLAT_LAY_PNG = draw_flat_lay("tee", "stripes", "#2a9d8f")
API_TOKEN = "itest-token"
# Two tokens configured, as while one is rotated out: either is accepted.
OLD_API_TOKEN = "itest-old-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {API_TOKEN}"),)
ENV = {
    "TWINWEAR_API_TOKEN": f"{OLD_API_TOKEN},{API_TOKEN}",
    "TWINWEAR_HTTP_PORT": str(HTTP_PORT),
    "TWINWEAR_GRPC_PORT": str(GRPC_PORT),
    "TWINWEAR_OPS_PORT": str(OPS_PORT),
    "TWINWEAR_BIND_ADDRESS": "127.0.0.1",
    "TWINWEAR_INSTANCE_ID": "ingestion-fuzz",
    "TWINWEAR_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
    "TWINWEAR_HTTP_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
}


@dataclass(frozen=True)
class IngestionUnderTest:
    http_url: str
    grpc_target: str
    ops_url: str
    running: RunningServices


def unique_sku(prefix: str = "ITEST") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def product_body(sku: str, **overrides: object) -> dict[str, object]:
    """A valid JSON body for ``sku``; ``overrides`` replace fields."""
    body: dict[str, object] = {
        "sku": sku,
        "title": "Integration tee",
        "category": "tops",
        "colour": "#2a9d8f",
        "flat_lay": {"data_base64": base64.b64encode(FLAT_LAY_PNG).decode()},
        "source": "itest",
    }
    return body | overrides
