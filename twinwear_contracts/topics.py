"""The domain topics, their keys and the events each carries (see ../shared/design/event-map.md).

Each topic has one producing service. The runtime's own topics (dead letters, parking) are in
``twinwear_runtime.topics``.
"""

from __future__ import annotations

from twinwear.v1 import events_pb2, twins_pb2
from twinwear_runtime.topics import Topic

# Keyed by the source's event id: verified webhook deliveries as they came, for the aggregator.
PIM_INBOX = Topic("twinwear.pim-inbox.v1", events=(events_pb2.PimDelivery,))
# Keyed by look id, so every version of a look stays in order on one partition.
PRODUCTS = Topic("twinwear.product.v1", events=(events_pb2.ProductUpserted, events_pb2.ProductRetired))
_DAY_MS = 24 * 3600 * 1000
# Keyed by twin id; internal: the only topic that may carry a talent's name. Compaction keeps the
# newest record per twin; after an erasure (TwinDeleted, then a tombstone) it drops the person's
# data within max.compaction.lag.ms, and never before min.compaction.lag.ms, so that consumers
# (the publisher) read the TwinDeleted first.
TWINS = Topic(
    "twinwear.twin.v1",
    config={
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": str(_DAY_MS),
        "max.compaction.lag.ms": str(7 * _DAY_MS),
        "delete.retention.ms": str(_DAY_MS),
    },
    events=(twins_pb2.TwinUpserted, twins_pb2.TwinDeleted),
)
# Keyed by twin id; the audit trail of consent, kept forever.
CONSENT = Topic(
    "twinwear.consent.v1",
    config={"retention.ms": "-1"},
    events=(twins_pb2.ConsentGranted, twins_pb2.ConsentRevoked, twins_pb2.ConsentExpired),
)
# Keyed by look id: the renders of one look are handled in order.
RENDER_REQUESTS = Topic("twinwear.render-request.v1", events=(events_pb2.RenderRequested, events_pb2.RenderCancelled))
RENDER_RESULTS = Topic("twinwear.render-result.v1", events=(events_pb2.RenderCompleted, events_pb2.RenderFailed))
# Keyed by asset slot "<sku>/<twin_id>/<pose>": compaction keeps the newest asset of each slot.
ASSET_FEED = Topic(
    "twinwear.asset-feed.v1",
    config={"cleanup.policy": "compact"},
    events=(events_pb2.AssetPublished, events_pb2.AssetWithdrawn),
)

DOMAIN_TOPICS = (PIM_INBOX, PRODUCTS, TWINS, CONSENT, RENDER_REQUESTS, RENDER_RESULTS, ASSET_FEED)


def asset_slot(sku: str, twin_id: str, pose: str) -> str:
    """The feed key: one slot holds the newest asset of a product on a twin in a pose."""
    return f"{sku}/{twin_id}/{pose}"
