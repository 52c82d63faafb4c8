"""Service bootstrap shared by all services: logging, ops endpoint, topics, buckets, signals,
and running a consumer. A service's ``__main__`` wires its handlers in through this."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import structlog
from google.protobuf.message import Message

from twinwear_runtime.config import RuntimeConfig, load_config
from twinwear_runtime.idempotency import ObjectStoreIdempotency
from twinwear_runtime.kafka import ConsumerLoop, EventProducer, Handler, MessageProcessor, RetryPolicy
from twinwear_runtime.logs import configure_logging
from twinwear_runtime.ops_server import Health, start_ops_server
from twinwear_runtime.storage import ObjectStore
from twinwear_runtime.topics import Topic, ensure_topics

ConfigT = TypeVar("ConfigT", bound=RuntimeConfig)


class Service:
    """One running service process and the adapters every service has."""

    def __init__(self, name: str, config: RuntimeConfig, buckets: Sequence[str]) -> None:
        self.name = name
        self.config = config
        self.log = configure_logging(name, config.log_level)
        self.health = Health()
        self._ops = start_ops_server(config.ops_port, self.health)
        ensure_topics(config.kafka_bootstrap, config.topic_replication_factor)
        self.store = ObjectStore.from_config(config)
        self.store.ensure_buckets(*buckets)
        self.producer = EventProducer(config.kafka_bootstrap, name)
        self.log.info("service started", ops_port=config.ops_port)

    @classmethod
    def start(cls, name: str, config_cls: type[ConfigT], buckets: Sequence[str]) -> tuple[Service, ConfigT]:
        config = load_config(config_cls)
        return cls(name, config, buckets), config

    def on_stop_signal(self, stop: Callable[[], None]) -> None:
        """Call ``stop`` on SIGTERM (Kubernetes) or SIGINT (Ctrl-C)."""

        def handle(signum: int, _frame: object) -> None:
            self.log.info("stop requested", signal=signal.Signals(signum).name)
            stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def consume(self, topics: Sequence[Topic], handlers: Mapping[type[Message], Handler]) -> None:
        """Run the consumer loop until a stop signal, then close everything."""
        idempotency = ObjectStoreIdempotency(self.store, consumer_group=f"twinwear.{self.name}")
        retry = RetryPolicy(self.config.max_attempts, self.config.retry_base_seconds)
        loop = ConsumerLoop(
            self.name,
            self.config.kafka_bootstrap,
            topics,
            lambda stop: MessageProcessor(self.name, handlers, self.producer, idempotency, retry, stop),
            self.health,
        )
        self.on_stop_signal(loop.stop)
        try:
            loop.run()
        finally:
            self.close()

    def close(self) -> None:
        self.producer.close()
        self._ops.shutdown()
        self.log.info("service stopped")
        structlog.contextvars.clear_contextvars()
