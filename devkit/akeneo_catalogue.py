"""The sample catalogue as an Akeneo PIM would send it: Events API deliveries, signed, one variant
per size under a product model (the look), with flat-lay photos served over HTTP, as Akeneo's
media download links are. The demo and the end-to-end tests feed products through this path, the
one a retailer's PIM takes (mapping: demo/mapping.toml)."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devkit.catalogue import SampleProduct
from devkit.local_services import INGESTION_HTTP, ROOT
from devkit.pim_webhooks import akeneo_delivery

DEMO_MAPPING = ROOT / "demo" / "mapping.toml"
# The webhook secret the local ingestion checks Akeneo deliveries with (TWINWEAR_AKENEO_SECRET).
DEV_AKENEO_SECRET = "twinwear-dev-akeneo-secret"
# The Events API sends at most 10 events per request.
BATCH = 10


class FlatLayServer:
    """Serves each product's flat-lay PNG at /<sku>.png on 127.0.0.1 (an ephemeral port)."""

    def __init__(self, products: Sequence[SampleProduct]) -> None:
        photos = {f"/{p.sku}.png": p.flat_lay_png() for p in products}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = photos.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, sku: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{sku}.png"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def flat_lay_server(products: Sequence[SampleProduct]) -> Iterator[FlatLayServer]:
    server = FlatLayServer(products)
    try:
        yield server
    finally:
        server.close()


def _value(data: object) -> list[dict[str, object]]:
    return [{"locale": None, "scope": None, "data": data}]


def variant_events(
    product: SampleProduct, image_url: str, sizes: Sequence[str], updated: str, campaign: str = "demo"
) -> list[dict[str, object]]:
    """One product.updated event per size: the variant's full snapshot, as the Events API sends."""
    chart = "bottoms" if product.garment_type in ("skirt", "trousers", "shorts") else "tops"
    events = []
    for size in sizes:
        identifier = f"{product.sku}-{size}"
        resource = {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"twinwear-demo/{identifier}")),
            "identifier": identifier,
            "family": product.garment_type.replace("-", "_"),
            "parent": product.sku,
            "enabled": True,
            "values": {
                "name": [{"locale": "en_GB", "scope": None, "data": product.title}],
                "color": _value(product.sku.lower()),
                "size": _value(size),
                "size_chart": _value(chart),
                "sleeve_length": _value(product.sleeve_length or None),
                "length": _value(product.length or None),
                "campaign": _value(campaign),
                "image_flat_lay": [
                    {
                        "locale": None,
                        "scope": None,
                        "data": f"{product.sku}.png",
                        "_links": {"download": {"href": image_url}},
                    }
                ],
            },
            "created": updated,
            "updated": updated,
        }
        resource["values"] = {k: v for k, v in resource["values"].items() if v[0]["data"] is not None}
        events.append(
            {
                "action": "product.updated",
                "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"twinwear-demo/{identifier}/{updated}")),
                "event_datetime": updated,
                "author": "demo",
                "author_type": "api",
                "pim_source": "https://pim.example.com",
                "data": {"resource": resource},
            }
        )
    return events


def post_events(events: Sequence[dict[str, object]], secret: str = DEV_AKENEO_SECRET) -> None:
    """Deliver the events to ingestion's Akeneo webhook in batches of 10; raise unless each is accepted."""
    for start in range(0, len(events), BATCH):
        delivery = akeneo_delivery(list(events[start : start + BATCH]), secret, int(time.time()))
        request = urllib.request.Request(
            INGESTION_HTTP + delivery.path, data=delivery.body, headers=delivery.headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 200:
                raise RuntimeError(f"Akeneo webhook answered {response.status}")
