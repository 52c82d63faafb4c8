"""What the consumer makes of one record: its events, a dead letter, a parked copy, a wait or a
retry. Pure logic; the transactions around it are tested on the real broker."""

from dataclasses import dataclass, field

import pytest
from kafka.errors import KafkaError, ProducerFencedError

from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_runtime.events import EventRegistry, Outgoing, Tombstone, unwrap, wrap
from twinwear_runtime.faults import PermanentError, Unavailable, backoff_seconds
from twinwear_runtime.kafka import (
    HandlerFailed,
    RecordProcessor,
    _attempts_from_metadata,
    _attempts_metadata,
    _fencing_error,
)
from twinwear_runtime.topics import DEAD_LETTER, PARKING

REGISTRY = EventRegistry([events_pb2.ProductUpserted, events_pb2.RenderRequested, events_pb2.AssetPublished])


@dataclass
class FakeRecord:
    value: bytes | None
    topic: str = "twinwear.product.v1"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"TW-1"
    headers: list = field(default_factory=list)


def product_record(event_id: str = "e1") -> FakeRecord:
    payload = events_pb2.ProductUpserted(sku="TW-1", revision="r1")
    envelope = wrap(payload, producer="test", key="TW-1", event_id=event_id, correlation_id="trace")
    return FakeRecord(envelope.SerializeToString())


def plan_for(*twins: str):
    def plan(event):
        return [
            Outgoing("twinwear.render-request.v1", "TW-1", events_pb2.RenderRequested(render_id=f"r-{t}"), f"r-{t}")
            for t in twins
        ]

    return plan


def processor(handler, attempts: int = 3) -> RecordProcessor:
    return RecordProcessor("twin_builder", REGISTRY, {events_pb2.ProductUpserted: handler}, attempts)


def test_a_tombstone_becomes_a_record_with_its_key_and_no_value():
    def withdraw(event):
        return [Tombstone("twinwear.asset-feed.v1", "LOOK/twin/front")]

    [produced] = processor(withdraw).process(product_record())
    assert (produced.topic, produced.key, produced.value) == ("twinwear.asset-feed.v1", b"LOOK/twin/front", None)


def test_handled_event_becomes_its_outgoing_events_with_the_trace():
    [produced] = processor(plan_for("a")).process(product_record())
    assert produced.topic == "twinwear.render-request.v1" and produced.key == b"TW-1"
    envelope, payload = unwrap(produced.value, REGISTRY)
    assert envelope.causation_id == "e1" and envelope.correlation_id == "trace"
    assert payload.render_id == "r-a"
    assert dict(produced.headers)["event_id"] == envelope.event_id.encode()


def test_event_ids_come_from_content_not_from_list_position():
    """A twin dropping out of the roster between two deliveries must not shift the others' ids."""

    def ids(*twins):
        return {
            unwrap(p.value, REGISTRY)[1].render_id: unwrap(p.value, REGISTRY)[0].event_id
            for p in processor(plan_for(*twins)).process(product_record())
        }

    before, after = ids("amara", "jonas", "mei"), ids("jonas", "mei")
    assert len(set(before.values())) == 3
    assert after == {k: before[k] for k in after}


def test_an_unavailable_dependency_is_raised_to_be_waited_out_never_dead_lettered():
    def down(event):
        raise Unavailable("minio", "connection refused")

    with pytest.raises(Unavailable) as raised:
        processor(down, attempts=1).process(product_record(), attempt=1)
    assert raised.value.dependency == "minio"


def test_network_errors_count_as_unavailable():
    def down(event):
        raise ConnectionRefusedError("triton")

    with pytest.raises(Unavailable):
        processor(down).process(product_record(), attempt=99)


def test_a_failing_handler_is_retried_then_dead_lettered_on_its_last_attempt():
    def broken(event):
        raise KeyError("bug")

    with pytest.raises(HandlerFailed) as failed:
        processor(broken, attempts=3).process(product_record(), attempt=2)
    assert failed.value.attempt == 2
    [dead] = processor(broken, attempts=3).process(product_record(), attempt=3)
    headers = dict(dead.headers)
    assert dead.topic == DEAD_LETTER.name and dead.key == b"TW-1"
    assert headers["dlq.reason"] == b"gave up after 3 attempts: KeyError: 'bug'"


def test_permanent_error_is_dead_lettered_at_once_with_its_origin():
    def reject(event):
        raise PermanentError("ProductUpserted.flat_lay has no object key")

    record = product_record()
    [dead] = processor(reject).process(record, attempt=1)
    headers = dict(dead.headers)
    assert dead.topic == DEAD_LETTER.name and dead.value == record.value
    assert headers["dlq.reason"] == b"ProductUpserted.flat_lay has no object key"
    assert headers["dlq.original_topic"] == b"twinwear.product.v1"
    assert headers["dlq.original_partition"] == b"2"
    assert headers["dlq.original_offset"] == b"41"
    assert headers["dlq.service"] == b"twin_builder"


def test_malformed_message_is_dead_lettered_with_reason():
    [dead] = processor(plan_for("a")).process(FakeRecord(b"not protobuf \xff"))
    headers = dict(dead.headers)
    assert dead.topic == DEAD_LETTER.name and dead.value == b"not protobuf \xff"
    assert headers["dlq.error_class"] == b"MalformedEvent"
    assert headers["dlq.reason"].startswith(b"not a protobuf EventEnvelope")


@pytest.mark.parametrize(
    ("event_type", "schema_version", "reason"),
    [
        ("twinwear.v1.ProductRetired", 1, b"unknown event_type 'twinwear.v1.ProductRetired'"),
        ("twinwear.v1.ProductUpserted", 2, b"schema_version 2 is newer than 1"),
    ],
)
def test_events_of_an_unknown_type_or_newer_schema_are_parked(event_type, schema_version, reason):
    envelope = envelope_pb2.EventEnvelope(event_id="x", event_type=event_type, schema_version=schema_version)
    envelope.payload.Pack(events_pb2.ProductUpserted(sku="TW-1"))
    [parked] = processor(plan_for("a")).process(FakeRecord(envelope.SerializeToString()))
    assert parked.topic == PARKING.name
    assert dict(parked.headers)["dlq.reason"] == reason


def test_a_known_event_this_consumer_does_not_handle_is_skipped():
    envelope = wrap(events_pb2.AssetPublished(asset_id="a"), producer="p", key="k", event_id="x", correlation_id="c")
    assert processor(plan_for("a")).process(FakeRecord(envelope.SerializeToString())) == []


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n, 0.5, cap=3) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3]


def test_a_fence_is_recognised_also_inside_a_later_send_error():
    fenced = ProducerFencedError()
    wrapped = KafkaError("Cannot perform send because a previous request has failed", fenced)
    assert _fencing_error(fenced) is fenced and _fencing_error(wrapped) is fenced
    assert _fencing_error(KafkaError("broker gone")) is None


def test_attempts_are_read_back_only_for_the_offset_they_were_written_for():
    assert _attempts_from_metadata(_attempts_metadata(41, 3), 41) == 3
    assert _attempts_from_metadata(_attempts_metadata(41, 3), 42) == 0
    assert _attempts_from_metadata("not json", 41) == 0
