"""The domain topics, their keys and the events each carries (see ../shared/design/event-map.md).

Each topic has one producing service. The runtime's own topics (dead letters, parking) are in
``twinwear_runtime.topics``.
"""

from __future__ import annotations

from twinwear.v1 import events_pb2
from twinwear_runtime.topics import Topic

# Keyed by sku, so every version of a product stays in order on one partition.
PRODUCTS = Topic("twinwear.product.v1", events=(events_pb2.ProductUpserted, events_pb2.ProductRetired))
# Keyed by sku: the renders of one product are handled in order.
RENDER_REQUESTS = Topic("twinwear.render-request.v1", events=(events_pb2.RenderRequested,))
RENDER_RESULTS = Topic("twinwear.render-result.v1", events=(events_pb2.RenderCompleted, events_pb2.RenderFailed))
# Keyed by asset slot "<sku>/<twin_id>/<pose>": compaction keeps the newest asset of each slot.
ASSET_FEED = Topic("twinwear.asset-feed.v1", config={"cleanup.policy": "compact"}, events=(events_pb2.AssetPublished,))

DOMAIN_TOPICS = (PRODUCTS, RENDER_REQUESTS, RENDER_RESULTS, ASSET_FEED)


def asset_slot(sku: str, twin_id: str, pose: str) -> str:
    """The feed key: one slot holds the newest asset of a product on a twin in a pose."""
    return f"{sku}/{twin_id}/{pose}"
