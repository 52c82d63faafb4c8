"""The shared runtime against the real Kafka broker and MinIO: transactions, each fault class, a
rebalance mid-batch and a producer fenced by a newer instance."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from devkit.topic_reader import TopicReader
from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_runtime.config import RuntimeConfig
from twinwear_runtime.events import EventRegistry, Incoming, Outgoing, unwrap, wrap
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.kafka import (
    ConsumerSettings,
    EventProducer,
    FencedByNewerInstance,
    RecordProcessor,
    TransactionalConsumer,
)
from twinwear_runtime.ops_server import Health
from twinwear_runtime.storage import MinioObjectStore, MissingObject
from twinwear_runtime.topics import DEAD_LETTER, PARKING, Topic, ensure_topics

pytestmark = pytest.mark.integration

REGISTRY = EventRegistry([events_pb2.ProductUpserted, events_pb2.RenderRequested])


def product_envelope(sku: str, event_id: str) -> envelope_pb2.EventEnvelope:
    payload = events_pb2.ProductUpserted(sku=sku, revision="r1")
    return wrap(payload, producer="itest", key=sku, event_id=event_id, correlation_id=f"trace-{event_id}")


@dataclass
class Run:
    """Per-test topics and group, so tests never see each other's messages."""

    stack: RuntimeConfig
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.source = Topic(f"itest.source.{self.name}", partitions=1)
        self.target = Topic(f"itest.target.{self.name}", partitions=1)
        self.service = f"itest-{self.name}"
        ensure_topics(self.stack.kafka_bootstrap, 1, (self.source, self.target))
        self.producer = EventProducer(self.stack.kafka_bootstrap, self.service)
        self.started = threading.Event()

    def send(self, *skus: str) -> None:
        self.producer.publish([(self.source.name, product_envelope(s, f"{self.name}-{s}")) for s in skus])

    def plan(self, event: Incoming) -> list[Outgoing]:
        sku = event.payload.sku
        if sku.startswith("poison"):
            raise PermanentError(f"sku {sku} cannot be planned")
        request = events_pb2.RenderRequested(render_id=f"render-{sku}", sku=sku)
        return [Outgoing(self.target.name, sku, request, request.render_id)]

    def slow_plan(self, event: Incoming) -> list[Outgoing]:
        """Planning that takes a while, so that something can happen mid-batch."""
        self.started.set()
        time.sleep(0.3)
        return self.plan(event)

    def consumer(
        self,
        handler: Callable[[Incoming], list[Outgoing]],
        health: Health | None = None,
        instance: str = "a",
        **settings: object,
    ) -> TransactionalConsumer:
        options = {"batch_size": 10, "retry_base_seconds": 0.2, "retry_cap_seconds": 1.0, "max_attempts": 3}
        options.update(settings)
        return TransactionalConsumer(
            self.service,
            self.stack.kafka_bootstrap,
            [self.source],
            RecordProcessor(
                self.service, REGISTRY, {events_pb2.ProductUpserted: handler}, int(options["max_attempts"])
            ),
            health or Health(),
            ConsumerSettings(instance_id=instance, **options),  # type: ignore[arg-type]
        )

    def outputs(self, timeout: float = 5.0) -> list[str]:
        """The render ids on the target topic as a read_committed consumer sees them."""
        reader = TopicReader(self.target.name, from_beginning=True)
        try:
            return [unwrap(r.value, REGISTRY)[1].render_id for r in reader.records(timeout)]
        finally:
            reader.close()

    def committed(self) -> int | None:
        checker = KafkaConsumer(bootstrap_servers=self.stack.kafka_bootstrap, group_id=f"twinwear.{self.service}")
        try:
            return checker.committed(TopicPartition(self.source.name, 0))
        finally:
            checker.close()

    def failed(self, topic: Topic, timeout: float = 20.0, want: int = 1) -> dict[bytes, dict[str, bytes]]:
        """Dead letters (or parked messages) from this run's source topic, by original offset."""
        reader = TopicReader(topic.name, from_beginning=True)
        found: dict[bytes, dict[str, bytes]] = {}
        try:
            for record in reader.records(timeout):
                headers = dict(record.headers)
                if headers.get("dlq.original_topic") == self.source.name.encode():
                    found[headers["dlq.original_offset"]] = {**headers, "value": record.value}
                if len(found) >= want:
                    break
        finally:
            reader.close()
        return found


