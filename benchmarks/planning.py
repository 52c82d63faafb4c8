"""Render planning throughput for a backfill of 1,000 looks onto a 40-twin roster and 5 licensed
talents: pure planning (plan_look), through the handler (state, planned ids, outgoing events), and
with --kafka through a transactional consumer on the local stack (topics of its own).

    PYTHONPATH=$PWD:$PWD/gen .venv/bin/python benchmarks/planning.py [--looks 1000] [--kafka]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime

from services.twin_builder.commands import TwinDraft, roster_appearance
from services.twin_builder.consent import validate_grant
from services.twin_builder.handlers import Planner
from services.twin_builder.planning import CampaignPolicy, plan_look, size_row_proto
from services.twin_builder.state import TwinBuilderState
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_body.roster import generate_roster
from twinwear_body.sizing import COMMON_CHART, GARMENT_TYPES
from twinwear_runtime.events import EventRegistry, Incoming, Outgoing, derive_id, wrap
from twinwear_runtime.kafka import ConsumerSettings, EventProducer, RecordProcessor, TransactionalConsumer
from twinwear_runtime.ops_server import Health
from twinwear_runtime.topics import Topic, ensure_topics

BRAND = "bench"
TODAY = datetime.now(UTC).date()


def roster_twins(count: int, talents: int) -> list[twins_pb2.Twin]:
    """Roster members as registered twins (their targets stand in for fitted measures)."""
    twins = []
    for i, member in enumerate(generate_roster(count + talents, seed="bench")):
        kind = "talent" if i < talents else "synthetic"
        draft = TwinDraft(
            twin_id=derive_id("bench-twin", str(i)),
            kind=kind,
            brand=BRAND if kind == "synthetic" else "",
            sex=member.sex,
            age_years=member.age_years,
            targets=member.measurements,
            appearance=roster_appearance(member),
        )
        twins.append(draft.proto(version=1))
    return twins


def looks(count: int) -> list[events_pb2.ProductUpserted]:
    chart = [size_row_proto(row) for row in COMMON_CHART]
    return [
        events_pb2.ProductUpserted(
            sku=f"BENCH-{i}",
            look_id=f"BENCH-{i}",
            brand=BRAND,
            imagery_digest=derive_id("imagery", str(i)),
            product_version=1_000 + i,
            flat_lay=events_pb2.ObjectRef(bucket="b", key=f"BENCH-{i}.png"),
            garment=events_pb2.Garment(type=GARMENT_TYPES[i % len(GARMENT_TYPES)]),
            size_chart=chart,
            channels=["ecommerce", "social"],
            markets=["FR", "DE", "US"],
        )
        for i in range(count)
    ]


def state_with(twins: list[twins_pb2.Twin]) -> TwinBuilderState:
    state = TwinBuilderState()
    for twin in twins:
        state.registry.apply_upserted(twins_pb2.TwinUpserted(twin=twin))
        if twin.kind == "talent":
            requested = twins_pb2.ConsentGrant(
                twin_id=twin.twin_id,
                brand=BRAND,
                channels=["ecommerce"],
                markets=["FR"],
                end_date="2099-12-31",
                currency="EUR",
            )
            grant = validate_grant(requested, TODAY).to_proto()
            state.ledger.apply(f"grant-{twin.twin_id}", twins_pb2.ConsentGranted(grant=grant), "2026-01-01")
    return state


def bench_pure(products: list[events_pb2.ProductUpserted], state: TwinBuilderState) -> tuple[float, int]:
    twins = list(state.registry)
    started = time.perf_counter()
    renders = sum(len(plan_look(p, twins, state.ledger, CampaignPolicy(), TODAY, BRAND)) for p in products)
    return time.perf_counter() - started, renders


def bench_handler(products: list[events_pb2.ProductUpserted], state: TwinBuilderState) -> tuple[float, int]:
    planner = Planner(state, CampaignPolicy(), BRAND, "renders", lambda: TODAY)
    events = [
        Incoming(wrap(p, producer="bench", key=p.look_id, event_id=str(i), correlation_id="bench"), p)
        for i, p in enumerate(products)
    ]
    started = time.perf_counter()
    renders = 0
    for event in events:
        renders += len(planner.product_upserted(event))
        state.planned.committed()
    return time.perf_counter() - started, renders


def bench_kafka(products: list[events_pb2.ProductUpserted], state: TwinBuilderState) -> tuple[float, int]:
    name = uuid.uuid4().hex[:8]
    source = Topic(f"bench.{name}.product", partitions=1, events=(events_pb2.ProductUpserted,))
    target = Topic(f"bench.{name}.render", partitions=1)
    bootstrap = "127.0.0.1:9092"
    ensure_topics(bootstrap, 1, (source, target))
    producer = EventProducer(bootstrap, f"bench-{name}")
    envelopes = [
        wrap(p, producer="bench", key=p.look_id, event_id=str(i), correlation_id="b") for i, p in enumerate(products)
    ]
    producer.publish([(source.name, envelope) for envelope in envelopes])
    planner = Planner(state, CampaignPolicy(), BRAND, target.name, lambda: TODAY)
    handled = threading.Event()
    count = {"records": 0, "renders": 0}
    first: list[float] = []

    def handler(event: Incoming) -> list[Outgoing]:
        if not first:
            first.append(time.perf_counter())  # from the first record: not the group join
        outgoing = planner.product_upserted(event)
        count["records"] += 1
        count["renders"] += len(outgoing)
        return outgoing

    class Done:
        def committed(self) -> None:
            if count["records"] >= len(products):
                handled.set()

        def discard(self) -> None:
            pass

    consumer = TransactionalConsumer(
        f"bench-{name}",
        bootstrap,
        [source],
        RecordProcessor(f"bench-{name}", EventRegistry(source.events), {events_pb2.ProductUpserted: handler}, 3),
        Health(),
        ConsumerSettings(instance_id="a", batch_size=200),
        [state.planned, Done()],
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    handled.wait(600)
    elapsed = time.perf_counter() - first[0]
    consumer.stop()
    thread.join(60)
    producer.close()
    return elapsed, count["renders"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--looks", type=int, default=1000)
    parser.add_argument("--twins", type=int, default=40)
    parser.add_argument("--kafka", action="store_true")
    args = parser.parse_args()
    twins = roster_twins(args.twins, talents=5)
    products = looks(args.looks)
    runs = [("pure plan_look", bench_pure), ("handler + state", bench_handler)]
    if args.kafka:
        runs.append(("kafka consumer, exactly once", bench_kafka))
    print(f"{args.looks} looks, {args.twins} synthetic twins + 5 licensed talents, policy {CampaignPolicy()}")
    for label, bench in runs:
        seconds, renders = bench(products, state_with(twins))
        print(
            f"{label:<30} {args.looks / seconds:8.0f} looks/s  {renders / seconds:9.0f} renders planned/s  "
            f"({renders} renders in {seconds:.2f} s)"
        )


if __name__ == "__main__":
    main()
