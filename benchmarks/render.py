"""Benchmark of a render (not a test): renders per second and p50/p95 latency through Triton against
the same code in-process, in the same run, both using the machine's cores; a time breakdown
(body, garment prep, garment fit, raster, encode); peak memory; at 1024x1536 and 2048x3072.

Both sides run services.render.handlers.render, the service's own render path, on the sample
catalogue's flat-lays and an in-memory object store (so MinIO is not what is measured):
- in-process: WORKERS processes, each with its own runners (garment prep, anny, the engine);
- Triton: one process sending WORKERS x 2 renders at a time to Triton's models (two instances each).

    .venv/bin/python benchmarks/render.py [--grpc 127.0.0.1:8001] [--renders 16] [--workers 2]
        [--sizes 1024x1536,2048x3072] [--stages all|prep-body] [--triton-pid PID]

--stages prep-body measures garment prep and body only (for a Triton without the render model).
--triton-pid adds the server's peak memory (its own and its model stubs', from /proc).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from devkit.catalogue import load_catalogue
from services.render import handlers, model_io
from services.render.inference import BodyRunner, GarmentPrepRunner, InProcessModel
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET
from twinwear_runtime.triton import TritonModel

# As the planner does: each look on several twins (garment prep runs once per look and process).
TWINS_PER_LOOK = 4
STAGES = ("body", "garment_prep", "garment_fit", "raster", "encode")


class DictStore:
    """The object store in memory: the benchmark measures rendering, not MinIO."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket, key, data, content_type, metadata=None):
        self.objects[(bucket, key)] = data
        return events_pb2.ObjectRef(bucket=bucket, key=key, content_type=content_type, size_bytes=len(data))

    def get(self, ref):
        return self.objects[(ref.bucket, ref.key)]


def requests(count: int, size: tuple[int, int], store: DictStore) -> list[events_pb2.RenderRequested]:
    """``count`` renders: the catalogue's looks in turn, each on TWINS_PER_LOOK body shapes."""
    catalogue = load_catalogue()
    made = []
    for i in range(count):
        product = catalogue[(i // TWINS_PER_LOOK) % len(catalogue)]
        key = f"bench/{product.sku}.png"
        if (FLAT_LAYS_BUCKET, key) not in store.objects:
            store.put(FLAT_LAYS_BUCKET, key, product.flat_lay_png(), "image/png")
        phenotype = {"gender": (i % 3) / 2, "weight": 0.2 + 0.3 * (i % 3), "height": 0.3 + 0.2 * (i % 2), "age": 0.5}
        made.append(
            events_pb2.RenderRequested(
                render_id=f"bench-{i}",
                sku=product.sku,
                pose="front",
                twin=events_pb2.TwinRef(
                    twin_id=f"bench-twin-{i % 6}",
                    body=events_pb2.BodyMeasurements(
                        stature_cm=170,
                        chest_girth_cm=94,
                        waist_girth_cm=80,
                        hip_girth_cm=100,
                        inside_leg_cm=78,
                        shoulder_width_cm=40,
                    ),
                    body_parameters=events_pb2.BodyParameters(phenotype=phenotype),
                    appearance=events_pb2.Appearance(
                        monk_skin_tone=1 + i % 10, skin_rgb=events_pb2.Rgb(r=170, g=120, b=90), hairstyle="bob"
                    ),
                ),
                images=[
                    events_pb2.ProductImage(
                        role="flat_lay", object=events_pb2.ObjectRef(bucket=FLAT_LAYS_BUCKET, key=key)
                    )
                ],
                garment=events_pb2.Garment(
                    type=product.garment_type, sleeve_length=product.sleeve_length, length=product.length
                ),
                garment_colour=events_pb2.Rgb(
                    **dict(zip("rgb", (int(product.colour[j : j + 2], 16) for j in (1, 3, 5)), strict=True))
                ),
                width=size[0],
                height=size[1],
            )
        )
    return made


def prep_and_body(
    request: events_pb2.RenderRequested,
    store: DictStore,
    models: handlers.RenderModels,
    textures: handlers.TextureCache,
) -> dict[str, float]:
    """The first two stages alone, as render() runs them."""
    clock = handlers.Stopwatch()
    photo = request.images[0].object
    clock.timed("garment_prep", lambda: textures.prepare(photo, request.garment.type, store, models.garment_prep))
    params = request.twin.body_parameters.SerializeToString()
    clock.timed(
        "body",
        lambda: handlers.call_model(
            models.body, model_io.BODY, {"BODY_PARAMETERS": [params], "POSE": model_io.text("front")}
        ),
    )
    return clock.ms


def timed_render(request, store, models, pool, textures, stages: str) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    if stages == "prep-body":
        timings = prep_and_body(request, store, models, textures)
    else:
        timings = dict(handlers.render(request, store, models, pool, textures).timings_ms)
    return time.perf_counter() - started, timings


# --- in-process workers -----------------------------------------------------------------------------
_worker: dict[str, object] = {}


def _start_worker(stages: str) -> None:
    prep, body = InProcessModel(GarmentPrepRunner()), InProcessModel(BodyRunner())
    if stages == "prep-body":
        render = prep  # never called
    else:
        from services.render.inference import RenderRunner

        render = InProcessModel(RenderRunner())
    _worker.update(
        models=handlers.RenderModels(prep, body, render),
        pool=ThreadPoolExecutor(2),
        textures=handlers.TextureCache(),
        stages=stages,
    )


def _work(request_bytes: bytes, flat_lays: dict[tuple[str, str], bytes]) -> tuple[float, dict[str, float], int]:
    store = DictStore()
    store.objects.update(flat_lays)
    request = events_pb2.RenderRequested.FromString(request_bytes)
    seconds, timings = timed_render(
        request, store, _worker["models"], _worker["pool"], _worker["textures"], _worker["stages"]
    )
    return seconds, timings, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_in_process(batch: list[events_pb2.RenderRequested], store: DictStore, workers: int, stages: str):
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(stages,)) as processes:
        warm = [processes.submit(_work, batch[0].SerializeToString(), store.objects) for _ in range(workers)]
        [w.result() for w in warm]  # models loaded and warm in every worker
        started = time.perf_counter()
        results = list(processes.map(_work, [r.SerializeToString() for r in batch], [store.objects] * len(batch)))
        wall = time.perf_counter() - started
    return wall, [(s, t) for s, t, _ in results], max(rss for *_, rss in results) * workers


def run_triton(batch, store, grpc: str, concurrency: int, stages: str):
    models = handlers.RenderModels(*(TritonModel(grpc, spec.name, 600.0) for spec in model_io.MODELS))
    pool, textures = ThreadPoolExecutor(concurrency * 2), handlers.TextureCache()
    try:
        timed_render(batch[0], store, models, pool, textures, stages)  # warm
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as clients:
            results = list(clients.map(lambda r: timed_render(r, store, models, pool, textures, stages), batch))
        return time.perf_counter() - started, results
    finally:
        pool.shutdown()
        for model in models.all():
            model.close()


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process and its descendants (VmHWM), in MB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        status = Path(f"/proc/{current}/status").read_text()
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(c) for c in (task / "children").read_text().split()]
    return total / 1024


