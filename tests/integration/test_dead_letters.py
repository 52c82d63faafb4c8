"""The dead-letter tool against the real broker: list, show and replay messages set aside the way
the runtime sets them aside, on topics of this test run."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from devkit.topic_reader import TopicReader
from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_contracts.topics import DOMAIN_TOPICS
from twinwear_runtime.dead_letters import (
    REPLAY_HEADER,
    FailedMessage,
    Filters,
    ReplayStatus,
    UnknownId,
    describe,
    find_failed,
    format_list,
    list_failed,
    replay,
)
from twinwear_runtime.events import EventRegistry, wrap
from twinwear_runtime.kafka import failure_headers, producer_settings
from twinwear_runtime.topics import Topic, ensure_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZERO = timedelta()
REGISTRY = EventRegistry(event for topic in DOMAIN_TOPICS for event in topic.events)


@dataclass
class FakeRecord:
    """Where a consumer read the message it gave up on."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    bootstrap: str
    source: str
    sources: dict[str, str]  # short name -> this run's dead-letter and parking topics
    product: bytes  # the value of the dead-lettered product event


def set_aside(
    producer: KafkaProducer, to_topic: str, record: FakeRecord, reason: str, error_class: str, ago: timedelta = ZERO
) -> None:
    """Write a message where the runtime would, with failure_headers, as if ``ago`` before now."""
    failed_at = (datetime.now(UTC) - ago).isoformat().encode()
    headers = failure_headers(record, "twin_builder", reason, error_class)
    written = [(k, failed_at if k == "dlq.failed_at" else v) for k, v in headers]
    producer.send(to_topic, key=record.key, value=record.value, headers=written).get(timeout=30)


@pytest.fixture
def run(stack) -> Run:
    """Per test: a source topic with a product event, a garbage message and an event of a type no
    one knows, the first two dead-lettered (the garbage three hours ago) and the third parked."""
    run_id = uuid.uuid4().hex[:8]
    source = Topic(f"itest.dlq-source.{run_id}", partitions=2)
    dead, parking = Topic(f"itest.dlq.{run_id}", partitions=1), Topic(f"itest.parking.{run_id}", partitions=1)
    ensure_topics(stack.kafka_bootstrap, 1, (source, dead, parking))

    product = wrap(
        events_pb2.ProductUpserted(sku="TW-DLQ-1", revision="r7"),
        producer="itest",
        key="TW-DLQ-1",
        event_id=f"{run_id}-product",
        correlation_id=f"trace-{run_id}",
    )
    future = envelope_pb2.EventEnvelope(
        event_id=f"{run_id}-future", event_type="twinwear.v1.FutureEvent", schema_version=1
    )
    originals = [
        (b"TW-DLQ-1", product.SerializeToString(), [("event_type", b"twinwear.v1.ProductUpserted")]),
        (b"junk", b"\x00garbage", []),
        (b"f", future.SerializeToString(), []),
    ]
    producer = KafkaProducer(**producer_settings(stack.kafka_bootstrap, "itest-dead-letters"))
    try:
        read = []
        for key, value, headers in originals:
            meta = producer.send(source.name, key=key, value=value, headers=headers).get(timeout=30)
            read.append(FakeRecord(source.name, meta.partition, meta.offset, key, value, headers))
        set_aside(producer, dead.name, read[0], "sku TW-DLQ-1 has no flat-lay", "PermanentError")
        set_aside(producer, dead.name, read[1], "not a protobuf EventEnvelope", "MalformedEvent", timedelta(hours=3))
        set_aside(producer, parking.name, read[2], "unknown event_type 'twinwear.v1.FutureEvent'", "UnknownEvent")
    finally:
        producer.close()
    sources = {"dead-letter": dead.name, "parking": parking.name}
    return Run(stack.kafka_bootstrap, source.name, sources, product.SerializeToString())


def original_of(run: Run, message: FailedMessage) -> str:
    return f"{run.source}:{message.header('dlq.original_partition')}:{message.header('dlq.original_offset')}"


