"""Run the publisher: ``python -m services.publisher``."""

from __future__ import annotations

import dataclasses
import functools

from services.publisher.feed_index import read_feed
from services.publisher.handlers import handle_render_completed, handle_render_failed
from services.publisher.slots import SlotIndex
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import PUBLISHED_BUCKET
from twinwear_contracts.topics import ASSET_FEED, RENDER_RESULTS
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublisherConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9104)


def main() -> None:
    service, config = Service.start("publisher", PublisherConfig, [RENDER_RESULTS, ASSET_FEED], [PUBLISHED_BUCKET])
    slots = SlotIndex(lambda: read_feed(config.kafka_bootstrap))
    handlers = {
        events_pb2.RenderCompleted: functools.partial(handle_render_completed, store=service.store, slots=slots),
        events_pb2.RenderFailed: handle_render_failed,
    }
    # One record at a time, in order: each decision reads the slot state the previous one left.
    service.consume([RENDER_RESULTS], handlers, listeners=[slots])


if __name__ == "__main__":
    main()
