"""The shared runtime against the real Kafka broker and MinIO."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition

from devkit.topic_reader import TopicReader
from twinwear.v1 import events_pb2
from twinwear_runtime.events import Incoming, Outgoing, unwrap, wrap
from twinwear_runtime.idempotency import MARKER_DAYS, ObjectStoreIdempotency
from twinwear_runtime.kafka import ConsumerLoop, EventProducer, MessageProcessor, RetryPolicy
from twinwear_runtime.ops_server import Health
from twinwear_runtime.retry import PermanentError
from twinwear_runtime.storage import STATE_BUCKET
from twinwear_runtime.topics import DEAD_LETTER, Topic, ensure_topics

pytestmark = pytest.mark.integration


def product_envelope(sku: str, event_id: str):
    payload = events_pb2.ProductUpserted(sku=sku, revision="r1")
    return wrap(payload, producer="itest", key=sku, event_id=event_id, correlation_id=f"trace-{event_id}")


def plan(event: Incoming, out_topic: str) -> list[Outgoing]:
    if event.payload.sku == "poison":
        raise PermanentError("sku poison cannot be planned")
    request = events_pb2.RenderRequested(render_id=f"render-{event.payload.sku}", sku=event.payload.sku)
    return [Outgoing(out_topic, event.payload.sku, request)]


def consumer_loop(stack, store, service: str, source: Topic, handler, producer: EventProducer, health: Health):
    """A consumer loop as a service runs it, with a real MinIO idempotency store."""
    idempotency = ObjectStoreIdempotency(store, consumer_group=service)
    return ConsumerLoop(
        service,
        stack.kafka_bootstrap,
        [source],
        lambda stop: MessageProcessor(
            service, {events_pb2.ProductUpserted: handler}, producer, idempotency, RetryPolicy(3, 0.01), stop
        ),
        health,
    )


def committed_offset(stack, service: str, topic: str) -> int | None:
    checker = KafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=f"twinwear.{service}")
    try:
        return checker.committed(TopicPartition(topic, 0))
    finally:
        checker.close()


def test_consumer_loop_handles_dedupes_dead_letters_and_commits(stack, store):
    run = uuid.uuid4().hex[:8]
    source, target = Topic(f"itest.source.{run}", partitions=1), Topic(f"itest.target.{run}", partitions=1)
    ensure_topics(stack.kafka_bootstrap, 1, (source, target, DEAD_LETTER))
    service = f"itest-{run}"
    dead_letters, outputs = TopicReader(DEAD_LETTER.name), TopicReader(target.name)

    producer = EventProducer(stack.kafka_bootstrap, service)
    good = product_envelope("A", f"{run}-e1")
    producer.publish([(source.name, good), (source.name, good), (source.name, product_envelope("poison", f"{run}-e2"))])
    producer.send_raw(source.name, b"k", b"\x00garbage", [])

    health = Health()
    loop = consumer_loop(stack, store, service, source, lambda e: plan(e, target.name), producer, health)
    worker = threading.Thread(target=loop.run)
    worker.start()
    try:
        dead = {}
        for record in dead_letters.records(timeout=20):
            headers = dict(record.headers)
            if headers["dlq.original_topic"] == source.name.encode():
                dead[headers["dlq.original_offset"]] = (record.value, headers)
            if len(dead) == 2:
                break
        # Messages are handled in order, so outputs of offsets 0 and 1 are already written; a
        # second output would be the duplicate.
        outputs_seen = list(itertools.islice(outputs.records(timeout=3), 2))
    finally:
        loop.stop()
        worker.join(timeout=30)
    assert not worker.is_alive() and not health.ready

    [(envelope, payload)] = [unwrap(r.value) for r in outputs_seen]
    assert payload.render_id == "render-A"
    assert envelope.causation_id == good.event_id and envelope.correlation_id == good.correlation_id
    assert ObjectStoreIdempotency(store, consumer_group=service).seen(good.event_id)
    [rule] = store.lifecycle(STATE_BUCKET).rules  # markers do not pile up forever
    assert (rule.rule_filter.prefix, rule.expiration.days) == ("processed/", MARKER_DAYS)
    assert dead[b"2"][1]["dlq.reason"] == b"sku poison cannot be planned"
    assert dead[b"3"][0] == b"\x00garbage"
    assert dead[b"3"][1]["dlq.reason"].startswith(b"not a protobuf EventEnvelope")
    assert dead[b"3"][1]["dlq.service"] == service.encode()

    # Every message was committed: a restart would not see any of them again.
    assert committed_offset(stack, service, source.name) == 4
    for tail in (dead_letters, outputs):
        tail.close()
    producer.close()


def test_object_store_round_trip_and_metadata(store):
    bucket = "twinwear-itest"
    store.ensure_buckets(bucket)
    key = f"{uuid.uuid4().hex}.bin"
    ref = store.put(bucket, key, b"hello", "application/octet-stream", metadata={"ai-generated": "true"})
    assert store.exists(bucket, key) and not store.exists(bucket, key + ".missing")
    assert store.get(ref) == b"hello"
    copy = store.copy(ref, bucket, key + ".copy", metadata={"asset-id": "a1"})
    assert store.get(copy) == b"hello" and copy.sha256 == ref.sha256
    assert store.metadata(bucket, key + ".copy") == {"asset-id": "a1"}


def test_stop_finishes_the_in_flight_message_commits_it_and_goes_no_further(stack, store):
    run = uuid.uuid4().hex[:8]
    source, target = Topic(f"itest.stop-source.{run}", partitions=1), Topic(f"itest.stop-target.{run}", partitions=1)
    ensure_topics(stack.kafka_bootstrap, 1, (source, target))
    service = f"itest-stop-{run}"
    producer = EventProducer(stack.kafka_bootstrap, service)
    producer.publish([(source.name, product_envelope(sku, f"{run}-{sku}")) for sku in ("first", "second")])

    handling = threading.Event()

    def slow_plan(event: Incoming) -> list[Outgoing]:
        handling.set()
        time.sleep(1.5)  # SIGTERM arrives while this message is in flight
        return plan(event, target.name)

    loop = consumer_loop(stack, store, service, source, slow_plan, producer, Health())
    worker = threading.Thread(target=loop.run)
    worker.start()
    assert handling.wait(30), "the consumer never started handling"
    loop.stop()
    worker.join(timeout=30)
    assert not worker.is_alive()

    outputs = TopicReader(target.name, from_beginning=True)
    produced = [unwrap(r.value)[1].sku for r in outputs.records(timeout=3)]
    outputs.close()
    assert produced == ["first"]
    assert committed_offset(stack, service, source.name) == 1  # "second" waits for the next run
    producer.close()
