"""Benchmark of the whole pipeline (not a test): N products through the four services.

Prints the end-to-end latency from ingestion accepting a product to its first published asset
(p50/p95), the throughput of the batch in assets per second, and, measured in the same run, the
throughput of the same render code run in-process (no Kafka, MinIO or Triton: flat-lay decode,
garment prep, body, render, QA, PNG encode, on both cores) with the ratio pipeline / in-process. Expects the local stack
to be up (infra/stack.sh up); starts and stops the services itself.

    .venv/bin/python benchmarks/pipeline.py --products 30
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from datetime import date

from benchmarks.render import DictStore
from devkit.catalogue import SampleProduct, load_catalogue
from devkit.ingest_client import post_product
from devkit.local_services import services_running, skip_backlog
from devkit.topic_reader import TopicReader
from services.render.handlers import RenderModels, TextureCache, render
from services.render.inference import BodyRunner, GarmentPrepRunner, InProcessModel, RenderRunner
from services.twin_builder.planning import plan_renders
from services.twin_builder.roster import DEFAULT_ROSTER
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _render_products(products: list[SampleProduct]) -> int:
    """One worker's share: each product's flat-lay prepared once, then rendered on every twin, by
    the render service's own render path with the models' runners in this process."""
    models = RenderModels(
        InProcessModel(GarmentPrepRunner()), InProcessModel(BodyRunner()), InProcessModel(RenderRunner())
    )
    store, textures, renders = DictStore(), TextureCache(), 0
    with ThreadPoolExecutor(2) as pool:
        for product in products:
            r, g, b = (int(product.colour[i : i + 2], 16) for i in (1, 3, 5))
            flat_lay = store.put(FLAT_LAYS_BUCKET, f"{product.sku}.png", product.flat_lay_png(), "image/png")
            upserted = events_pb2.ProductUpserted(sku=product.sku, imagery_digest=product.sku, product_version=1)
            upserted.colour.CopyFrom(events_pb2.Rgb(r=r, g=g, b=b))
            upserted.flat_lay.CopyFrom(flat_lay)
            upserted.garment.type = product.garment_type
            for request in plan_renders(upserted, DEFAULT_ROSTER, date.today()):
                request.flat_lay.CopyFrom(flat_lay)
                request.garment.type = product.garment_type
                render(request, store, models, pool, textures)
                renders += 1
    return renders


def in_process_assets_per_second(products: list[SampleProduct], workers: int = 2) -> float:
    shares = [products[i::workers] for i in range(workers)]
    started = time.monotonic()
    with ProcessPoolExecutor(workers) as pool:
        renders = sum(pool.map(_render_products, shares))
    return renders / (time.monotonic() - started)


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

    skip_backlog()
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
    pipeline_rate = assets / batch_seconds
    in_process_rate = in_process_assets_per_second(products)

    latencies = [first_asset_at[sku] - accepted_at[sku] for sku in first_asset_at]
    print(f"products {len(products)}, twins {len(DEFAULT_ROSTER)}, assets {assets}/{expected}")
    print(f"ingestion accepted all products in {accept_seconds:.2f} s ({len(products) / accept_seconds:.1f}/s)")
    if latencies:
        print(
            "accepted -> first asset published: "
            f"p50 {percentile(latencies, 0.50):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"mean {statistics.fmean(latencies):.2f} s"
        )
    print(f"pipeline: {assets} assets in {batch_seconds:.2f} s = {pipeline_rate:.2f} assets/s")
    print(f"in-process, same render code on 2 processes: {in_process_rate:.2f} renders/s")
    print(f"ratio pipeline / in-process: {pipeline_rate / in_process_rate:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
