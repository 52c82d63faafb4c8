"""Run the render service: ``python -m services.render``."""

from __future__ import annotations

import dataclasses
import functools

from services.render.handlers import MODEL_NAME, FlatLayCache, handle_render_requested
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import RENDERS_BUCKET
from twinwear_contracts.topics import RENDER_REQUESTS, RENDER_RESULTS
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service
from twinwear_runtime.triton import TritonModel


@dataclasses.dataclass(frozen=True, kw_only=True)
class RenderConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9103)
    triton_grpc: str = env("TWINWEAR_TRITON_GRPC", "127.0.0.1:8001")
    # Requests of a batch sent to Triton at once, so that its dynamic batcher can group them.
    render_concurrency: int = env("TWINWEAR_RENDER_CONCURRENCY", 4)


def main() -> None:
    service, config = Service.start("render", RenderConfig, [RENDER_REQUESTS, RENDER_RESULTS], [RENDERS_BUCKET])
    renderer = TritonModel(config.triton_grpc, MODEL_NAME)
    handler = functools.partial(
        handle_render_requested, store=service.store, renderer=renderer, flat_lays=FlatLayCache(service.store)
    )
    try:
        service.consume([RENDER_REQUESTS], {events_pb2.RenderRequested: handler}, concurrency=config.render_concurrency)
    finally:
        renderer.close()


if __name__ == "__main__":
    main()
