"""Benchmark of the PIM aggregator's handler (not a test): Akeneo deliveries folded into looks with
the state in the real MinIO, images served by a local HTTP server (fetched once per look, then
known by URL). Prints deliveries per second and, measured in the same run, the rate of bare MinIO
read-then-conditional-write round trips (the floor of one look's state update), with the ratio.
Expects the local stack up (infra/stack.sh up).

    .venv/bin/python benchmarks/pim_aggregator.py --looks 20 --updates 10
"""

from __future__ import annotations

import argparse
import http.server
import threading
import time
import uuid

from devkit.catalogue import draw_flat_lay
from services.ingestion.pim.aggregator import Aggregator, Ports
from services.ingestion.pim.images import FetchLimits, ImageFetcher, ImageLibrary
from services.ingestion.pim.mapping import load_mapping
from services.ingestion.pim.stores import IndexStore, LookStore, RejectionStore
from tests.pim_payloads import MAPPING_FILE, akeneo_event, akeneo_product
from twinwear.v1 import envelope_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.events import Incoming
from twinwear_runtime.storage import MinioObjectStore

FLAT_LAY = draw_flat_lay("tee", "solid", "#1f2a44")


class _Images(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(FLAT_LAY)))
        self.end_headers()
        self.wfile.write(FLAT_LAY)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--looks", type=int, default=20)
    parser.add_argument("--updates", type=int, default=10, help="deliveries per look")
    parser.add_argument("--port", type=int, default=18290)
    args = parser.parse_args()
    store = MinioObjectStore.from_config(load_config(RuntimeConfig))
    store.ensure_buckets(FLAT_LAYS_BUCKET, STATE_BUCKET)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run = uuid.uuid4().hex[:8]
    prefix = f"bench/pim-{run}"
    fetcher = ImageFetcher(FetchLimits(allow_private=True))
    ports = Ports(
        LookStore(store, prefix), IndexStore(store, prefix), RejectionStore(store, prefix), ImageLibrary(fetcher, store)
    )
    aggregator = Aggregator(load_mapping(MAPPING_FILE), ports, "bench.products")
    deliveries = [
        akeneo_event(
            "product.updated",
            akeneo_product(
                f"B{run}-{look}-M", f"B{run}-{look}", "M", f"http://127.0.0.1:{args.port}/{look}.png", price=f"{n}.00"
            ),
            f"{run}-{look}-{n}",
            f"2026-05-01T10:{n // 60:02d}:{n % 60:02d}Z",
        )
        for n in range(args.updates)
        for look in range(args.looks)
    ]
    started = time.perf_counter()
    produced = 0
    for offset, delivery in enumerate(deliveries):
        envelope = envelope_pb2.EventEnvelope(event_id=f"{run}-{offset}", event_type="twinwear.v1.PimDelivery")
        produced += len(aggregator.handle(Incoming(envelope, delivery, "bench.inbox", 0, offset)))
    elapsed = time.perf_counter() - started
    rate = len(deliveries) / elapsed

    key = f"{prefix}/round-trip.json"
    started = time.perf_counter()
    rounds = 100
    for n in range(rounds):
        found = store.get_versioned(STATE_BUCKET, key)
        store.put_if(STATE_BUCKET, key, str(n).encode(), "application/json", found[1] if found else None)
    floor = rounds / (time.perf_counter() - started)
    server.shutdown()
    fetcher.close()
    print(f"deliveries: {len(deliveries)} ({args.looks} looks x {args.updates}), events produced: {produced}")
    print(f"aggregator: {rate:.1f} deliveries/s")
    print(f"MinIO read + conditional write round trips: {floor:.1f}/s")
    print(f"ratio aggregator / round trips: {rate / floor:.2f}")


if __name__ == "__main__":
    main()
