"""Benchmark of the whole pipeline (not a test): N products through the four services.

Prints the end-to-end latency from ingestion accepting a product to its first published asset
(p50/p95), and the throughput of the batch in assets per second. Expects the local stack to be up
(infra/stack.sh up); starts and stops the services itself.

    .venv/bin/python benchmarks/pipeline.py --products 30
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from dataclasses import replace

from devkit.catalogue import load_catalogue
from devkit.ingest_client import post_product
from devkit.local_services import services_running
from devkit.topic_reader import TopicReader
from services.twin_builder.roster import DEFAULT_ROSTER


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    catalogue = load_catalogue()
    # Unique SKUs each run, so nothing is skipped as already published.
    products = [replace(catalogue[i % len(catalogue)], sku=f"BENCH-{run}-{i:04d}") for i in range(args.products)]
    expected = len(products) * len(DEFAULT_ROSTER)

    with services_running():
        feed = TopicReader()
        accepted_at: dict[str, float] = {}
        first_asset_at: dict[str, float] = {}
        assets = 0
        started = time.monotonic()
        for product in products:
            response = post_product(product.request_body())
            if response.status != 202:
                raise SystemExit(f"ingestion refused {product.sku}: {response.status} {response.body}")
            accepted_at[product.sku] = time.monotonic()
        accept_seconds = time.monotonic() - started
        for asset in feed.assets(timeout=args.timeout):
            if asset.sku not in accepted_at:
                continue
            assets += 1
            first_asset_at.setdefault(asset.sku, time.monotonic())
            if assets == expected:
                break
        batch_seconds = time.monotonic() - started
        feed.close()

    latencies = [first_asset_at[sku] - accepted_at[sku] for sku in first_asset_at]
    print(f"products {len(products)}, twins {len(DEFAULT_ROSTER)}, assets {assets}/{expected}")
    print(f"ingestion accepted all products in {accept_seconds:.2f} s ({len(products) / accept_seconds:.1f}/s)")
    if latencies:
        print(
            "accepted -> first asset published: "
            f"p50 {percentile(latencies, 0.50):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"mean {statistics.fmean(latencies):.2f} s"
        )
    print(f"batch: {assets} assets in {batch_seconds:.2f} s = {assets / batch_seconds:.2f} assets/s")


if __name__ == "__main__":
    main()
