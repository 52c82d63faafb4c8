"""A small client of the ingestion HTTP API, as a PIM system would call it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from devkit.local_services import INGESTION_HTTP, api_token


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: dict[str, object]


def post_product(
    body: dict[str, object] | bytes, base_url: str = INGESTION_HTTP, token: str | None = None
) -> ApiResponse:
    """POST /v1/products with ``token`` (default: devkit's api_token())."""
    return _post(f"{base_url}/v1/products", body, token)


def retire_product(
    sku: str, body: dict[str, object] | None = None, base_url: str = INGESTION_HTTP, token: str | None = None
) -> ApiResponse:
    """POST /v1/products/{sku}/retire, with an optional body such as {"product_version": ...}."""
    return _post(f"{base_url}/v1/products/{urllib.parse.quote(sku, safe='')}/retire", body or b"", token)


def _post(url: str, body: dict[str, object] | bytes, token: str | None) -> ApiResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token or api_token()}"}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return ApiResponse(response.status, json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return ApiResponse(error.code, json.loads(error.read() or b"{}"))
