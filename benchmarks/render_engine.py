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
        stages: dict[str, list[float]] = {k: [] for k in ("body", "garment fit", "raster", "masks", "encode", "render", "job")}

        def one(i: int, record: bool) -> None:
            j0 = time.perf_counter()
            body = model.mesh(params[i % len(params)], "front")
            b1 = time.perf_counter()
            gtype = TYPES[i % len(TYPES)]
            job = RenderJob(
                body=body,
                rest_measurements=rest[i % len(rest)],
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
                width=width,
                height=height,
            )
            r0 = time.perf_counter()
            result = renderer.render(job)
            r1 = time.perf_counter()
            ok, _png = cv2.imencode(".png", cv2.cvtColor(result.rgba, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 1])
            assert ok
            e1 = time.perf_counter()
            if record:
                t = result.timings_ms
                stages["body"].append((b1 - j0) * 1e3)
                stages["garment fit"].append(t["garment_fit"] + t["hair_face"])
                stages["raster"].append(t["upload"] + t["raster"])
                stages["masks"].append(t["masks"])
                stages["encode"].append((e1 - r1) * 1e3)
                stages["render"].append((r1 - r0) * 1e3)
                stages["job"].append((e1 - j0) * 1e3)

        one(0, record=False)  # warm-up: shader compilation, framebuffers
        wall0 = time.perf_counter()
        for i in range(args.renders):
            one(i, record=True)
        wall = time.perf_counter() - wall0
        print(f"\n{width}x{height}: {args.renders} renders ({', '.join(TYPES[i % len(TYPES)] for i in range(args.renders))})")
        for name, values in stages.items():
            print(f"  {name:12s} mean {statistics.mean(values):8.1f} ms   p50 {statistics.median(values):8.1f} ms   max {max(values):8.1f} ms")
        print(f"  renders/s (renderer alone): {1e3 / statistics.mean(stages['render']):.2f}")
        print(f"  renders/s (whole job: body + render + encode): {args.renders / wall:.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak_mb:.0f} MiB (body model, renderer and framebuffers included)")


if __name__ == "__main__":
    main()
