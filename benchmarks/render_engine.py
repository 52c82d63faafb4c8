"""Benchmark of the render engine in-process (not a test): renders per second and where the time goes.

For each output size, renders R jobs (garment types and bodies in turn) one after another in this
process, after one warm-up render, and prints the mean time per stage:

- body: anny's posed mesh (twinwear_body.BodyModel.mesh),
- garment fit: dressing (garments, base outfit) plus hair and face,
- raster: upload, shadow map, the MSAA frame, the region pass, resolve and read-back,
- masks: the mask passes from the read-back,
- encode: the master as PNG (what render-svc stores; the turntable's WebP/MP4 are render-svc's),

then renders/s (whole jobs including body and encode, and the renderer alone) and the peak RSS.
llvmpipe already spreads one frame over all cores (LP_NUM_THREADS, default: every core), so the
figures use both cores of this machine. On a GPU machine the same code runs on the NVIDIA EGL driver.

    PYTHONPATH=$PWD:$PWD/gen .venv/bin/python benchmarks/render_engine.py --renders 6
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import cv2
import numpy as np

from services.render.engine.api import GarmentTexture, Renderer, RenderJob
from twinwear_body import tape
from twinwear_body.model import BodyModel
from twinwear_body.params import BodyParams

BODIES = (
    {"gender": 1.0, "age": 0.4, "muscle": 0.4, "weight": 0.25, "height": 0.3},
    {"gender": 0.0, "age": 0.7, "muscle": 0.4, "weight": 1.0, "height": 0.55},
    {"gender": 0.0, "age": 0.3, "muscle": 0.9, "weight": 0.5, "height": 0.95},
)
TYPES = ("t-shirt", "dress", "trousers", "jacket", "skirt", "knitwear")
HAIR = ("bob", "curly-afro", "ponytail", "long-straight", "bun", "buzz")


def flat_texture(garment_type: str) -> GarmentTexture:
    """A plain rectangle flat-lay: landmarks default to its bounding box (as prep may leave them)."""
    rgba = np.zeros((512, 448, 4), np.uint8)
    rgba[32:480, 32:416] = (60, 90, 150, 255)
    rgba[::24, :, :3] = 235  # a stripe every 24 px: texture sampling is exercised
    rgba[..., 3] = 0
    rgba[32:480, 32:416, 3] = 255
    return GarmentTexture(rgba, {}, (60, 90, 150))


class Bench:
    """One size's jobs: body, render, encode, each timed."""

    def __init__(
        self, model: BodyModel, renderer: Renderer, params: list[BodyParams], rest: list, width: int, height: int
    ) -> None:
        self.model, self.renderer, self.params, self.rest = model, renderer, params, rest
        self.width, self.height = width, height
        self.stages: dict[str, list[float]] = {
            k: [] for k in ("body", "garment fit", "raster", "masks", "encode", "render", "job")
        }

    def one(self, i: int) -> None:
        j0 = time.perf_counter()
        body = self.model.mesh(self.params[i % len(self.params)], "front")
        b1 = time.perf_counter()
        gtype = TYPES[i % len(TYPES)]
        job = RenderJob(
            body=body,
            rest_measurements=self.rest[i % len(self.rest)],
            garment_type=gtype,
            sleeve_length="",
            length="",
            size=None,
            texture=flat_texture(gtype),
            skin_rgb=(160, 126, 86),
            monk_skin_tone=6,
            hairstyle=HAIR[i % len(HAIR)],
            hair_colour=(50, 35, 25),
            eye_colour=(80, 60, 40),
            width=self.width,
            height=self.height,
        )
        r0 = time.perf_counter()
        result = self.renderer.render(job)
        r1 = time.perf_counter()
        bgra = cv2.cvtColor(result.rgba, cv2.COLOR_RGBA2BGRA)
        ok, _png = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok
        e1 = time.perf_counter()
        t = result.timings_ms
        self.stages["body"].append((b1 - j0) * 1e3)
        self.stages["garment fit"].append(t["garment_fit"] + t["hair_face"])
        self.stages["raster"].append(t["upload"] + t["raster"])
        self.stages["masks"].append(t["masks"])
        self.stages["encode"].append((e1 - r1) * 1e3)
        self.stages["render"].append((r1 - r0) * 1e3)
        self.stages["job"].append((e1 - j0) * 1e3)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=6, help="renders per size")
    parser.add_argument("--sizes", default="1024x1536,2048x3072")
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = BodyModel()  # before the renderer: see raster._load_triton_before_mesa
    load_s = time.perf_counter() - t0
    params = [BodyParams(phenotype=p) for p in BODIES]
    rest = [tape.measure(model.mesh(p, None)) for p in params]
    t0 = time.perf_counter()
    renderer = Renderer()
    context_s = time.perf_counter() - t0
    print(f"body model load {load_s:.1f} s, renderer (EGL context, shaders) {context_s:.2f} s")
    print(f"GL renderer: {renderer.raster.ctx.info['GL_RENDERER']}")

    for size in args.sizes.split(","):
        width, height = (int(x) for x in size.split("x"))
        bench = Bench(model, renderer, params, rest, width, height)
        bench.one(0)  # warm-up: shader compilation, framebuffers
        bench.stages = {k: [] for k in bench.stages}
        wall0, cpu0 = time.perf_counter(), _cpu_s()
        for i in range(args.renders):
            bench.one(i)
        wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
        kinds = ", ".join(TYPES[i % len(TYPES)] for i in range(args.renders))
        print(f"\n{width}x{height}: {args.renders} renders ({kinds})")
        for name, values in bench.stages.items():
            mean, p50 = statistics.mean(values), statistics.median(values)
            print(f"  {name:12s} mean {mean:8.1f} ms   p50 {p50:8.1f} ms   max {max(values):8.1f} ms")
        print(f"  renders/s (renderer alone): {1e3 / statistics.mean(bench.stages['render']):.2f}")
        print(f"  renders/s (whole job: body + render + encode): {args.renders / wall:.2f}")
        cores = os.cpu_count() or 1
        per_job = cpu / args.renders
        bound = cores / per_job
        print(f"  CPU per whole job {per_job:.2f} s (all threads): at most {bound:.2f} jobs/s on {cores} free cores")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} (other processes share these cores)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak_mb:.0f} MiB (body model, renderer and framebuffers included)")


if __name__ == "__main__":
    main()
