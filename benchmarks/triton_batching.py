"""Benchmark of Triton's dynamic batching for garment_on_twin (not a test).

Sends N one-row render requests one by one, then N at once from N threads (as the render service
does with TWINWEAR_RENDER_CONCURRENCY), and prints renders per second for each, with the model
executions Triton counted (fewer executions than requests means requests were batched).

    .venv/bin/python benchmarks/triton_batching.py --requests 16 \\
        [--grpc 127.0.0.1:8001 --metrics http://127.0.0.1:8002/metrics]
"""

from __future__ import annotations

import argparse
import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import np_to_triton_dtype

from services.render import model_io


def request_inputs(i: int) -> list[grpcclient.InferInput]:
    garment = np.full(model_io.GARMENT_IMAGE.dims, 250, dtype=np.uint8)
    garment[40:220, 60:200] = (30 + i, 90, 200)
    rows = {
        model_io.GARMENT_IMAGE: garment,
        model_io.GARMENT_RGB: (30, 90, 200),
        model_io.BODY: (150.0 + 2 * i, 90.0 + i, 75.0 + i, 95.0 + i),
        model_io.SKIN_RGB: (141, 85, 36),
    }
    inputs = []
    for spec, value in rows.items():
        array = np.asarray(value, dtype=spec.dtype)[np.newaxis]
        tensor = grpcclient.InferInput(spec.name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def counters(metrics_url: str) -> tuple[float, float]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(metrics_url, timeout=10) as response:
        text = response.read().decode()

    def value(name: str) -> float:
        match = re.search(rf'^{name}\{{model="{model_io.MODEL_NAME}",version="1"\}} (\S+)$', text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    return value("nv_inference_request_success"), value("nv_inference_exec_count")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--grpc", default="127.0.0.1:8001")
    parser.add_argument("--metrics", default="http://127.0.0.1:8002/metrics")
    args = parser.parse_args()

    client = grpcclient.InferenceServerClient(args.grpc)
    output = [grpcclient.InferRequestedOutput(model_io.IMAGE.name)]
    all_inputs = [request_inputs(i) for i in range(args.requests)]

    def one(inputs: list[grpcclient.InferInput]) -> None:
        client.infer(model_io.MODEL_NAME, inputs, outputs=output)

    one(all_inputs[0])  # warm-up
    for label, run in (
        ("one by one", lambda: [one(inputs) for inputs in all_inputs]),
        ("concurrent", lambda: list(ThreadPoolExecutor(args.requests).map(one, all_inputs))),
    ):
        requests0, execs0 = counters(args.metrics)
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        time.sleep(0.5)
        requests1, execs1 = counters(args.metrics)
        print(
            f"{label:>10}: {args.requests} renders in {elapsed:.2f} s = {args.requests / elapsed:.1f} renders/s "
            f"({requests1 - requests0:g} requests, {execs1 - execs0:g} model executions)"
        )
    client.close()


if __name__ == "__main__":
    main()
