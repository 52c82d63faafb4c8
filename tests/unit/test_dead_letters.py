"""The dead-letter tool's pure parts: durations, ages, ids, and what a replay carries."""

from datetime import UTC, datetime, timedelta

import pytest

from twinwear.v1 import envelope_pb2
from twinwear_runtime.dead_letters import FailedMessage, format_age, format_list, parse_duration


def message(headers: list[tuple[str, bytes]], value: bytes | None = b"", timestamp_ms: int = 0) -> FailedMessage:
    return FailedMessage("parking:0:4", "twinwear.parking.v1", 0, 4, timestamp_ms, b"k", value, tuple(headers))


def test_durations_and_ages():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2h") == timedelta(hours=2) and parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5x")
    assert [format_age(timedelta(seconds=s)) for s in (-1, 59, 180, 7_200, 3 * 86_400)] == [
        "0s",
        "59s",
        "3m",
        "2h",
        "3d",
    ]


def test_a_replay_carries_the_original_headers_and_names_what_it_replays():
    replayed = message([("event_id", b"e1"), ("dlq.reason", b"x"), ("replay.of", b"dead-letter:0:1")])
    assert replayed.replay_headers() == [("event_id", b"e1"), ("replay.of", b"parking:0:4")]


def test_event_type_and_failure_time_fall_back_to_the_envelope_and_the_record():
    envelope = envelope_pb2.EventEnvelope(event_id="e1", event_type="twinwear.v1.FutureEvent", schema_version=1)
    undated = message([], envelope.SerializeToString(), timestamp_ms=1_700_000_000_000)
    assert undated.event_type == "twinwear.v1.FutureEvent"
    assert undated.failed_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert message([], b"\x00garbage").event_type == "-"


def test_the_list_ends_with_a_count():
    assert format_list([], datetime.now(UTC)) == ["0 messages"]
    failed = message([("dlq.reason", b"unknown event_type"), ("dlq.original_topic", b"t")], timestamp_ms=0)
    [header, row, count] = format_list([failed], datetime.fromtimestamp(120, UTC))
    assert header.split()[:3] == ["ID", "AGE", "ORIGINAL"]
    assert row.split()[:3] == ["parking:0:4", "2m", "t:?:?"] and row.endswith("unknown event_type")
    assert count == "1 message"