def summary(label: str, wall: float, results: list[tuple[float, dict[str, float]]]) -> float:
    latencies = sorted(s for s, _ in results)
    rate = len(results) / wall
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    stages: dict[str, list[float]] = defaultdict(list)
    for _, timings in results:
        for stage, ms in timings.items():
            stages[stage].append(ms)
    breakdown = ", ".join(f"{s} {statistics.mean(stages[s]):.0f}" for s in STAGES if s in stages)
    print(
        f"  {label:<11} {rate:6.2f} renders/s   p50 {statistics.median(latencies) * 1000:7.0f} ms"
        f"   p95 {p95 * 1000:7.0f} ms"
    )
    print(f"  {'':<11} mean ms per render: {breakdown}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc", default=os.environ.get("TWINWEAR_TRITON_GRPC", "127.0.0.1:8001"))
    parser.add_argument("--renders", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sizes", default="1024x1536,2048x3072")
    parser.add_argument("--stages", choices=("all", "prep-body"), default="all")
    parser.add_argument("--triton-pid", type=int)
    args = parser.parse_args()
    print(f"render benchmark: {args.renders} renders per size, {args.workers} workers, stages {args.stages}")
    for size_text in args.sizes.split(","):
        size = tuple(int(v) for v in size_text.split("x"))
        store = DictStore()
        batch = requests(args.renders, size, store)
        print(f"{size[0]}x{size[1]}:")
        wall, results, rss_kb = run_in_process(batch, store, args.workers, args.stages)
        local = summary("in-process", wall, results)
        wall, results = run_triton(batch, store, args.grpc, args.workers * 2, args.stages)
        remote = summary("Triton", wall, results)
        print(f"  ratio Triton / in-process: {remote / local:.2f} (goal >= 0.8)")
        memory = f"  peak memory: in-process workers {rss_kb / 1024:.0f} MB"
        if args.triton_pid:
            memory += f", Triton server and model stubs {peak_rss_mb(args.triton_pid):.0f} MB"
        print(memory)
        if args.stages == "prep-body":
            break  # the size does not change garment prep or the body


if __name__ == "__main__":
    main()
