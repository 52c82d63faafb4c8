"""Benchmark of the whole pipeline (not a test): N products through the four services.

Prints the end-to-end latency from ingestion accepting a product to its first published asset
(p50/p95), the throughput of the batch in assets per second, and, measured in the same run, the
throughput of the same render code run in-process (no Kafka, MinIO or Triton: flat-lay decode,
garment prep, body, render, QA, PNG encode, on both cores) with the ratio pipeline / in-process. Expects the local stack
to be up (infra/stack.sh up); starts and stops the services itself.

    .venv/bin/python benchmarks/pipeline.py --products 6
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace

from benchmarks.render import DictStore
from devkit.catalogue import load_catalogue
from devkit.ingest_client import post_product
from devkit.local_services import services_running, skip_backlog
from devkit.pipeline_watch import PipelineWatch
from services.render.handlers import RenderModels, TextureCache, render
from services.render.inference import BodyRunner, GarmentPrepRunner, InProcessModel, RenderRunner
from twinwear.v1 import events_pb2
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.storage import MinioObjectStore


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _render_share(share: tuple[list[bytes], dict[tuple[str, str], bytes]]) -> int:
    """One worker's share of the planned requests, rendered by the render service's own render
    path with the models' runners in this process, the images they name held in memory."""
    raw_requests, objects = share
    models = RenderModels(
        InProcessModel(GarmentPrepRunner()), InProcessModel(BodyRunner()), InProcessModel(RenderRunner())
    )
    store, textures = DictStore(), TextureCache()
    store.objects.update(objects)
    with ThreadPoolExecutor(2) as pool:
        for raw in raw_requests:
            render(events_pb2.RenderRequested.FromString(raw), store, models, pool, textures)
    return len(raw_requests)


def in_process_renders_per_second(requests: list[events_pb2.RenderRequested], workers: int = 2) -> float:
    """The same requests the pipeline rendered, in-process on ``workers`` processes."""
    minio = MinioObjectStore.from_config(load_config(RuntimeConfig))
    refs = [ref for r in requests for ref in (r.flat_lay, *(image.object for image in r.images)) if ref.key]
    objects = {(ref.bucket, ref.key): minio.get(ref) for ref in refs}
    shares = [([r.SerializeToString() for r in requests[i::workers]], objects) for i in range(workers)]
    started = time.monotonic()
    with ProcessPoolExecutor(workers) as pool:
        renders = sum(pool.map(_render_share, shares))
    return renders / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    catalogue = load_catalogue()
    # Unique SKUs each run, so nothing is skipped as already published.
    products = [replace(catalogue[i % len(catalogue)], sku=f"BENCH-{run}-{i:04d}") for i in range(args.products)]

    skip_backlog()
    with services_running():
        watch = PipelineWatch({p.sku for p in products})
        accepted_at: dict[str, float] = {}
        started = time.monotonic()
        for product in products:
            response = post_product(product.request_body())
            if response.status != 202:
                raise SystemExit(f"ingestion refused {product.sku}: {response.status} {response.body}")
            accepted_at[product.sku] = time.monotonic()
        accept_seconds = time.monotonic() - started
        outcome = watch.wait(args.timeout, quiet=5.0)
        batch_seconds = time.monotonic() - started - (5.0 if outcome.complete else 0.0)
        first_asset_at = watch.first_asset_at
        watch.close()
    assets = len(outcome.assets)
    pipeline_rate = assets / batch_seconds
    planned = list(outcome.planned.values())
    in_process_rate = in_process_renders_per_second(planned)

    latencies = [first_asset_at[sku] - accepted_at[sku] for sku in first_asset_at if sku in accepted_at]
    print(f"products {len(products)}, renders planned {len(planned)}, assets {assets}, failed {len(outcome.failed)}")
    print(f"ingestion accepted all products in {accept_seconds:.2f} s ({len(products) / accept_seconds:.1f}/s)")
    if latencies:
        print(
            "accepted -> first asset published: "
            f"p50 {percentile(latencies, 0.50):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"mean {statistics.fmean(latencies):.2f} s"
        )
    print(f"pipeline: {assets} assets in {batch_seconds:.2f} s = {pipeline_rate:.3f} assets/s")
    print(f"in-process, the same {len(planned)} requests on 2 processes: {in_process_rate:.3f} renders/s")
    print(f"ratio pipeline / in-process: {pipeline_rate / in_process_rate:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
