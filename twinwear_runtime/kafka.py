"""Kafka adapters: an exactly-once consumer loop, and a durable producer for request-driven services.

The guarantee
-------------
A :class:`TransactionalConsumer` reads ``read_committed`` and handles a batch of records, then
produces their events and commits their offsets in **one Kafka transaction**. Either the events
and the offsets are both visible, or neither is: a crash, a rebalance, a broker restart or a
producer fenced by a newer instance aborts the transaction, and the records are handled again
with the same outputs, once. Event ids derive from content (``Incoming``/``Outgoing``), so a
redelivery produces events with the same ids.

Its limits
----------
- Only Kafka is inside the transaction. Writes to MinIO (or anything else) happen before it
  commits and may be repeated, so handlers write under deterministic keys: a repeat overwrites.
- A producer outside a transaction (ingestion answering a PIM's HTTP request) is at-least-once:
  a client retry can write the same event twice. Consumers downstream keep the newest version
  per key and treat an equal one as already applied.
- Only records that a consumer has committed count: messages still on a topic when its retention
  ends are gone, handled or not.

Faults (see :mod:`twinwear_runtime.faults`)
-------------------------------------------
- :class:`Unavailable` (broker, MinIO, Triton down or slow): the consumer commits what it handled,
  pauses its partitions, reports not-ready, and retries with capped backoff for as long as it
  takes. It keeps polling, so it stays in its group and its liveness beats.
- A record that cannot be decoded, or whose handler raises :class:`PermanentError`: dead-letter
  topic at once, with ``dlq.*`` headers.
- An event of a type or schema version this consumer does not know: parking topic.
- Any other error (a handler bug): retried up to ``max_attempts`` times, the count kept in the
  committed offset's metadata (so a restart does not reset it), then dead-lettered.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import structlog
from google.protobuf.message import Message
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    FencedInstanceIdError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFencedError,
    TransactionalIdAuthorizationFailedError,
)
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Histogram

from twinwear.v1 import envelope_pb2
from twinwear_runtime import metrics
from twinwear_runtime.events import (
    EventRegistry,
    Incoming,
    MalformedEvent,
    Outgoing,
    Tombstone,
    UnknownEvent,
    unwrap,
    wrap_caused_by,
)
from twinwear_runtime.faults import PermanentError, Unavailable, as_unavailable, backoff_seconds
from twinwear_runtime.ops_server import Health
from twinwear_runtime.topics import DEAD_LETTER, PARKING, Topic

Handler = Callable[[Incoming], Sequence[Outgoing | Tombstone]]
Headers = list[tuple[str, bytes]]

log = structlog.get_logger()

_MetricT = TypeVar("_MetricT", Counter, Histogram)

_FENCED = (ProducerFencedError, FencedInstanceIdError, TransactionalIdAuthorizationFailedError)


class Record(Protocol):
    """The part of a kafka-python ConsumerRecord the runtime reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] | None


@dataclass(frozen=True)
class ProducerRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def event_record(topic: str, envelope: envelope_pb2.EventEnvelope) -> ProducerRecord:
    return ProducerRecord(
        topic,
        envelope.partition_key.encode(),
        envelope.SerializeToString(),
        [
            ("event_type", envelope.event_type.encode()),
            ("event_id", envelope.event_id.encode()),
            ("correlation_id", envelope.correlation_id.encode()),
        ],
    )


def producer_settings(bootstrap: str, client_id: str) -> dict[str, object]:
    """Settings every twinwear producer shares: durable (acks=all, idempotent), zstd-compressed,
    and bounded in time so that a broker outage surfaces as an error the caller can wait out."""
    return {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": "zstd",
        "linger_ms": 5,
        "max_block_ms": 10_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
    }


class EventSink(Protocol):
    """Where request-driven code (ingestion) writes events; returns once they are durable."""

    def publish(self, events: Sequence[tuple[str, envelope_pb2.EventEnvelope]]) -> None: ...


