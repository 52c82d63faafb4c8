"""Event envelopes: how a payload becomes a Kafka message and back.

Event ids are derived from content (uuid5): an event caused by another derives its id from the
cause and from what the new event is about (its ``identity``, e.g. a render id), never from its
position in a list. So handling the same message again produces the same ids, even when the
surroundings (a roster, a consent) changed meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message

from twinwear.v1 import envelope_pb2

SCHEMA_VERSION = 1
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2b1e-3d0a-4e8b-9a55-7c1d2e3f4a5b")


class EventRegistry:
    """The payload types a consumer knows, by fully qualified name. Services build it from the
    contracts of the topics they read; the runtime holds no list of its own."""

    def __init__(self, types: Iterable[type[Message]]) -> None:
        self._types = {cls.DESCRIPTOR.full_name: cls for cls in types}

    def get(self, event_type: str) -> type[Message] | None:
        return self._types.get(event_type)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._types


class MalformedEvent(ValueError):
    """A Kafka message that is not a valid twinwear envelope; it goes to the dead-letter topic."""


class UnknownEvent(ValueError):
    """A valid envelope of a type or schema version this consumer does not know yet; it is parked,
    to be replayed once a consumer that knows it is deployed."""


def derive_id(*parts: str) -> str:
    """A stable id from the parts that identify a thing (same parts, same id)."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, "\x1f".join(parts)))


def event_type_of(payload: Message) -> str:
    return payload.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Outgoing:
    """An event a handler wants produced: the payload, its topic and its partition key.
    ``identity`` says what the event is about (a render id, an asset id); with the cause it
    derives the event id, so it must come from content, never from a list position."""

    topic: str
    key: str
    payload: Message
    identity: str


@dataclass(frozen=True)
class Tombstone:
    """A record with a key and no value: on a compacted topic it removes the key, once compacted."""

    topic: str
    key: str


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


def wrap_caused_by(cause: Incoming, outgoing: Outgoing, producer: str) -> envelope_pb2.EventEnvelope:
    """Envelope for an event produced while handling ``cause``: same trace, and an id derived from
    the cause and the outgoing event's identity, so handling ``cause`` again produces the same ids."""
    return wrap(
        outgoing.payload,
        producer=producer,
        key=outgoing.key,
        event_id=derive_id(cause.event_id, event_type_of(outgoing.payload), outgoing.key, outgoing.identity),
        correlation_id=cause.envelope.correlation_id,
        causation_id=cause.event_id,
    )


def unwrap(raw: bytes | None, registry: EventRegistry) -> tuple[envelope_pb2.EventEnvelope, Message]:
    """Decode a Kafka message value. Raise :class:`MalformedEvent` saying what is wrong, or
    :class:`UnknownEvent` for a type or schema version ``registry`` does not know yet."""
    if not raw:
        raise MalformedEvent("empty message value")
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(raw)
    except DecodeError as error:
        raise MalformedEvent(f"not a protobuf EventEnvelope: {error}") from None
    if not envelope.event_id:
        raise MalformedEvent("envelope has no event_id")
    if not envelope.event_type:
        raise MalformedEvent("envelope has no event_type")
    if envelope.schema_version > SCHEMA_VERSION:
        raise UnknownEvent(f"schema_version {envelope.schema_version} is newer than {SCHEMA_VERSION}")
    if envelope.schema_version < 1:
        raise MalformedEvent(f"schema_version {envelope.schema_version} is not a version")
    payload_cls = registry.get(envelope.event_type)
    if payload_cls is None:
        raise UnknownEvent(f"unknown event_type {envelope.event_type!r}")
    payload = payload_cls()
    try:
        unpacked = envelope.payload.Unpack(payload)
    except DecodeError as error:
        raise MalformedEvent(f"payload is not a valid {envelope.event_type}: {error}") from None
    if not unpacked:
        raise MalformedEvent(f"payload is {envelope.payload.type_url!r}, expected {envelope.event_type}")
    return envelope, payload
