"""The consumer's per-message logic, with in-memory stand-ins for Kafka and the idempotency store."""

import threading
from dataclasses import dataclass, field

from twinwear.v1 import events_pb2
from twinwear_runtime.events import Outgoing, unwrap, wrap
from twinwear_runtime.kafka import MessageProcessor, RetryPolicy
from twinwear_runtime.retry import PermanentError, backoff_seconds
from twinwear_runtime.topics import DEAD_LETTER


@dataclass
class FakeRecord:
    value: bytes | None
    topic: str = "twinwear.product.v1"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"TW-1"
    headers: list = field(default_factory=list)


class MemorySink:
    def __init__(self) -> None:
        self.published: list = []
        self.raw: list = []

    def publish(self, events):
        self.published.extend(events)

    def send_raw(self, topic, key, value, headers):
        self.raw.append((topic, key, value, dict(headers)))


class MemoryIdempotency:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def seen(self, event_id):
        return event_id in self.ids

    def mark(self, event_id):
        self.ids.add(event_id)


def product_record(event_id: str = "e1") -> FakeRecord:
    payload = events_pb2.ProductUpserted(sku="TW-1", revision="r1")
    envelope = wrap(payload, producer="test", key="TW-1", event_id=event_id, correlation_id="trace")
    return FakeRecord(envelope.SerializeToString())


def plan_one(event):
    return [Outgoing("twinwear.render-request.v1", "TW-1", events_pb2.RenderRequested(render_id="r", sku="TW-1"))]


def make(handler, attempts: int = 3, stop: threading.Event | None = None):
    sink, seen = MemorySink(), MemoryIdempotency()
    processor = MessageProcessor(
        "twin_builder",
        {events_pb2.ProductUpserted: handler},
        sink,
        seen,
        RetryPolicy(max_attempts=attempts, base_seconds=0.001),
        stop or threading.Event(),
    )
    return processor, sink, seen


def test_handled_event_is_produced_and_marked():
    processor, sink, seen = make(plan_one)
    assert processor.process(product_record()) is True
    [(topic, envelope)] = sink.published
    assert topic == "twinwear.render-request.v1"
    assert envelope.causation_id == "e1" and envelope.correlation_id == "trace"
    assert seen.ids == {"e1"}


def test_events_produced_together_have_distinct_ids():
    def plan_three(event):
        return [Outgoing("t", "TW-1", events_pb2.RenderRequested(render_id=f"r{i}")) for i in range(3)]

    processor, sink, _ = make(plan_three)
    assert processor.process(product_record())
    assert len({envelope.event_id for _, envelope in sink.published}) == 3


def test_same_event_twice_has_one_effect():
    calls = []
    processor, sink, _ = make(lambda event: calls.append(event) or plan_one(event))
    assert processor.process(product_record())
    assert processor.process(product_record())
    assert len(calls) == 1 and len(sink.published) == 1


def test_transient_failures_are_retried_then_succeed():
    failures = iter([ConnectionError("minio down"), ConnectionError("still down")])

    def flaky(event):
        error = next(failures, None)
        if error:
            raise error
        return plan_one(event)

    processor, sink, _ = make(flaky, attempts=3)
    assert processor.process(product_record())
    assert len(sink.published) == 1 and not sink.raw


def test_retries_are_bounded_then_dead_lettered():
    def broken(event):
        raise ConnectionError("triton unreachable")

    processor, sink, seen = make(broken, attempts=3)
    assert processor.process(product_record())
    [(topic, key, _, headers)] = sink.raw
    assert topic == DEAD_LETTER.name and key == b"TW-1"
    assert headers["dlq.reason"] == b"gave up after 3 attempts: triton unreachable"
    assert not sink.published and not seen.ids


def test_permanent_error_is_dead_lettered_at_once_with_its_origin():
    attempts = []

    def reject(event):
        attempts.append(1)
        raise PermanentError("ProductUpserted.flat_lay has no object key")

    processor, sink, _ = make(reject)
    record = product_record()
    assert processor.process(record)
    [(_, _, value, headers)] = sink.raw
    assert len(attempts) == 1
    assert value == record.value
    assert headers["dlq.reason"] == b"ProductUpserted.flat_lay has no object key"
    assert headers["dlq.original_topic"] == b"twinwear.product.v1"
    assert headers["dlq.original_partition"] == b"2"
    assert headers["dlq.original_offset"] == b"41"
    assert headers["dlq.service"] == b"twin_builder"


def test_malformed_message_is_dead_lettered_with_reason():
    processor, sink, _ = make(plan_one)
    assert processor.process(FakeRecord(b"not protobuf \xff"))
    [(_, _, value, headers)] = sink.raw
    assert value == b"not protobuf \xff"
    assert headers["dlq.error_class"] == b"MalformedEvent"
    assert headers["dlq.reason"].startswith(b"not a protobuf EventEnvelope")


def test_event_without_handler_is_dead_lettered():
    processor, sink, _ = make(plan_one)
    envelope = wrap(events_pb2.AssetPublished(asset_id="a"), producer="p", key="k", event_id="x", correlation_id="c")
    assert processor.process(FakeRecord(envelope.SerializeToString()))
    assert sink.raw[0][3]["dlq.reason"] == b"twin_builder has no handler for twinwear.v1.AssetPublished"
    assert unwrap(sink.raw[0][2])[0].event_id == "x"


def test_stop_during_backoff_leaves_the_message_uncommitted():
    stop = threading.Event()

    def fail_and_stop(event):
        stop.set()
        raise ConnectionError("down")

    processor, sink, seen = make(fail_and_stop, attempts=5, stop=stop)
    assert processor.process(product_record()) is False
    assert not sink.raw and not seen.ids


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n, 0.5, cap=3) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3]
