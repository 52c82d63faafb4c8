"""A small client of the ingestion HTTP API, as a PIM system would call it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from devkit.local_services import INGESTION_HTTP


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: dict[str, object]


def post_product(body: dict[str, object] | bytes, base_url: str = INGESTION_HTTP) -> ApiResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base_url}/v1/products", data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return ApiResponse(response.status, json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return ApiResponse(error.code, json.loads(error.read() or b"{}"))