@pytest.fixture
def run(stack) -> Iterator[Run]:
    ensure_topics(stack.kafka_bootstrap, 1, ())  # the dead-letter and parking topics
    current = Run(stack)
    yield current
    current.producer.close()


@contextmanager
def running(consumer: TransactionalConsumer) -> Iterator[threading.Thread]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            consumer.run()
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    try:
        yield worker
    finally:
        consumer.stop()
        worker.join(timeout=60)
    assert not worker.is_alive(), "the consumer did not stop"
    if errors and not isinstance(errors[0], FencedByNewerInstance):
        raise errors[0]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_batch_is_handled_dead_lettered_parked_and_committed_in_one_transaction(run):
    run.send("A", "poison-1")
    raw = KafkaProducer(bootstrap_servers=run.stack.kafka_bootstrap, acks="all")
    raw.send(run.source.name, key=b"k", value=b"\x00garbage").get(30)
    unknown = envelope_pb2.EventEnvelope(event_id="u1", event_type="twinwear.v1.FutureEvent", schema_version=1)
    raw.send(run.source.name, key=b"f", value=unknown.SerializeToString()).get(30)
    raw.close()

    health = Health()
    with running(run.consumer(run.plan, health)):
        wait_for(lambda: run.committed() == 4, what="all four messages committed")
        assert health.ready
    assert run.outputs() == ["render-A"]
    dead = run.failed(DEAD_LETTER, want=2)
    assert dead[b"1"]["dlq.reason"] == b"sku poison-1 cannot be planned"
    assert dead[b"2"]["value"] == b"\x00garbage"
    assert dead[b"2"]["dlq.reason"].startswith(b"not a protobuf EventEnvelope")
    assert dead[b"2"]["dlq.service"] == run.service.encode()
    [parked] = run.failed(PARKING).values()
    assert parked["dlq.reason"] == b"unknown event_type 'twinwear.v1.FutureEvent'"


def test_outputs_of_an_aborted_transaction_are_never_seen_and_the_redelivery_produces_them_once(run):
    """A crash between producing and committing: the events were sent, the transaction never
    committed. The next instance fences it, and read_committed readers see each output once."""
    run.send("A", "B", "C")
    crashed = threading.Event()

    class Crash(BaseException):
        """Stands for kill -9: nothing after the sends runs."""

    def plan_then_crash(event: Incoming) -> list[Outgoing]:
        if event.payload.sku == "C" and not crashed.is_set():
            crashed.set()
            raise Crash
        return run.plan(event)

    first = run.consumer(plan_then_crash)
    with pytest.raises(Crash):
        first.run()  # A and B were sent inside the transaction that never commits
    with running(run.consumer(run.plan)):
        wait_for(lambda: run.committed() == 3, what="the redelivery committed")
    assert sorted(run.outputs()) == ["render-A", "render-B", "render-C"]


def test_an_unavailable_object_store_is_waited_out_not_ready_and_nothing_is_dead_lettered(run, stack):
    """A real MinIO client pointed at a port where nothing listens, until the 'outage' ends."""
    run.send("A", "B")
    outage = threading.Event()
    outage.set()
    down = MinioObjectStore.from_config(RuntimeConfig(minio_endpoint="127.0.0.1:9"))
    up = MinioObjectStore.from_config(stack)
    up.ensure_buckets("twinwear-itest")

    def store_then_plan(event: Incoming) -> list[Outgoing]:
        store = down if outage.is_set() else up
        store.put("twinwear-itest", f"{run.name}/{event.payload.sku}", b"x", "text/plain")
        return run.plan(event)

    health = Health()
    with running(run.consumer(store_then_plan, health)):
        wait_for(lambda: not health.ready and health.live, what="not ready while MinIO is unreachable")
        time.sleep(3)  # several backoff rounds, longer than a bounded retry would take
        assert health.live and run.committed() in (None, 0)
        outage.clear()
        wait_for(lambda: run.committed() == 2, what="both handled once MinIO is back")
        wait_for(lambda: health.ready, what="ready again")
    assert sorted(run.outputs()) == ["render-A", "render-B"]
    assert run.failed(DEAD_LETTER, timeout=3) == {}


