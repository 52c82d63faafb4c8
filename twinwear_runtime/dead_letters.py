"""Inspect and replay the messages consumers set aside: the dead-letter and parking topics.

Both topics hold the original message (same key and value) with its headers plus ``dlq.*``
headers saying why and where from (:func:`twinwear_runtime.kafka.failure_headers`). A message is
named by where it sits, ``<source>:<partition>:<offset>`` (e.g. ``dead-letter:0:17``).

A replay sends the original key, value and headers back to the original topic with a
``replay.of=<id>`` header. Before sending, the original topic is scanned from the dead letter's
timestamp for that header, so running a replay twice sends the message once.

    python -m twinwear_runtime.dead_letters list [--topic dead-letter|parking|both] [--since 2h] ...
    python -m twinwear_runtime.dead_letters show dead-letter:0:17
    python -m twinwear_runtime.dead_letters replay dead-letter:0:17 [--dry-run]
    python -m twinwear_runtime.dead_letters replay --all --topic parking [--dry-run]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from twinwear.v1 import envelope_pb2
from twinwear_runtime.events import EventRegistry, MalformedEvent, UnknownEvent, unwrap
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.kafka import EventProducer, Headers, ProducerRecord
from twinwear_runtime.topics import DEAD_LETTER, PARKING

# Where set-aside messages are read from, by the short name their ids start with.
DEFAULT_SOURCES: Mapping[str, str] = {"dead-letter": DEAD_LETTER.name, "parking": PARKING.name}
REPLAY_HEADER = "replay.of"
_DLQ_PREFIX = "dlq."
_READ_TIMEOUT_SECONDS = 60.0


class UnknownId(ValueError):
    """An id that is malformed or names no message; a usage error."""


class MissingTopic(RuntimeError):
    """A topic to read from or replay to does not exist."""


@dataclass(frozen=True)
class FailedMessage:
    """A message on the dead-letter or parking topic."""

    id: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int  # the dead letter's own record timestamp
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        value = next((v for k, v in self.headers if k == name), None)
        return None if value is None else value.decode(errors="replace")

    @property
    def reason(self) -> str:
        return self.header("dlq.reason") or "-"

    @property
    def service(self) -> str:
        return self.header("dlq.service") or "-"

    @property
    def original_topic(self) -> str | None:
        return self.header("dlq.original_topic")

    @property
    def original_position(self) -> str:
        parts = (self.original_topic, self.header("dlq.original_partition"), self.header("dlq.original_offset"))
        return ":".join(p or "?" for p in parts)

    @property
    def failed_at(self) -> datetime:
        """When the consumer gave up on it: the dlq.failed_at header, else the record's timestamp."""
        with contextlib.suppress(TypeError, ValueError):
            return datetime.fromisoformat(self.header("dlq.failed_at") or "")
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def event_type(self) -> str:
        """From the event_type header, else from the envelope, else "-"."""
        if declared := self.header("event_type"):
            return declared
        envelope = _envelope_of(self.value)
        return envelope.event_type if envelope is not None and envelope.event_type else "-"

    def replay_headers(self) -> Headers:
        """The original headers (no dlq.*, no earlier replay.of) and replay.of naming this message."""
        kept = [(k, v) for k, v in self.headers if not k.startswith(_DLQ_PREFIX) and k != REPLAY_HEADER]
        return [*kept, (REPLAY_HEADER, self.id.encode())]


class ReplayStatus(Enum):
    REPLAYED = "replayed"
    ALREADY_REPLAYED = "already replayed"
    WOULD_REPLAY = "would replay"  # --dry-run
    NOT_REPLAYABLE = "not replayable"


@dataclass(frozen=True)
class ReplayOutcome:
    id: str
    status: ReplayStatus
    detail: str


@dataclass(frozen=True)
class Filters:
    service: str | None = None
    original_topic: str | None = None
    since: timedelta | None = None

    def match(self, message: FailedMessage, now: datetime) -> bool:
        return (
            (self.service is None or message.service == self.service)
            and (self.original_topic is None or message.original_topic == self.original_topic)
            and (self.since is None or now - message.failed_at <= self.since)
        )


