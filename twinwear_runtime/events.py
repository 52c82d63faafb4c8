"""Event envelopes: how a payload becomes a Kafka message and back.

Event ids are derived from what caused the event (uuid5), so an event that is produced again after
a crash or a duplicate delivery has the same id, and consumers drop it as a duplicate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from twinwear.v1 import envelope_pb2, events_pb2

SCHEMA_VERSION = 1
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2b1e-3d0a-4e8b-9a55-7c1d2e3f4a5b")

# Payload types a consumer may find in an envelope, by fully qualified name.
EVENT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        events_pb2.ProductUpserted,
        events_pb2.RenderRequested,
        events_pb2.RenderCompleted,
        events_pb2.AssetPublished,
    )
}


class MalformedEvent(ValueError):
    """A Kafka message that is not a valid twinwear envelope; it goes to the dead-letter topic."""


def derive_id(*parts: str) -> str:
    """A stable id from the parts that identify a thing (same parts, same id)."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, "\x1f".join(parts)))


def event_type_of(payload: Message) -> str:
    return payload.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Outgoing:
    """An event a handler wants produced: the payload, its topic and its partition key."""

    topic: str
    key: str
    payload: Message


@dataclass(frozen=True)
class Incoming:
    """A decoded event taken from Kafka, with where it came from."""

    envelope: envelope_pb2.EventEnvelope
    payload: Message
    topic: str = ""
    partition: int = 0
    offset: int = 0
    headers: tuple[tuple[str, bytes], ...] = field(default=())

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def event_id(self) -> str:
        return self.envelope.event_id


def wrap(
    payload: Message,
    *,
    producer: str,
    key: str,
    event_id: str,
    correlation_id: str,
    causation_id: str = "",
    occurred_at: datetime | None = None,
) -> envelope_pb2.EventEnvelope:
    envelope = envelope_pb2.EventEnvelope(
        event_id=event_id,
        event_type=event_type_of(payload),
        producer=producer,
        correlation_id=correlation_id,
        causation_id=causation_id,
        schema_version=SCHEMA_VERSION,
        partition_key=key,
    )
    envelope.occurred_at.FromDatetime(occurred_at or datetime.now(UTC))
    envelope.payload.Pack(payload)
    return envelope


def wrap_caused_by(cause: Incoming, outgoing: Outgoing, position: int, producer: str) -> envelope_pb2.EventEnvelope:
    """Envelope for the event at ``position`` among those produced while handling ``cause``: same
    trace, and an id derived from the cause and the position, so handling ``cause`` again (handlers
    are deterministic) produces the same ids."""
    return wrap(
        outgoing.payload,
        producer=producer,
        key=outgoing.key,
        event_id=derive_id(cause.event_id, str(position), event_type_of(outgoing.payload), outgoing.key),
        correlation_id=cause.envelope.correlation_id,
        causation_id=cause.event_id,
    )


def unwrap(raw: bytes | None) -> tuple[envelope_pb2.EventEnvelope, Message]:
    """Decode a Kafka message value; raise :class:`MalformedEvent` saying what is wrong."""
    if not raw:
        raise MalformedEvent("empty message value")
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(raw)
    except DecodeError as error:
        raise MalformedEvent(f"not a protobuf EventEnvelope: {error}") from None
    if not envelope.event_id:
        raise MalformedEvent("envelope has no event_id")
    payload_cls = EVENT_TYPES.get(envelope.event_type)
    if payload_cls is None:
        raise MalformedEvent(f"unknown event_type {envelope.event_type!r}")
    payload = payload_cls()
    if not envelope.payload.Unpack(payload):
        raise MalformedEvent(f"payload is {envelope.payload.type_url!r}, expected {envelope.event_type}")
    if envelope.schema_version != SCHEMA_VERSION:
        raise MalformedEvent(f"schema_version {envelope.schema_version} is not supported (want {SCHEMA_VERSION})")
    return envelope, payload
