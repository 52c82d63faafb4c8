"""The Kafka topics of twinwear and their settings. Services create what they use at start-up."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int = 3
    config: dict[str, str] = field(default_factory=dict)


PRODUCTS = Topic("twinwear.product.v1")
RENDER_REQUESTS = Topic("twinwear.render-request.v1")
RENDER_RESULTS = Topic("twinwear.render-result.v1")
# Keyed by "<sku>/<twin_id>": compaction keeps the latest asset of each product on each twin.
ASSET_FEED = Topic("twinwear.asset-feed.v1", config={"cleanup.policy": "compact"})
DEAD_LETTER = Topic("twinwear.dead-letter.v1", partitions=1)

ALL_TOPICS = (PRODUCTS, RENDER_REQUESTS, RENDER_RESULTS, ASSET_FEED, DEAD_LETTER)


def ensure_topics(bootstrap: str, replication_factor: int, topics: tuple[Topic, ...] = ALL_TOPICS) -> None:
    """Create the topics that do not exist yet."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="twinwear-topics")
    try:
        existing = set(admin.list_topics())
        for topic in topics:
            if topic.name in existing:
                continue
            new = NewTopic(topic.name, topic.partitions, replication_factor, topic_configs=topic.config)
            with contextlib.suppress(TopicAlreadyExistsError):  # another service created it first
                admin.create_topics([new])
    finally:
        admin.close()