# -- reading -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _reader(bootstrap: str) -> Iterator[KafkaConsumer]:
    """A consumer without a group: it only looks, and commits nothing. read_committed, so messages
    of aborted transactions (a consumer that crashed mid-batch) are not shown or replayed."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="twinwear-dead-letters",
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
    except KafkaError as error:
        raise Unavailable("kafka", str(error) or type(error).__name__) from error
    try:
        yield consumer
    finally:
        consumer.close()


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise MissingTopic(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(found)]


def _read(
    consumer: KafkaConsumer, starts: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]
) -> Iterator[ConsumerRecord]:
    """The records from each partition's start offset up to (not including) its end offset."""
    pending = {tp for tp, start in starts.items() if start < ends[tp]}
    consumer.assign(sorted(pending))
    for tp in pending:
        consumer.seek(tp, starts[tp])
    deadline = time.monotonic() + _READ_TIMEOUT_SECONDS
    while pending:
        if time.monotonic() > deadline:
            raise Unavailable("kafka", f"reading {sorted(str(tp) for tp in pending)} took too long")
        for tp, records in consumer.poll(timeout_ms=500).items():
            yield from (r for r in records if r.offset < ends[tp])
        # Positions, not record offsets: transaction markers take offsets and are never returned.
        pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}


def _failed_message(source: str, record: ConsumerRecord) -> FailedMessage:
    return FailedMessage(
        id=f"{source}:{record.partition}:{record.offset}",
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


def list_failed(
    bootstrap: str, sources: Mapping[str, str] = DEFAULT_SOURCES, filters: Filters = Filters()
) -> list[FailedMessage]:
    """Every message on the ``sources`` topics (short name -> topic) that ``filters`` match,
    read from the beginning to the end offsets as they are now."""
    now = datetime.now(UTC)
    found: list[FailedMessage] = []
    with _reader(bootstrap) as consumer:
        for source, topic in sources.items():
            partitions = _partitions(consumer, topic)
            starts = consumer.beginning_offsets(partitions)
            records = _read(consumer, starts, consumer.end_offsets(partitions))
            found.extend(m for m in (_failed_message(source, r) for r in records) if filters.match(m, now))
    return found


def _parse_id(text: str, sources: Mapping[str, str]) -> tuple[str, int, int]:
    match = re.fullmatch(r"([a-z-]+):(\d+):(\d+)", text)
    if match is None or match[1] not in sources:
        raise UnknownId(f"{text!r} is not a message id: expected <{'|'.join(sources)}>:<partition>:<offset>")
    return match[1], int(match[2]), int(match[3])


def find_failed(
    bootstrap: str, ids: Sequence[str], sources: Mapping[str, str] = DEFAULT_SOURCES
) -> list[FailedMessage]:
    """The messages with these ids, in that order; :class:`UnknownId` names the first that is
    malformed or not there (never written, aborted, or gone with the topic's retention)."""
    parsed = [_parse_id(text, sources) for text in ids]
    found = []
    with _reader(bootstrap) as consumer:
        for text, (source, partition, offset) in zip(ids, parsed, strict=True):
            tp = TopicPartition(sources[source], partition)
            if partition not in {p.partition for p in _partitions(consumer, tp.topic)}:
                raise UnknownId(f"no message {text}: {tp.topic} has no partition {partition}")
            end = min(consumer.end_offsets([tp])[tp], offset + 1)
            record = next((r for r in _read(consumer, {tp: offset}, {tp: end}) if r.offset == offset), None)
            if record is None:
                raise UnknownId(f"no message {text}: nothing at {tp.topic} partition {partition} offset {offset}")
            found.append(_failed_message(source, record))
    return found


# -- replaying -----------------------------------------------------------------------------------


def _earlier_replays(consumer: KafkaConsumer, topic: str, since_ms: int) -> dict[str, list[tuple[int, str]]]:
    """The replay.of ids on ``topic`` from ``since_ms`` on, each with (timestamp, position)."""
    partitions = _partitions(consumer, topic)
    starts = {tp: o.offset for tp, o in consumer.offsets_for_times(dict.fromkeys(partitions, since_ms)).items() if o}
    replays: dict[str, list[tuple[int, str]]] = {}
    for record in _read(consumer, starts, consumer.end_offsets(list(starts))):
        for key, value in record.headers or ():
            if key == REPLAY_HEADER:
                position = f"{record.topic}:{record.partition}:{record.offset}"
                replays.setdefault(value.decode(errors="replace"), []).append((record.timestamp, position))
    return replays


def replay(bootstrap: str, messages: Sequence[FailedMessage], dry_run: bool = False) -> list[ReplayOutcome]:
    """Send each message's key, value and headers back to its original topic, with replay.of,
    unless a record replaying it is already there (at or after the dead letter's timestamp)."""
    unique = list({m.id: m for m in messages}.values())
    earlier: dict[str, list[tuple[int, str]]] = {}
    with _reader(bootstrap) as consumer:
        # One scan per original topic, from its oldest dead letter among those asked for.
        for topic in {m.original_topic for m in unique if m.original_topic}:
            since = min(m.timestamp_ms for m in unique if m.original_topic == topic)
            for replay_id, found in _earlier_replays(consumer, topic, since).items():
                earlier.setdefault(replay_id, []).extend(found)

    outcomes: dict[str, ReplayOutcome] = {}
    to_send: list[FailedMessage] = []
    for message in unique:
        previous = [position for ts, position in earlier.get(message.id, []) if ts >= message.timestamp_ms]
        if not message.original_topic:
            outcomes[message.id] = ReplayOutcome(message.id, ReplayStatus.NOT_REPLAYABLE, "no dlq.original_topic")
        elif previous:
            outcomes[message.id] = ReplayOutcome(message.id, ReplayStatus.ALREADY_REPLAYED, f"at {previous[0]}")
        else:
            status = ReplayStatus.WOULD_REPLAY if dry_run else ReplayStatus.REPLAYED
            outcomes[message.id] = ReplayOutcome(message.id, status, f"to {message.original_topic}")
            to_send.append(message)
    if to_send and not dry_run:
        producer = EventProducer(bootstrap, "dead-letters")
        try:
            producer.send([ProducerRecord(m.original_topic or "", m.key, m.value, m.replay_headers()) for m in to_send])
        finally:
            producer.close()
    return [outcomes[m.id] for m in unique]


# -- describing ----------------------------------------------------------------------------------


def _envelope_of(value: bytes | None) -> envelope_pb2.EventEnvelope | None:
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(value or b"")
    except DecodeError:
        return None
    return envelope


def format_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h`` or ``7d``."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 2h or 7d")
    return timedelta(seconds=int(match[1]) * {"s": 1, "m": 60, "h": 3_600, "d": 86_400}[match[2]])


