"""Benchmark of the publisher's per-asset file work, in process (not a test): derivatives, IPTC
XMP and C2PA signing, timed step by step on render-like masters; verification is timed apart
(it is not part of publishing). No Kafka or MinIO: the pipeline comparison builds on this.

Masters are made in memory: a studio gradient backdrop with a noisy garment (noise keeps the
encoders honest; flat colour compresses unrealistically well). Signing uses the development CA
(made under a temporary directory). Prints per-asset milliseconds per step (median, p95), the
derivatives per asset, and assets per second for the three publishing steps together.

    .venv/bin/python benchmarks/publish_steps.py --assets 20 --width 1024 --height 1536
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from services.publisher.provenance import AssetFacts, C2paSigner, ModelRef, make_derivatives, verify
from services.publisher.provenance.dev_ca import ensure_dev_ca
from services.publisher.provenance.xmp import XMP_CONTENT_TYPES, embed_iptc_xmp


def render_like_master(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    rows = np.linspace(245, 215, height)[:, None, None]
    pixels = np.broadcast_to(rows, (height, width, 3)).astype(np.float32).copy()
    top, bottom, left, right = height // 8, height - height // 10, width // 3, 2 * width // 3
    garment = np.array([150, 40, 70], np.float32) + rng.normal(0, 12, (bottom - top, right - left, 3))
    pixels[top:bottom, left:right] = garment
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def since(start: float) -> float:
    """Milliseconds from ``start`` (a ``time.perf_counter()`` reading) to now."""
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=1536)
    parser.add_argument("--labelled", default="social", help="labelled channels, comma-separated ('' for none)")
    args = parser.parse_args()
    labelled = [c for c in args.labelled.split(",") if c]
    with tempfile.TemporaryDirectory() as directory:
        credentials = ensure_dev_ca(Path(directory))
        signer = C2paSigner.from_files(credentials.signer_chain_pem, credentials.signer_key_pem)
        trust = credentials.ca_pem.read_text()
    masters = [render_like_master(args.width, args.height, seed) for seed in range(args.assets)]
    steps: dict[str, list[float]] = {"derivatives": [], "xmp": [], "sign": [], "verify": []}
    counts = []
    for index, master in enumerate(masters):
        facts = AssetFacts(f"a{index}", f"r{index}", "look", "SKU", 1, "twin", "consent", (ModelRef("render", "1"),))
        start = time.perf_counter()
        derivatives = make_derivatives(master, channels=["ecommerce", *labelled], labelled_channels=labelled)
        steps["derivatives"].append(since(start))
        counts.append(len(derivatives))
        xmp_ms = sign_ms = verify_ms = 0.0
        for derivative in derivatives:
            data = derivative.data
            start = time.perf_counter()
            if derivative.content_type in XMP_CONTENT_TYPES:
                data = embed_iptc_xmp(data)
            xmp_ms += since(start)
            start = time.perf_counter()
            signed = signer.sign(data, derivative.content_type, facts, f"{derivative.name}.{derivative.extension}")
            sign_ms += since(start)
            start = time.perf_counter()
            result = verify(signed, derivative.content_type, trust)
            verify_ms += since(start)
            assert result.valid, result.reasons
        steps["xmp"].append(xmp_ms)
        steps["sign"].append(sign_ms)
        steps["verify"].append(verify_ms)
    print(f"{args.assets} assets, master {args.width}x{args.height}, labelled channels {labelled or 'none'}")
    print(f"derivatives per asset: {statistics.mean(counts):g}")
    for step, values in steps.items():
        p95 = sorted(values)[max(0, round(0.95 * len(values)) - 1)]
        print(f"{step:12s} per asset: median {statistics.median(values):7.1f} ms  p95 {p95:7.1f} ms")
    publish = [d + x + s for d, x, s in zip(steps["derivatives"], steps["xmp"], steps["sign"], strict=True)]
    print(f"publish steps (derivatives + xmp + sign): median {statistics.median(publish):.1f} ms per asset")
    print(f"assets per second, one process: {1000 * len(publish) / sum(publish):.2f}")


if __name__ == "__main__":
    main()
