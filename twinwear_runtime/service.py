"""Service bootstrap shared by all services: logging, ops endpoint, topics, buckets, signals,
and running a consumer. A service's ``__main__`` wires its handlers in through this."""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import structlog
from google.protobuf.message import Message
from kafka.errors import KafkaError

from twinwear_runtime import metrics
from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.events import EventRegistry
from twinwear_runtime.faults import Unavailable, backoff_seconds
from twinwear_runtime.kafka import (
    ConsumerSettings,
    EventProducer,
    FencedByNewerInstance,
    Handler,
    RecordProcessor,
    TransactionalConsumer,
    TransactionListener,
)
from twinwear_runtime.logs import configure_logging
from twinwear_runtime.ops_server import Health, start_ops_server
from twinwear_runtime.storage import MinioObjectStore
from twinwear_runtime.topics import Topic, ensure_topics

ConfigT = TypeVar("ConfigT", bound=RuntimeConfig)
T = TypeVar("T")


def instance_id(config: RuntimeConfig) -> str:
    """This replica's stable name: the configured one, else the host name (a pod's name)."""
    raw = config.instance_id or socket.gethostname()
    return re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:120] or "local"


class Service:
    """One running service process and the adapters every service has."""

    def __init__(self, name: str, config: RuntimeConfig, topics: Sequence[Topic], buckets: Sequence[str]) -> None:
        self.name = name
        self.config = config
        self.log = configure_logging(name, config.log_level)
        self.health = Health()
        self._ops = start_ops_server(config.ops_port, self.health, config.bind_address)
        self.until_available(
            lambda: ensure_topics(config.kafka_bootstrap, config.topic_replication_factor, topics), "kafka"
        )
        self.store = MinioObjectStore.from_config(config)
        self.until_available(lambda: self.store.ensure_buckets(*buckets), "minio")
        self._producer: EventProducer | None = None
        self.log.info("service started", ops_port=config.ops_port)

    @classmethod
    def start(
        cls, name: str, config_cls: type[ConfigT], topics: Sequence[Topic], buckets: Sequence[str]
    ) -> tuple[Service, ConfigT]:
        """Start the service; ``topics`` are those it produces or reads (created when missing)."""
        config = load_config(config_cls)
        return cls(name, config, topics, buckets), config

    @property
    def producer(self) -> EventProducer:
        """A producer for events written outside a consumer's transactions (requests)."""
        if self._producer is None:
            self._producer = self.until_available(
                lambda: EventProducer(self.config.kafka_bootstrap, self.name), "kafka"
            )
        return self._producer

    def until_available(self, call: Callable[[], T], dependency: str) -> T:
        """Run a start-up step, waiting out a dependency that is down (not ready, still live)
        instead of exiting into a crash loop."""
        attempt = 0
        while True:
            try:
                return call()
            except (Unavailable, KafkaError, OSError) as error:
                attempt += 1
                delay = backoff_seconds(attempt, self.config.retry_base_seconds, self.config.retry_cap_seconds)
                metrics.DEPENDENCY_WAITS.labels(self.name, dependency).inc()
                self.log.warning("waiting for a dependency", dependency=dependency, error=str(error), delay_s=delay)
                self.health.beat()
                time.sleep(delay)

    def on_stop_signal(self, stop: Callable[[], None]) -> None:
        """Call ``stop`` on SIGTERM (Kubernetes) or SIGINT (Ctrl-C)."""

        def handle(signum: int, _frame: object) -> None:
            self.log.info("stop requested", signal=signal.Signals(signum).name)
            stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def consume(
        self,
        topics: Sequence[Topic],
        handlers: Mapping[type[Message], Handler],
        concurrency: int = 1,
        listeners: Sequence[TransactionListener] = (),
    ) -> None:
        """Run the exactly-once consumer loop until a stop signal, then close everything. Knows the
        event types of ``topics`` (others are parked) and handles those in ``handlers``."""
        config = self.config
        registry = EventRegistry(event for topic in topics for event in topic.events)
        settings = ConsumerSettings(
            instance_id=instance_id(config),
            batch_size=config.batch_size,
            batch_seconds=config.batch_seconds,
            max_attempts=config.max_attempts,
            retry_base_seconds=config.retry_base_seconds,
            retry_cap_seconds=config.retry_cap_seconds,
            concurrency=concurrency,
        )
        consumer = TransactionalConsumer(
            self.name,
            config.kafka_bootstrap,
            topics,
            RecordProcessor(self.name, registry, handlers, config.max_attempts),
            self.health,
            settings,
            listeners,
        )
        self.on_stop_signal(consumer.stop)
        try:
            consumer.run()
        except FencedByNewerInstance as error:
            self.log.error("fenced by a newer instance of this replica; stopping", error=str(error))
            self.close()
            sys.exit(3)
        self.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self._ops.shutdown()
        self.log.info("service stopped")
        structlog.contextvars.clear_contextvars()