def format_list(messages: Sequence[FailedMessage], now: datetime) -> list[str]:
    """One aligned line per message, and the count."""
    rows = [("ID", "AGE", "ORIGINAL", "EVENT TYPE", "SERVICE", "REASON")]
    rows += [
        (m.id, format_age(now - m.failed_at), m.original_position, m.event_type, m.service, m.reason) for m in messages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]) for row in rows]
    noun = "message" if len(messages) == 1 else "messages"
    return [*lines, f"{len(messages)} {noun}"] if messages else [f"0 {noun}"]


def _preview(data: bytes | None, limit: int = 256) -> list[str]:
    """Undecodable bytes, escaped and in hex, cut at ``limit``."""
    if not data:
        return ["  (empty)"]
    cut = data[:limit]
    more = f" ... ({len(data)} bytes)" if len(data) > limit else f" ({len(data)} bytes)"
    return [f"  escaped: {cut!r}{more}", f"  hex:     {cut.hex(' ')}"]


def describe(message: FailedMessage, registry: EventRegistry, now: datetime) -> list[str]:
    """The message decoded for a person: headers, envelope and payload as JSON, or a preview."""
    lines = [
        f"id:        {message.id}",
        f"at:        {message.topic} partition {message.partition} offset {message.offset}",
        f"failed at: {message.failed_at.isoformat()} ({format_age(now - message.failed_at)} ago)",
        f"original:  {message.original_position}",
        f"key:       {message.key!r}",
        "headers:",
        *(f"  {k}: {v.decode(errors='replace')}" for k, v in message.headers),
    ]
    try:
        envelope, payload = unwrap(message.value, registry)
    except UnknownEvent as error:  # a valid envelope whose payload type this build does not know
        envelope = _envelope_of(message.value) or envelope_pb2.EventEnvelope()
        return [
            *lines,
            *_describe_envelope(envelope),
            f"payload: not decoded ({error})",
            *_preview(envelope.payload.value),
        ]
    except MalformedEvent as error:
        return [*lines, f"value: not an event ({error})", *_preview(message.value)]
    payload_json = json_format.MessageToJson(payload, preserving_proto_field_name=True, indent=2)
    return [*lines, *_describe_envelope(envelope), f"payload ({envelope.event_type}):", payload_json]


