"""Run the render service: ``python -m services.render``."""

from __future__ import annotations

import dataclasses
import functools
from concurrent.futures import ThreadPoolExecutor

from services.render import model_io
from services.render.handlers import (
    CancelledLooks,
    RenderModels,
    TextureCache,
    handle_render_cancelled,
    handle_render_requested,
)
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import BACKGROUNDS_BUCKET, RENDERS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import RENDER_REQUESTS, RENDER_RESULTS
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service
from twinwear_runtime.triton import TritonModel


@dataclasses.dataclass(frozen=True, kw_only=True)
class RenderConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9103)
    triton_grpc: str = env("TWINWEAR_TRITON_GRPC", "127.0.0.1:8001")
    # Requests of a batch handled at once, so that their Triton requests meet in its dynamic batcher.
    render_concurrency: int = env("TWINWEAR_RENDER_CONCURRENCY", 4)
    # A 2048x3072 render with its turntable takes tens of seconds on a CPU Triton.
    triton_timeout_seconds: float = env("TWINWEAR_TRITON_TIMEOUT_SECONDS", 120.0)


def main() -> None:
    service, config = Service.start(
        "render", RenderConfig, [RENDER_REQUESTS, RENDER_RESULTS], [RENDERS_BUCKET, STATE_BUCKET, BACKGROUNDS_BUCKET]
    )
    models = RenderModels(
        *(TritonModel(config.triton_grpc, spec.name, config.triton_timeout_seconds) for spec in model_io.MODELS)
    )
    # Each render sends garment prep and body at once, and a turntable's 24 frames at once.
    pool = ThreadPoolExecutor(max_workers=config.render_concurrency * 24, thread_name_prefix="render-triton")
    cancelled = CancelledLooks(service.store)
    handlers = {
        events_pb2.RenderRequested: functools.partial(
            handle_render_requested,
            store=service.store,
            models=models,
            cancelled=cancelled,
            pool=pool,
            textures=TextureCache(),
        ),
        events_pb2.RenderCancelled: functools.partial(handle_render_cancelled, cancelled=cancelled),
    }
    try:
        service.consume([RENDER_REQUESTS], handlers, concurrency=config.render_concurrency)
    finally:
        pool.shutdown(cancel_futures=True)
        for model in models.all():
            model.close()


if __name__ == "__main__":
    main()
