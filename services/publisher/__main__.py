"""Run the publisher: ``python -m services.publisher``."""

from __future__ import annotations

import dataclasses
import functools

from services.publisher.handlers import handle_render_completed
from twinwear.v1 import events_pb2
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service
from twinwear_runtime.storage import PUBLISHED_BUCKET
from twinwear_runtime.topics import RENDER_RESULTS


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublisherConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9104)


def main() -> None:
    service, _ = Service.start("publisher", PublisherConfig, buckets=[PUBLISHED_BUCKET])
    handler = functools.partial(handle_render_completed, store=service.store)
    service.consume([RENDER_RESULTS], {events_pb2.RenderCompleted: handler})


if __name__ == "__main__":
    main()