def _describe_envelope(envelope: envelope_pb2.EventEnvelope) -> list[str]:
    fields = envelope_pb2.EventEnvelope()
    fields.CopyFrom(envelope)
    fields.ClearField("payload")  # shown on its own, decoded with the registry
    document = json_format.MessageToDict(fields, preserving_proto_field_name=True)
    document["payload_type_url"] = envelope.payload.type_url
    return ["envelope:", *(f"  {k}: {v}" for k, v in document.items())]


def format_outcomes(outcomes: Sequence[ReplayOutcome]) -> list[str]:
    width = max((len(o.status.value) for o in outcomes), default=0)
    counts = {status: sum(o.status is status for o in outcomes) for status in ReplayStatus}
    summary = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
    return [*(f"{o.status.value.ljust(width)}  {o.id}  {o.detail}" for o in outcomes), summary or "nothing to replay"]


# -- command line --------------------------------------------------------------------------------


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m twinwear_runtime.dead_letters", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--bootstrap", default=os.environ.get("TWINWEAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), help="Kafka bootstrap"
    )
    # Other topic names, for tests and for environments that name them differently.
    parser.add_argument("--dead-letter-topic", default=DEAD_LETTER.name, help=argparse.SUPPRESS)
    parser.add_argument("--parking-topic", default=PARKING.name, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--topic", choices=("dead-letter", "parking", "both"), default="both")
    filters.add_argument("--service", help="only messages this service set aside")
    filters.add_argument("--original-topic", help="only messages that came from this topic")
    filters.add_argument("--since", type=_duration, help="only messages set aside this recently (90s, 15m, 2h, 7d)")

    commands.add_parser("list", parents=[filters], help="one line per set-aside message")
    show = commands.add_parser("show", help="one message, decoded")
    show.add_argument("id", help="e.g. dead-letter:0:17")
    replay_command = commands.add_parser("replay", parents=[filters], help="send messages back to their topic")
    replay_command.add_argument("ids", nargs="*", metavar="ID")
    replay_command.add_argument("--all", action="store_true", help="every message the filters match")
    replay_command.add_argument("--dry-run", action="store_true", help="say what would be replayed, send nothing")
    args = parser.parse_args(argv)
    if args.command == "replay" and bool(args.ids) == args.all:
        parser.error("replay needs message ids or --all (with filters), one of the two")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    # The payload types come from the contracts here only: the rest of this module is mechanism
    # and takes the registry as an argument.
    from twinwear_contracts.topics import DOMAIN_TOPICS

    args = _arguments(argv)
    sources = {"dead-letter": args.dead_letter_topic, "parking": args.parking_topic}
    if getattr(args, "topic", "both") != "both":
        sources = {args.topic: sources[args.topic]}
    filters = Filters(
        getattr(args, "service", None), getattr(args, "original_topic", None), getattr(args, "since", None)
    )
    now = datetime.now(UTC)
    try:
        if args.command == "list":
            lines = format_list(list_failed(args.bootstrap, sources, filters), now)
        elif args.command == "show":
            [message] = find_failed(args.bootstrap, [args.id], sources)
            registry = EventRegistry(event for topic in DOMAIN_TOPICS for event in topic.events)
            lines = describe(message, registry, now)
        else:
            chosen = (
                list_failed(args.bootstrap, sources, filters)
                if args.all
                else find_failed(args.bootstrap, args.ids, sources)
            )
            lines = format_outcomes(replay(args.bootstrap, chosen, args.dry_run))
    except UnknownId as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (MissingTopic, Unavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