def test_a_handler_bug_is_dead_lettered_after_bounded_attempts_counted_across_restarts(run):
    run.send("A")
    calls: list[float] = []

    def broken(event: Incoming) -> list[Outgoing]:
        calls.append(time.monotonic())
        raise KeyError("a bug")

    with running(run.consumer(broken, max_attempts=3)):
        wait_for(lambda: len(calls) >= 2, what="two attempts")
    assert len(calls) == 2  # the stop came during the backoff after the second attempt
    with running(run.consumer(broken, max_attempts=3)):  # a restart: a new process would read the same
        [dead] = run.failed(DEAD_LETTER, timeout=30).values()
    assert len(calls) == 3, "the restart reset the attempt count"
    assert dead["dlq.reason"] == b"gave up after 3 attempts: KeyError: 'a bug'"
    assert run.committed() == 1 and run.outputs(timeout=2) == []


def test_stop_finishes_the_in_flight_message_commits_it_and_goes_no_further(run):
    run.send("first", "second")
    handling = threading.Event()

    def slow_plan(event: Incoming) -> list[Outgoing]:
        handling.set()
        time.sleep(1.5)  # SIGTERM arrives while this message is in flight
        return run.plan(event)

    consumer = run.consumer(slow_plan)
    with running(consumer):
        assert handling.wait(30), "the consumer never started handling"
    assert run.outputs() == ["render-first"]
    assert run.committed() == 1  # "second" waits for the next run


def test_a_rebalance_mid_batch_aborts_cleanly_and_every_output_appears_once(run):
    skus = [f"S{i:02d}" for i in range(20)]
    run.send(*skus)

    with running(run.consumer(run.slow_plan, instance="a")), running(run.consumer(run.slow_plan, instance="b")) as late:
        assert run.started.wait(30) and late.is_alive()
        wait_for(lambda: run.committed() == len(skus), what="every record committed")
    outputs = run.outputs()
    assert sorted(outputs) == [f"render-{s}" for s in skus], "an output is missing or doubled"


def test_a_producer_fenced_by_a_newer_instance_stops_and_the_newer_one_produces_once(run):
    skus = [f"F{i:02d}" for i in range(12)]
    run.send(*skus)

    zombie = run.consumer(run.slow_plan, instance="same")
    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(zombie.run, errors), daemon=True)
    worker.start()
    assert run.started.wait(30)
    with running(run.consumer(run.plan, instance="same")):  # the replacement, same identity
        worker.join(timeout=60)
        assert not worker.is_alive(), "the fenced consumer kept running"
        wait_for(lambda: run.committed() == len(skus), what="the newer instance to commit everything")
    assert errors and isinstance(errors[0], FencedByNewerInstance)
    assert sorted(run.outputs()) == [f"render-{s}" for s in skus]


def _capture(target: Callable[[], None], errors: list[BaseException]) -> None:
    try:
        target()
    except BaseException as error:  # noqa: BLE001 - the test inspects it
        errors.append(error)


def test_object_store_round_trip_keeps_metadata_and_content_type(store):
    bucket = "twinwear-itest"
    store.ensure_buckets(bucket)
    key = f"{uuid.uuid4().hex}.png"
    ref = store.put(bucket, key, b"\x89PNG-ish", "image/png", metadata={"ai-generated": "true"})
    assert store.exists(bucket, key) and not store.exists(bucket, key + ".missing")
    assert store.get(ref) == b"\x89PNG-ish"
    copy = store.copy(ref, bucket, key + ".copy", metadata={"asset-id": "a1"})
    assert store.get(copy) == b"\x89PNG-ish" and copy.sha256 == ref.sha256
    assert store.metadata(bucket, key + ".copy") == {"asset-id": "a1"}
    assert store.content_type(bucket, key + ".copy") == "image/png" == copy.content_type


def test_a_reference_to_nothing_is_a_permanent_error(store):
    with pytest.raises(MissingObject):
        store.get(events_pb2.ObjectRef(bucket="twinwear-itest", key=f"missing/{uuid.uuid4().hex}"))
