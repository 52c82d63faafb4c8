"""The inbox topic's adapter: verified PIM deliveries written durably (acks=all, idempotent
producer) before a webhook answers 2xx. One producer serves every request, so records of
concurrent requests share batches; a request waits only for its own records' acknowledgements,
without holding a thread while it waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata
from starlette.concurrency import run_in_threadpool

from services.ingestion.accept import SERVICE
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PIM_INBOX
from twinwear_runtime import metrics
from twinwear_runtime.events import derive_id, event_type_of, wrap
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.kafka import ProducerRecord, event_record, producer_settings

_EVENT_TYPE = event_type_of(events_pb2.PimDelivery())


def inbox_key(delivery: events_pb2.PimDelivery) -> str:
    """The record key: the inbox is idempotent on (source, the vendor's event id)."""
    return f"{delivery.source}:{delivery.event_id}"


def inbox_record(delivery: events_pb2.PimDelivery, topic: str = PIM_INBOX.name) -> ProducerRecord:
    """The delivery as an envelope on the inbox topic; a redelivery gets the same event id."""
    key = inbox_key(delivery)
    event_id = derive_id("pim-inbox", key)
    envelope = wrap(delivery, producer=SERVICE, key=key, event_id=event_id, correlation_id=event_id)
    return event_record(topic, envelope)


class InboxWriter:
    """Writes deliveries to the inbox topic. The producer is made on first use, and made again
    after Kafka could not be reached (at most once per ``retry_seconds``), so that the webhooks
    answer 503 while Kafka is down and recover without a restart."""

    def __init__(
        self,
        bootstrap: str,
        ack_timeout_seconds: float = 10.0,
        retry_seconds: float = 5.0,
        topic: str = PIM_INBOX.name,
    ) -> None:
        """``topic``: the inbox topic; another only for benchmarks, which keep out of the shared one."""
        self._bootstrap = bootstrap
        self._topic = topic
        self._ack_timeout = ack_timeout_seconds
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._failed_at = float("-inf")
        # Until then sends go through a worker thread (see write).
        self._troubled_until = float("-inf")
        self._failure = ""
        self._produced = metrics.EVENTS_PRODUCED.labels(SERVICE, _EVENT_TYPE)

    def connect(self) -> None:
        """Make the producer now (at start-up) rather than on the first delivery; raises Unavailable."""
        self._ready_producer()

    def _ready_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() - self._failed_at < self._retry_seconds:
                raise Unavailable("kafka", self._failure)
            try:
                settings = producer_settings(self._bootstrap, f"twinwear-{SERVICE}-inbox")
                # A delivery waits at most about the acknowledgement timeout for an unreachable Kafka.
                settings["bootstrap_timeout_ms"] = int(self._ack_timeout * 1000)
                producer = KafkaProducer(**settings)
                producer.partitions_for(self._topic)  # metadata now, so that a send never waits for it
            except KafkaError as error:
                self._failed_at, self._failure = time.monotonic(), str(error) or type(error).__name__
                raise Unavailable("kafka", self._failure) from error
            self._producer = producer
            return producer

    def _send(self, records: Sequence[ProducerRecord]) -> list[FutureRecordMetadata]:
        producer = self._ready_producer()
        try:
            return [producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records]
        except KafkaError as error:
            raise Unavailable("kafka", str(error) or type(error).__name__) from error

    async def write(self, deliveries: Sequence[events_pb2.PimDelivery]) -> None:
        """Return once Kafka acknowledged every delivery (all in-sync replicas); raise
        :class:`Unavailable` when it did not within the timeout. Records sent before a failure may
        still be written: the PIM's redelivery has the same keys, which the aggregator dedupes."""
        records = [inbox_record(d, self._topic) for d in deliveries]
        if self._producer is None or time.monotonic() < self._troubled_until:
            # Making a producer waits for Kafka, and while Kafka does not answer, unsent records
            # can fill the producer's buffer, where send() blocks: on a worker thread then.
            futures = await run_in_threadpool(self._send, records)
        else:
            # The metadata is known, so send() only appends to a batch: a hop to a worker thread
            # would cost more than it saves.
            futures = self._send(records)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._ack_timeout):
                await asyncio.gather(*(_acknowledged(loop, f) for f in futures))
        except (TimeoutError, KafkaError) as error:
            self._troubled_until = time.monotonic() + self._retry_seconds + self._ack_timeout
            if isinstance(error, TimeoutError):
                raise Unavailable("kafka", f"not acknowledged within {self._ack_timeout:g} s") from None
            raise Unavailable("kafka", str(error) or type(error).__name__) from error
        self._produced.inc(len(records))

    def write_now(self, deliveries: Sequence[events_pb2.PimDelivery]) -> None:
        """Blocking :meth:`write`, for commands (the backfill)."""
        futures = self._send([inbox_record(d, self._topic) for d in deliveries])
        try:
            for future in futures:
                future.get(timeout=self._ack_timeout)
        except KafkaError as error:
            raise Unavailable("kafka", str(error) or type(error).__name__) from error
        self._produced.inc(len(futures))

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self._ack_timeout)
                self._producer = None


def _acknowledged(loop: asyncio.AbstractEventLoop, future: FutureRecordMetadata) -> asyncio.Future[object]:
    """An asyncio future settled, on ``loop``, when Kafka answers for the record."""
    settled: asyncio.Future[object] = loop.create_future()

    def succeed(metadata: object) -> None:
        if not settled.done():
            settled.set_result(metadata)

    def fail(error: BaseException) -> None:
        if not settled.done():
            settled.set_exception(error)

    # The callbacks run on the producer's I/O thread (or here, when it is already done).
    future.add_callback(lambda metadata: loop.call_soon_threadsafe(succeed, metadata))
    future.add_errback(lambda error: loop.call_soon_threadsafe(fail, error))
    return settled