def test_list_shows_reason_original_position_event_type_and_age(run):
    messages = list_failed(run.bootstrap, run.sources)
    assert [m.id for m in messages] == ["dead-letter:0:0", "dead-letter:0:1", "parking:0:0"]
    product, garbage, parked = messages
    assert product.reason == "sku TW-DLQ-1 has no flat-lay" and product.service == "twin_builder"
    assert product.original_topic == run.source and product.original_position == original_of(run, product)
    assert (product.event_type, garbage.event_type, parked.event_type) == (
        "twinwear.v1.ProductUpserted",  # from the header
        "-",  # undecodable
        "twinwear.v1.FutureEvent",  # from the envelope
    )

    lines = format_list(messages, datetime.now(UTC))
    assert lines[-1] == "3 messages"
    [garbage_line] = [line for line in lines if line.startswith("dead-letter:0:1 ")]
    assert garbage_line.split()[1] == "3h" and original_of(run, garbage) in garbage_line
    assert "not a protobuf EventEnvelope" in garbage_line

    assert [m.id for m in list_failed(run.bootstrap, run.sources, Filters(since=timedelta(hours=1)))] == [
        "dead-letter:0:0",
        "parking:0:0",
    ]
    assert [m.id for m in list_failed(run.bootstrap, {"parking": run.sources["parking"]})] == ["parking:0:0"]
    assert list_failed(run.bootstrap, run.sources, Filters(service="render")) == []
    assert len(list_failed(run.bootstrap, run.sources, Filters(original_topic=run.source))) == 3


def test_show_decodes_the_payload_or_previews_the_bytes(run):
    product, garbage, parked = find_failed(
        run.bootstrap, ["dead-letter:0:0", "dead-letter:0:1", "parking:0:0"], run.sources
    )
    now = datetime.now(UTC)
    shown = "\n".join(describe(product, REGISTRY, now))
    assert '"sku": "TW-DLQ-1"' in shown and '"revision": "r7"' in shown
    assert "dlq.reason: sku TW-DLQ-1 has no flat-lay" in shown and "correlation_id: trace-" in shown
    assert "  hex:     00 67 61 72 62 61 67 65" in describe(garbage, REGISTRY, now)
    assert "event_type: twinwear.v1.FutureEvent" in "\n".join(describe(parked, REGISTRY, now))


def test_replay_sends_the_original_back_once(run):
    [message] = find_failed(run.bootstrap, ["dead-letter:0:0"], run.sources)
    [dry] = replay(run.bootstrap, [message], dry_run=True)
    assert dry.status is ReplayStatus.WOULD_REPLAY
    [first] = replay(run.bootstrap, [message])
    assert first.status is ReplayStatus.REPLAYED
    [again] = replay(run.bootstrap, [message, message])
    assert again.status is ReplayStatus.ALREADY_REPLAYED

    reader = TopicReader(run.source, from_beginning=True, bootstrap=run.bootstrap)
    try:
        records = list(reader.records(timeout=5))
    finally:
        reader.close()
    replays = [r for r in records if (REPLAY_HEADER, b"dead-letter:0:0") in r.headers]
    [replayed] = replays  # the dry run and the second replay sent nothing
    assert (replayed.key, replayed.value) == (b"TW-DLQ-1", run.product)
    assert replayed.headers == [("event_type", b"twinwear.v1.ProductUpserted"), (REPLAY_HEADER, b"dead-letter:0:0")]


def test_an_unknown_id_is_a_clear_usage_error(run):
    with pytest.raises(UnknownId, match=r"nothing at .* offset 99"):
        find_failed(run.bootstrap, ["dead-letter:0:99"], run.sources)
    with pytest.raises(UnknownId, match="not a message id"):
        find_failed(run.bootstrap, ["retry:0:0"], run.sources)
    shown = cli(run, "show", "dead-letter:0:99")
    assert shown.returncode == 2 and "no message dead-letter:0:99" in shown.stderr


def test_the_command_lists_and_replays_end_to_end(run):
    listed = cli(run, "list", "--topic", "dead-letter", "--since", "1h")
    assert listed.returncode == 0, listed.stderr
    assert "dead-letter:0:0" in listed.stdout and "twinwear.v1.ProductUpserted" in listed.stdout
    assert listed.stdout.splitlines()[-1] == "1 message"

    replayed = cli(run, "replay", "--all", "--topic", "parking")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed  parking:0:0  to {run.source}" in replayed.stdout
    assert "already replayed  parking:0:0" in cli(run, "replay", "parking:0:0").stdout


def cli(run: Run, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it, on this run's topics and this checkout's code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen"), os.environ.get("PYTHONPATH", "")]),
    }
    topics = ["--dead-letter-topic", run.sources["dead-letter"], "--parking-topic", run.sources["parking"]]
    return subprocess.run(
        [sys.executable, "-m", "twinwear_runtime.dead_letters", "--bootstrap", run.bootstrap, *topics, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
