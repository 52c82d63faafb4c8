"""Kafka adapters: a durable producer and an at-least-once consumer loop with retries,
dead-lettering and duplicate suppression.

The loop commits a message's offset only after its handler's effects, the events it produced and
its idempotency marker are durable. A crash before the commit redelivers the message; the
idempotency marker, or the deterministic ids of what it produced, make that redelivery harmless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from google.protobuf.message import Message
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from twinwear.v1 import envelope_pb2
from twinwear_runtime import metrics
from twinwear_runtime.events import Incoming, MalformedEvent, Outgoing, unwrap, wrap_caused_by
from twinwear_runtime.idempotency import IdempotencyStore
from twinwear_runtime.ops_server import Health
from twinwear_runtime.retry import PermanentError, backoff_seconds
from twinwear_runtime.topics import DEAD_LETTER, Topic

Handler = Callable[[Incoming], Sequence[Outgoing]]
Headers = list[tuple[str, bytes]]

log = structlog.get_logger()


class Record(Protocol):
    """The part of a kafka-python ConsumerRecord the processor reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] | None


class EventSink(Protocol):
    def publish(self, events: Sequence[tuple[str, envelope_pb2.EventEnvelope]]) -> None: ...

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None: ...


class EventProducer:
    """Produces with acks=all and idempotence; ``publish`` returns once every event is durable."""

    def __init__(self, bootstrap: str, service: str, send_timeout_seconds: float = 30.0) -> None:
        self._service = service
        self._timeout = send_timeout_seconds
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=f"twinwear-{service}",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )

    def publish(self, events: Sequence[tuple[str, envelope_pb2.EventEnvelope]]) -> None:
        futures = [
            self._producer.send(
                topic,
                key=envelope.partition_key.encode(),
                value=envelope.SerializeToString(),
                headers=[
                    ("event_type", envelope.event_type.encode()),
                    ("event_id", envelope.event_id.encode()),
                    ("correlation_id", envelope.correlation_id.encode()),
                ],
            )
            for topic, envelope in events
        ]
        self._producer.flush(timeout=self._timeout)
        for future, (_, envelope) in zip(futures, events, strict=True):
            future.get(timeout=self._timeout)  # raises if the broker did not acknowledge it
            metrics.EVENTS_PRODUCED.labels(self._service, envelope.event_type).inc()

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        future = self._producer.send(topic, key=key, value=value, headers=headers)
        self._producer.flush(timeout=self._timeout)
        future.get(timeout=self._timeout)

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 0.2


def dead_letter_headers(record: Record, service: str, reason: str, error_class: str) -> Headers:
    """The original headers plus why and where from, so the message can be inspected and replayed."""
    return [
        *(record.headers or []),
        ("dlq.reason", reason.encode()),
        ("dlq.error_class", error_class.encode()),
        ("dlq.service", service.encode()),
        ("dlq.original_topic", record.topic.encode()),
        ("dlq.original_partition", str(record.partition).encode()),
        ("dlq.original_offset", str(record.offset).encode()),
        ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
    ]