class EventProducer:
    """At-least-once producer for code that answers requests rather than consuming: ``publish``
    returns once every event is durable, and raises :class:`Unavailable` when the broker is not."""

    def __init__(self, bootstrap: str, service: str, send_timeout_seconds: float = 30.0) -> None:
        self._service = service
        self._timeout = send_timeout_seconds
        try:
            self._producer = KafkaProducer(**producer_settings(bootstrap, f"twinwear-{service}"))
        except KafkaError as error:
            raise Unavailable("kafka", str(error)) from error

    def publish(self, events: Sequence[tuple[str, envelope_pb2.EventEnvelope]]) -> None:
        self.send([event_record(topic, envelope) for topic, envelope in events])
        for _, envelope in events:
            metrics.EVENTS_PRODUCED.labels(self._service, envelope.event_type).inc()

    def send(self, records: Sequence[ProducerRecord]) -> None:
        try:
            futures = [self._producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records]
            self._producer.flush(timeout=self._timeout)
            for future in futures:
                future.get(timeout=self._timeout)  # raises if the broker did not acknowledge it
        except KafkaError as error:
            raise Unavailable("kafka", str(error) or type(error).__name__) from error

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)


def failure_headers(record: Record, service: str, reason: str, error_class: str) -> Headers:
    """The original headers plus why and where from, so the message can be inspected and replayed
    (the dead-letter and parking topics both carry them)."""
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


class HandlerFailed(Exception):
    """A handler raised something that is neither a bad message nor an outage; tried again later."""

    def __init__(self, attempt: int, cause: BaseException) -> None:
        super().__init__(f"attempt {attempt} failed: {type(cause).__name__}: {cause}")
        self.attempt = attempt


