"""Retiring a product, without servers: ordered with upserts by the newest version per SKU."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from devkit.catalogue import draw_flat_lay
from services.ingestion.accept import NewestVersion, UnknownProduct, accept_product, retire_product
from services.ingestion.domain import make_submission
from twinwear.v1 import envelope_pb2, events_pb2
from twinwear_contracts.topics import PRODUCTS

V1, V2, V3 = 1_700_000_000_000_000, 1_700_000_000_000_001, 1_700_000_000_000_002


class Versions:
    def __init__(self) -> None:
        self.newest_by_sku: dict[str, NewestVersion] = {}

    def newest(self, sku: str) -> NewestVersion | None:
        return self.newest_by_sku.get(sku)

    def record(self, sku: str, newest: NewestVersion) -> None:
        self.newest_by_sku[sku] = newest


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, envelope_pb2.EventEnvelope]] = []

    def publish(self, events: Sequence[tuple[str, envelope_pb2.EventEnvelope]]) -> None:
        self.events.extend(events)


class Store:
    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> events_pb2.ObjectRef:
        return events_pb2.ObjectRef(bucket=bucket, key=key, content_type=content_type)


@pytest.fixture
def versions() -> Versions:
    return Versions()


@pytest.fixture
def sink() -> Sink:
    return Sink()


def upsert(sink: Sink, versions: Versions, version: int, title: str = "Tee"):
    submission = make_submission(
        sku="TW-1",
        title=title,
        category="tops",
        colour=(1, 2, 3),
        flat_lay=draw_flat_lay("tee", "solid", "#010203"),
        source="unit",
        product_version=version,
    )
    return accept_product(submission, Store(), sink, versions)


def test_a_retirement_emits_product_retired_keyed_by_sku(sink, versions):
    upsert(sink, versions, V1)
    retired = retire_product("TW-1", V2, "unit", sink, versions)
    assert retired.created and not retired.stale and retired.product_version == V2
    topic, envelope = sink.events[-1]
    assert topic == PRODUCTS.name and envelope.partition_key == "TW-1" and envelope.event_id == retired.event_id
    payload = events_pb2.ProductRetired()
    assert envelope.payload.Unpack(payload)
    assert (payload.sku, payload.product_version, payload.source) == ("TW-1", V2, "unit")
    assert events_pb2.ProductRetired in PRODUCTS.events


def test_retiring_twice_is_a_duplicate_with_the_same_event_id(sink, versions):
    upsert(sink, versions, V1)
    first = retire_product("TW-1", 0, "unit", sink, versions, clock=lambda: V2)
    again = retire_product("TW-1", 0, "unit", sink, versions, clock=lambda: V3)
    assert not again.created and again.event_id == first.event_id and again.product_version == V2
    assert len(sink.events) == 2


def test_the_event_id_derives_from_the_content(versions):
    ids = []
    for _ in range(2):
        sink, versions = Sink(), Versions()
        upsert(sink, versions, V1)
        ids.append(retire_product("TW-1", V2, "unit", sink, versions).event_id)
    assert ids[0] == ids[1]


def test_a_retirement_older_than_the_newest_version_is_stale(sink, versions):
    upsert(sink, versions, V2)
    stale = retire_product("TW-1", V1, "unit", sink, versions)
    assert stale.stale and not stale.created and not stale.event_id
    assert len(sink.events) == 1


def test_a_sku_never_seen_cannot_be_retired(sink, versions):
    with pytest.raises(UnknownProduct, match="TW-1"):
        retire_product("TW-1", V1, "unit", sink, versions)
    assert not sink.events


def test_after_a_retirement_a_newer_upsert_revives_and_an_older_is_stale(sink, versions):
    upsert(sink, versions, V1)
    retire_product("TW-1", V2, "unit", sink, versions)
    assert upsert(sink, versions, V1, title="Old tee").stale
    revived = upsert(sink, versions, V3)
    assert revived.created and not revived.stale