class MessageProcessor:
    """Handles one consumed record: decode, drop duplicates, run the handler with retries,
    produce its events, mark it handled; dead-letter what cannot be handled."""

    def __init__(
        self,
        service: str,
        handlers: Mapping[type[Message], Handler],
        sink: EventSink,
        idempotency: IdempotencyStore,
        retry: RetryPolicy,
        stop_requested: threading.Event,
    ) -> None:
        self._service = service
        self._handlers = handlers
        self._sink = sink
        self._idempotency = idempotency
        self._retry = retry
        self._stop = stop_requested

    def process(self, record: Record) -> bool:
        """Return True when the record is finished with (handled, duplicate or dead-lettered) and
        its offset may be committed; False when a stop interrupted it before that."""
        try:
            envelope, payload = unwrap(record.value)
        except MalformedEvent as error:
            metrics.EVENTS_CONSUMED.labels(self._service, "malformed").inc()
            self._dead_letter(record, "malformed", str(error), "MalformedEvent")
            return True
        incoming = Incoming(
            envelope, payload, record.topic, record.partition, record.offset, tuple(record.headers or ())
        )
        metrics.EVENTS_CONSUMED.labels(self._service, incoming.event_type).inc()
        with structlog.contextvars.bound_contextvars(
            event_id=incoming.event_id, event_type=incoming.event_type, trace_id=envelope.correlation_id
        ):
            handler = self._handlers.get(type(payload))
            if handler is None:
                self._dead_letter(
                    record,
                    incoming.event_type,
                    f"{self._service} has no handler for {incoming.event_type}",
                    "UnhandledEventType",
                )
                return True
            return self._handle_with_retries(record, incoming, handler)

    def _handle_with_retries(self, record: Record, incoming: Incoming, handler: Handler) -> bool:
        event_type = incoming.event_type
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                if self._idempotency.seen(incoming.event_id):
                    metrics.EVENTS_DUPLICATE.labels(self._service, event_type).inc()
                    log.info("duplicate event skipped")
                    return True
                with metrics.HANDLER_SECONDS.labels(self._service, event_type).time():
                    outgoing = handler(incoming)
                    self._sink.publish(
                        [(o.topic, wrap_caused_by(incoming, o, i, self._service)) for i, o in enumerate(outgoing)]
                    )
                    self._idempotency.mark(incoming.event_id)
                log.info("event handled", produced=len(outgoing))
                return True
            except PermanentError as error:
                self._dead_letter(record, event_type, str(error), type(error).__name__)
                return True
            except Exception as error:  # noqa: BLE001 - anything else may be transient: retry, bounded
                if attempt == self._retry.max_attempts:
                    reason = f"gave up after {attempt} attempts: {error}"
                    self._dead_letter(record, event_type, reason, type(error).__name__)
                    return True
                metrics.EVENTS_FAILED.labels(self._service, event_type, "retried").inc()
                delay = backoff_seconds(attempt, self._retry.base_seconds)
                log.warning("handler failed, retrying", attempt=attempt, delay_s=delay, error=str(error))
                if self._stop.wait(delay):
                    return False
        raise AssertionError("unreachable: the last attempt returns")

    def _dead_letter(self, record: Record, event_type: str, reason: str, error_class: str) -> None:
        metrics.EVENTS_FAILED.labels(self._service, event_type, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            reason=reason,
            original_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        headers = dead_letter_headers(record, self._service, reason, error_class)
        self._sink.send_raw(DEAD_LETTER.name, record.key, record.value, headers)


class ConsumerLoop:
    """Polls Kafka and feeds records to a :class:`MessageProcessor`, committing each one after it is
    finished. ``stop`` (from SIGTERM) lets the in-flight message finish, commits and closes."""

    LAG_REFRESH_SECONDS = 5.0

    def __init__(
        self,
        service: str,
        bootstrap: str,
        topics: Sequence[Topic],
        processor_factory: Callable[[threading.Event], MessageProcessor],
        health: Health,
    ) -> None:
        self._service = service
        self._stop = threading.Event()
        self._processor = processor_factory(self._stop)
        self._health = health
        self._consumer = KafkaConsumer(
            *(t.name for t in topics),
            bootstrap_servers=bootstrap,
            group_id=f"twinwear.{service}",
            client_id=f"twinwear-{service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=20,
        )
        self._lag_refreshed = 0.0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._health.set_ready()
        log.info("consuming", topics=sorted(self._consumer.subscription() or ()))
        try:
            while not self._stop.is_set():
                self._health.beat()
                for partition, records in self._consumer.poll(timeout_ms=500).items():
                    for record in records:
                        if self._stop.is_set() or not self._processor.process(record):
                            break
                        self._consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})
                self._refresh_lag()
        finally:
            self._health.set_ready(False)
            self._consumer.close(autocommit=False)
            log.info("consumer closed")

    def _refresh_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_refreshed < self.LAG_REFRESH_SECONDS:
            return
        self._lag_refreshed = now
        assigned: list[TopicPartition] = sorted(self._consumer.assignment())
        if not assigned:
            return
        for tp, end in self._consumer.end_offsets(assigned).items():
            lag = max(0, end - self._consumer.position(tp))
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(lag)
