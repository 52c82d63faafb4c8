"""Kafka topics as the runtime handles them, and the runtime's own topics (dead letters, parking).
The domain topics are declared in ``twinwear_contracts.topics``. Services create what they use at
start-up."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int = 3
    config: dict[str, str] = field(default_factory=dict)
    # The payload types the topic carries; a consumer knows these and parks any other.
    events: tuple[type[Message], ...] = ()


# Messages no consumer can decode or handle, with dlq.* headers saying why and where from.
DEAD_LETTER = Topic("twinwear.dead-letter.v1", partitions=1, config={"retention.ms": str(30 * _DAY_MS)})
# Events of a type or schema version a consumer does not know yet; replayed once one that knows
# them is deployed (python -m twinwear_runtime.dead_letters).
PARKING = Topic("twinwear.parking.v1", partitions=1, config={"retention.ms": str(30 * _DAY_MS)})
RUNTIME_TOPICS = (DEAD_LETTER, PARKING)


def ensure_topics(bootstrap: str, replication_factor: int, topics: Iterable[Topic]) -> None:
    """Create the topics that do not exist yet (the runtime's own topics too)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="twinwear-topics")
    try:
        existing = set(admin.list_topics())
        for topic in (*RUNTIME_TOPICS, *topics):
            if topic.name in existing:
                continue
            new = NewTopic(topic.name, topic.partitions, replication_factor, topic_configs=topic.config)
            with contextlib.suppress(TopicAlreadyExistsError):  # another service created it first
                admin.create_topics([new])
            existing.add(topic.name)
    finally:
        admin.close()
