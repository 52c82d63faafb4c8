import pytest

from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_runtime.events import (
    EventRegistry,
    Incoming,
    MalformedEvent,
    Outgoing,
    derive_id,
    unwrap,
    wrap,
    wrap_caused_by,
)

REGISTRY = EventRegistry([events_pb2.ProductUpserted, events_pb2.RenderCompleted])


def product() -> events_pb2.ProductUpserted:
    return events_pb2.ProductUpserted(sku="TW-1", revision="r1", title="Tee")


def test_wrap_and_unwrap_round_trip():
    envelope = wrap(product(), producer="ingestion", key="TW-1", event_id="e1", correlation_id="trace-1")
    decoded, payload = unwrap(envelope.SerializeToString(), REGISTRY)
    assert decoded.event_type == "twinwear.v1.ProductUpserted"
    assert decoded.partition_key == "TW-1"
    assert decoded.schema_version == 1
    assert payload == product()


def test_caused_events_keep_the_trace_and_get_stable_ids():
    cause_envelope = wrap(product(), producer="ingestion", key="TW-1", event_id="e1", correlation_id="trace-1")
    cause = Incoming(cause_envelope, product())
    out = Outgoing("topic", "TW-1", events_pb2.RenderRequested(render_id="r"), "r")
    other = Outgoing("topic", "TW-1", events_pb2.RenderRequested(render_id="s"), "s")
    first, again = wrap_caused_by(cause, out, "twin_builder"), wrap_caused_by(cause, out, "twin_builder")
    assert first.event_id == again.event_id != "e1"
    assert wrap_caused_by(cause, other, "twin_builder").event_id != first.event_id
    assert first.correlation_id == "trace-1"
    assert first.causation_id == "e1"
    assert first.producer == "twin_builder"


def test_derive_id_is_stable_and_distinguishes_parts():
    assert derive_id("a", "b") == derive_id("a", "b")
    assert derive_id("a", "b") != derive_id("ab", "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message value"),
        (b"\xff\xff\xff", "not a protobuf EventEnvelope"),
        (envelope_pb2.EventEnvelope(event_type="twinwear.v1.ProductUpserted").SerializeToString(), "no event_id"),
        (
            envelope_pb2.EventEnvelope(event_id="e", event_type="x.Nope").SerializeToString(),
            "schema_version 0 is not a version",
        ),
    ],
)
def test_malformed_messages_say_what_is_wrong(raw, reason):
    with pytest.raises(MalformedEvent, match=reason):
        unwrap(raw, REGISTRY)


def test_payload_must_match_event_type():
    envelope = wrap(product(), producer="p", key="k", event_id="e", correlation_id="c")
    envelope.event_type = "twinwear.v1.RenderCompleted"
    with pytest.raises(MalformedEvent, match=r"expected twinwear\.v1\.RenderCompleted"):
        unwrap(envelope.SerializeToString(), REGISTRY)