class RecordProcessor:
    """Turns one consumed record into what to produce for it: its handler's events, a dead letter,
    a parked copy, or nothing. Raises :class:`Unavailable` to be waited out and
    :class:`HandlerFailed` to be tried again."""

    def __init__(
        self, service: str, registry: EventRegistry, handlers: Mapping[type[Message], Handler], max_attempts: int
    ) -> None:
        self._service = service
        self._registry = registry
        self._handlers = handlers
        self._max_attempts = max_attempts
        # Label children of the per-record metrics, looked up once per event type (labels() takes a
        # lock and builds a key on every call).
        self._children: dict[tuple[Counter | Histogram, str], Counter | Histogram] = {}

    def _metric(self, metric: _MetricT, event_type: str) -> _MetricT:
        """``metric.labels(service, event_type)``, the same child each time."""
        child = self._children.get((metric, event_type))
        if child is None:
            child = self._children[(metric, event_type)] = metric.labels(self._service, event_type)
        return child  # type: ignore[return-value]

    def process(self, record: Record, attempt: int = 1) -> list[ProducerRecord]:
        if record.value is None:
            # A tombstone on a compacted topic: the key is deleted, and the event before it said why.
            return []
        try:
            envelope, payload = unwrap(record.value, self._registry)
        except MalformedEvent as error:
            metrics.EVENTS_CONSUMED.labels(self._service, "malformed").inc()
            return [self._set_aside(DEAD_LETTER, record, "malformed", str(error), "MalformedEvent")]
        except UnknownEvent as error:
            metrics.EVENTS_CONSUMED.labels(self._service, "unknown").inc()
            return [self._set_aside(PARKING, record, "unknown", str(error), "UnknownEvent")]
        incoming = Incoming(
            envelope, payload, record.topic, record.partition, record.offset, tuple(record.headers or ())
        )
        event_type = incoming.event_type
        self._metric(metrics.EVENTS_CONSUMED, event_type).inc()
        handler = self._handlers.get(type(payload))
        if handler is None:
            log.debug("event type not handled here", event_type=event_type)
            return []
        with structlog.contextvars.bound_contextvars(
            event_id=incoming.event_id, event_type=event_type, trace_id=envelope.correlation_id
        ):
            try:
                with self._metric(metrics.HANDLER_SECONDS, event_type).time():
                    outgoing = handler(incoming)
                    produced = [self._record(incoming, o) for o in outgoing]
            except PermanentError as error:
                return [self._set_aside(DEAD_LETTER, record, event_type, str(error), type(error).__name__)]
            except Exception as error:
                if unavailable := as_unavailable(error):
                    if unavailable is not error:
                        raise unavailable from error
                    raise
                if attempt >= self._max_attempts:
                    reason = f"gave up after {attempt} attempts: {type(error).__name__}: {error}"
                    return [self._set_aside(DEAD_LETTER, record, event_type, reason, type(error).__name__)]
                metrics.EVENTS_FAILED.labels(self._service, event_type, "retried").inc()
                log.warning("handler failed", attempt=attempt, error=f"{type(error).__name__}: {error}")
                raise HandlerFailed(attempt, error) from error
            # Per event at debug: one info line per committed batch keeps logging off the hot path.
            log.debug("event handled", produced=len(outgoing))
        for o in outgoing:
            if isinstance(o, Outgoing):
                self._metric(metrics.EVENTS_PRODUCED, o.payload.DESCRIPTOR.full_name).inc()
        return produced

    def _record(self, cause: Incoming, outgoing: Outgoing | Tombstone) -> ProducerRecord:
        if isinstance(outgoing, Tombstone):
            return ProducerRecord(outgoing.topic, outgoing.key.encode(), None, [])
        return event_record(outgoing.topic, wrap_caused_by(cause, outgoing, self._service))

    def _set_aside(
        self, topic: Topic, record: Record, event_type: str, reason: str, error_class: str
    ) -> ProducerRecord:
        outcome = "parked" if topic is PARKING else "dead_lettered"
        metrics.EVENTS_FAILED.labels(self._service, event_type, outcome).inc()
        log.error(
            f"message {outcome.replace('_', '-')}",
            reason=reason,
            original_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        headers = failure_headers(record, self._service, reason, error_class)
        return ProducerRecord(topic.name, record.key, record.value, headers)


@dataclass(frozen=True)
class ConsumerSettings:
    instance_id: str
    batch_size: int = 100
    max_attempts: int = 5
    retry_base_seconds: float = 0.5
    retry_cap_seconds: float = 30.0
    # Records of a batch handled at once (render sends them to Triton together). 1 keeps the
    # handler calls in offset order, which handlers with per-key state need.
    concurrency: int = 1
    # A restarted instance takes its partitions back at once (static membership); a dead one is
    # replaced after this long.
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000
    # A batch stops taking records after this long and commits what it has: it bounds how long
    # results wait before downstream sees them, and stays well inside both the poll interval and
    # the transaction timeout (past which the broker aborts the transaction).
    batch_seconds: float = 2.0
    transaction_timeout_ms: int = 120_000


class TransactionListener(Protocol):
    """State a handler keeps in memory alongside the transaction (e.g. the newest version per
    key): it holds changes as pending until the batch's transaction commits."""

    def committed(self) -> None: ...

    def discard(self) -> None:
        """Pending changes are void, and other writers may have written meanwhile (an abandoned
        transaction, new partitions): forget them and read the state afresh before deciding."""


class FencedByNewerInstance(RuntimeError):
    """Another process took over this consumer's identity; this one must stop writing."""


class TransactionalConsumer:
    """Polls batches, hands each record to a :class:`RecordProcessor`, and commits each batch's
    events and offsets in one transaction. ``stop`` (from SIGTERM) lets the record in hand finish,
    commits what was handled and closes."""

    LAG_REFRESH_SECONDS = 5.0
    # Deadline for one request to the group or transaction coordinator.
    REQUEST_TIMEOUT_MS = 30_000

    def __init__(
        self,
        service: str,
        bootstrap: str,
        topics: Sequence[Topic],
        processor: RecordProcessor,
        health: Health,
        settings: ConsumerSettings,
        listeners: Sequence[TransactionListener] = (),
    ) -> None:
        self._service = service
        self._listeners = listeners
        self._bootstrap = bootstrap
        self._processor = processor
        self._health = health
        self._settings = settings
        self._stop = threading.Event()
        self._group = f"twinwear.{service}"
        self._transactional_id = f"twinwear.{service}.{settings.instance_id}"
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self._group,
            group_instance_id=f"{service}.{settings.instance_id}",
            client_id=f"twinwear-{service}",
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.batch_size,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(1000, settings.session_timeout_ms // 4),
            max_poll_interval_ms=settings.max_poll_interval_ms,
        )
        self._consumer.subscribe([t.name for t in topics], listener=_ForgetAttemptsOnAssignment(self))
        self._producer: KafkaProducer | None = None
        self._executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix=f"{service}-handler")
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._attempts_read: set[TopicPartition] = set()
        self._resync = False
        self._transaction_timeout_s = settings.transaction_timeout_ms / 1000
        self._outage_streak = 0
        self._lag_refreshed = 0.0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        log.info("consuming", topics=sorted(self._consumer.subscription() or ()), instance=self._transactional_id)
        try:
            while not self._stop.is_set():
                self._health.beat()
                if not self._ensure_producer() or (self._resync and not self._resync_positions()):
                    continue
                batch = self._consumer.poll(timeout_ms=500)
                if batch:
                    self._handle_batch(batch)
                else:
                    self._health.set_ready()
                self._refresh_lag()
        finally:
            self._health.set_ready(False)
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._consumer.close(autocommit=False)
            if self._producer is not None:
                self._producer.close(timeout=5)
            log.info("consumer closed")

    # -- the producer --------------------------------------------------------------------------

    def _ensure_producer(self) -> bool:
        """A transactional producer, made (and any transaction a predecessor left open aborted)
        when there is none; False after waiting out a broker that cannot be reached."""
        if self._producer is not None:
            return True
        try:
            producer = KafkaProducer(
                **producer_settings(self._bootstrap, f"twinwear-{self._service}"),
                transactional_id=self._transactional_id,
                transaction_timeout_ms=self._settings.transaction_timeout_ms,
            )
            try:
                producer.init_transactions()
            except BaseException:
                producer.close(timeout=0)
                raise
        except _FENCED as error:
            raise FencedByNewerInstance(f"{self._transactional_id}: {error}") from error
        except KafkaError as error:
            self._wait_out(Unavailable("kafka", str(error) or type(error).__name__))
            return False
        self._producer = producer
        return True

    def _drop_producer(self) -> None:
        """Close the producer without waiting; its successor's ``init_transactions`` settles what
        it left open, after which positions are re-read from the committed offsets."""
        producer, self._producer = self._producer, None
        self._resync = True
        if producer is None:
            return
        try:
            producer.close(timeout=0)
        except KafkaError:
            # close() flushes first and gives up on pending batches before stopping its network
            # thread; stop it here, or it retries against a dead broker for ever (kafka-python 3.0).
            with contextlib.suppress(Exception):
                producer._sender.force_close()

    def _resync_positions(self) -> bool:
        """After a transaction whose outcome is unknown (aborted, or a commit that timed out),
        fetch again from what the group committed. False when the broker did not answer."""
        try:
            for tp in self._consumer.assignment():
                committed = self._consumer.committed(tp, timeout_ms=self.REQUEST_TIMEOUT_MS)
                if committed is None:
                    self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek(tp, committed)
        except (KafkaError, ValueError) as error:
            self._wait_out(Unavailable("kafka", str(error) or type(error).__name__))
            return False
        self._resync = False
        for listener in self._listeners:
            listener.discard()
        return True

    def _await(self, result: Any, what: str) -> None:
        """Wait for a transactional request with a deadline. kafka-python's own calls
        (commit_transaction, send_offsets_to_transaction) wait without one and retry for ever
        while the broker is away, which would stall liveness and ignore SIGTERM."""
        assert self._producer is not None
        self._producer._sender.wakeup()
        deadline = time.monotonic() + self.REQUEST_TIMEOUT_MS / 1000
        while not result.wait(timeout_ms=500):
            self._health.beat()
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"{what} not acknowledged in {self.REQUEST_TIMEOUT_MS / 1000:.0f} s")

    # -- a batch -------------------------------------------------------------------------------

    def _handle_batch(self, batch: Mapping[TopicPartition, Sequence[Record]]) -> None:
        producer = self._producer
        assert producer is not None
        records = [record for partition_records in batch.values() for record in partition_records]
        attempts = {id(r): self._attempts_before(r) + 1 for r in records}
        started = time.monotonic()
        deadline = started + self._settings.batch_seconds
        handled = 0
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        sends: list[Any] = []
        failure: tuple[Record, Exception] | None = None
        outcomes = self._outcomes(records, attempts)
        try:
            producer.begin_transaction()
            for record, outcome in outcomes:
                self._health.beat()
                tp = TopicPartition(record.topic, record.partition)
                if isinstance(outcome, Exception):
                    failure = (record, outcome)
                    break
                for produced in outcome:
                    sends.append(
                        producer.send(produced.topic, key=produced.key, value=produced.value, headers=produced.headers)
                    )
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                handled += 1
                self._health.set_ready()  # a record went through: its dependencies answer
                if self._stop.is_set() or time.monotonic() > deadline:
                    break
            if failure and isinstance(failure[1], HandlerFailed):
                record, error = failure
                tp = TopicPartition(record.topic, record.partition)
                # Not past the record: its offset is committed with the attempts it has had.
                offsets[tp] = OffsetAndMetadata(record.offset, _attempts_metadata(record.offset, error.attempt), -1)
            # Every event must be in the log before the commit: kafka-python 3.0.12 commits a
            # transaction whose batches expired while the broker was away, without them (seen in
            # the chaos test: offsets committed, events gone). So flush and check each send.
            producer.flush(timeout=self.REQUEST_TIMEOUT_MS / 1000)
            for sent in sends:
                if sent.failed():
                    raise sent.exception
            if offsets:
                # The same requests as send_offsets_to_transaction() and commit_transaction(),
                # awaited with a deadline (private API of the pinned kafka-python 3.0.12).
                manager = producer._transaction_manager
                self._await(manager.send_offsets_to_transaction(offsets, self._consumer.group_metadata()), "offsets")
            self._await(producer._transaction_manager.begin_commit(), "commit")
        except KafkaError as error:
            fenced = _fencing_error(error)
            # kafka-python also reports a transaction the broker timed out as fenced: not a zombie.
            timed_out = time.monotonic() - started > self._transaction_timeout_s
            if fenced is not None and not (isinstance(fenced, ProducerFencedError) and timed_out):
                self._drop_producer()
                raise FencedByNewerInstance(f"{self._transactional_id}: {fenced!r}") from error
            self._abandon(error)
            return
        finally:
            outcomes.close()
        metrics.TRANSACTIONS.labels(self._service, "committed").inc()
        if handled:
            log.info("batch committed", records=handled, seconds=round(time.monotonic() - started, 3))
        for listener in self._listeners:
            listener.committed()
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            if tp in offsets and record.offset < offsets[tp].offset:
                self._attempts.pop(_attempt_key(record), None)
        self._rewind(batch, offsets)
        if failure is None:
            self._outage_streak = 0
            self._health.set_ready()
            return
        record, error = failure
        if isinstance(error, HandlerFailed):
            self._attempts[_attempt_key(record)] = error.attempt
            self._pause(
                backoff_seconds(error.attempt, self._settings.retry_base_seconds, self._settings.retry_cap_seconds)
            )
        else:
            assert isinstance(error, Unavailable)
            self._wait_out(error)

    def _abandon(self, error: KafkaError) -> None:
        """The broker went away, the group rebalanced, the offsets were refused or the commit timed
        out: the batch's outcome is settled by the next producer, then positions are re-read."""
        metrics.TRANSACTIONS.labels(self._service, "aborted").inc()
        log.warning("transaction abandoned", error=f"{type(error).__name__}: {error}")
        self._drop_producer()
        self._wait_out(Unavailable("kafka", str(error) or type(error).__name__))

    def _outcomes(
        self, records: Sequence[Record], attempts: Mapping[int, int]
    ) -> Iterator[tuple[Record, list[ProducerRecord] | Exception]]:
        """Each record with what it produced or the error that stopped it, in offset order. With
        concurrency above 1, up to that many records are in hand at once (render sends them to
        Triton together); closing the iterator stops taking new ones."""

        def run(record: Record) -> list[ProducerRecord] | Exception:
            try:
                return self._processor.process(record, attempts[id(record)])
            except (Unavailable, HandlerFailed) as error:
                return error

        if self._settings.concurrency == 1:  # in this thread: no hand-over per record
            for record in records:
                yield record, run(record)
            return
        in_flight: deque[tuple[Record, Future[list[ProducerRecord] | Exception]]] = deque()
        pending = iter(records)
        try:
            while True:
                while len(in_flight) < self._settings.concurrency and (record := next(pending, None)) is not None:
                    in_flight.append((record, self._executor.submit(contextvars.copy_context().run, run, record)))
                if not in_flight:
                    return
                record, future = in_flight.popleft()
                yield record, future.result()
        finally:
            for _, future in in_flight:
                future.cancel()

    def _rewind(
        self, batch: Mapping[TopicPartition, Sequence[Record]], done: Mapping[TopicPartition, OffsetAndMetadata]
    ) -> None:
        """Move each partition back to its first record not committed, so it is fetched again."""
        for tp, partition_records in batch.items():
            next_offset = done[tp].offset if tp in done else partition_records[0].offset
            if next_offset <= partition_records[-1].offset:
                with contextlib.suppress(KafkaError, ValueError):  # revoked: its next owner starts there
                    self._consumer.seek(tp, next_offset)

    # -- attempts, kept in the committed offset's metadata ---------------------------------------

    def _attempts_before(self, record: Record) -> int:
        """Attempts a record has had: counted here, or, for the first record of a partition after
        it was assigned, read back from the metadata committed with its offset."""
        key = _attempt_key(record)
        tp = TopicPartition(record.topic, record.partition)
        if key not in self._attempts and tp not in self._attempts_read:
            with contextlib.suppress(KafkaError):
                committed = self._consumer.committed(tp, metadata=True, timeout_ms=self.REQUEST_TIMEOUT_MS)
                self._attempts_read.add(tp)
                if committed is not None and committed.offset == record.offset and committed.metadata:
                    self._attempts[key] = _attempts_from_metadata(committed.metadata, record.offset)
        return self._attempts.get(key, 0)

    def discard_listener_state(self) -> None:
        for listener in self._listeners:
            listener.discard()

    def forget_attempts(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions (re)assigned: another instance may have tried their records since."""
        self._attempts_read.difference_update(partitions)
        self._attempts = {k: v for k, v in self._attempts.items() if TopicPartition(k[0], k[1]) not in partitions}

    # -- waiting ---------------------------------------------------------------------------------

    def _wait_out(self, error: Unavailable) -> None:
        """Not ready, paused, and back off before trying again; the caller tries again."""
        self._outage_streak += 1
        delay = backoff_seconds(
            self._outage_streak, self._settings.retry_base_seconds, self._settings.retry_cap_seconds
        )
        metrics.DEPENDENCY_WAITS.labels(self._service, error.dependency).inc()
        log.warning("waiting for a dependency", dependency=error.dependency, error=str(error), delay_s=delay)
        self._health.set_ready(False)
        metrics.WAITING.labels(self._service).set(1)
        try:
            self._pause(delay)
        finally:
            metrics.WAITING.labels(self._service).set(0)

    def _pause(self, seconds: float) -> None:
        """Fetch nothing for ``seconds`` while still polling, so the consumer stays in its group
        and its liveness beats; a stop ends the pause."""
        end = time.monotonic() + seconds
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                self._health.beat()
                with contextlib.suppress(KafkaError, ValueError):
                    self._consumer.pause(*self._consumer.assignment())  # newly assigned ones too
                    remaining_ms = int(max(0.0, end - time.monotonic()) * 1000)
                    fetched = self._consumer.poll(timeout_ms=min(500, remaining_ms))
                    for tp, records in fetched.items():  # nothing fetched is skipped
                        self._consumer.seek(tp, records[0].offset)
                    if not self._consumer.assignment():
                        time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        finally:
            with contextlib.suppress(KafkaError):
                self._consumer.resume(*self._consumer.paused())

    def _refresh_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_refreshed < self.LAG_REFRESH_SECONDS:
            return
        self._lag_refreshed = now
        with contextlib.suppress(KafkaError):
            assigned: list[TopicPartition] = sorted(self._consumer.assignment())
            if not assigned:
                return
            for tp, end in self._consumer.end_offsets(assigned).items():
                lag = max(0, end - self._consumer.position(tp))
                metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(lag)


class _ForgetAttemptsOnAssignment(ConsumerRebalanceListener):
    def __init__(self, consumer: TransactionalConsumer) -> None:
        self._consumer = consumer

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked", partitions=[f"{tp.topic}/{tp.partition}" for tp in revoked])

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions assigned", partitions=[f"{tp.topic}/{tp.partition}" for tp in assigned])
        self._consumer.forget_attempts(list(assigned))
        self._consumer.discard_listener_state()


def _fencing_error(error: BaseException) -> KafkaError | None:
    """The fencing error behind ``error``: kafka-python raises it as is, or wrapped in the
    KafkaError of a later send ("a previous transactional request has failed")."""
    if isinstance(error, _FENCED):
        return error
    return next((arg for arg in error.args if isinstance(arg, _FENCED)), None)


def _attempt_key(record: Record) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def _attempts_metadata(offset: int, attempts: int) -> str:
    return json.dumps({"offset": offset, "attempts": attempts}, separators=(",", ":"))


def _attempts_from_metadata(metadata: str, offset: int) -> int:
    try:
        document = json.loads(metadata)
        return int(document["attempts"]) if document.get("offset") == offset else 0
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0
