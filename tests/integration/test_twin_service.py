"""The twin builder against the real Kafka, with anny on CPU: TwinService over gRPC, planning on a
products topic, the registry and the ledger rebuilt after a restart. Each run has topics, a
consumer group and ports of its own (18300-18399), so it runs beside others on the shared stack."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
import pytest
import trimesh
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from kafka import KafkaConsumer, TopicPartition

from services.twin_builder.app import TwinBuilder, TwinTopics, load_policy
from services.twin_builder.bodies import AnnyBodies
from services.twin_builder.grpc_api import SERVICE_NAME, start_twin_api
from services.twin_builder.planning import body_of, size_chart
from tests.twin_fixtures import chart_proto, product
from twinwear.v1 import events_pb2, twin_service_pb2_grpc, twins_pb2
from twinwear.v1 import twin_service_pb2 as pb
from twinwear_body.sizing import recommend_size
from twinwear_runtime.auth import AdminTokens, ApiOrAdminTokens, ApiTokens
from twinwear_runtime.config import RuntimeConfig
from twinwear_runtime.events import EventRegistry, unwrap, wrap
from twinwear_runtime.kafka import ConsumerSettings, EventProducer, RecordProcessor, TransactionalConsumer
from twinwear_runtime.ops_server import Health
from twinwear_runtime.topics import Topic, ensure_topics

pytestmark = pytest.mark.integration

API_TOKEN, ADMIN_TOKEN = "twins-itest-api", "twins-itest-admin"
API = (("authorization", f"Bearer {API_TOKEN}"),)
ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
PORTS = iter(range(18310, 18399))
# Fitted in the background: a second or so per twin on CPU, more on a busy shared one.
ROSTER_SIZE = 6


def body(stature: float, chest: float, waist: float, hip: float, leg: float, shoulder: float):
    return events_pb2.BodyMeasurements(
        stature_cm=stature,
        chest_girth_cm=chest,
        waist_girth_cm=waist,
        hip_girth_cm=hip,
        inside_leg_cm=leg,
        shoulder_width_cm=shoulder,
    )


WOMAN_M = body(170, 92, 75, 100, 78, 38)


@dataclass
class Running:
    """One twin builder in this process: its state, gRPC server and consumer."""

    builder: TwinBuilder
    server: grpc.Server
    consumer: TransactionalConsumer
    thread: threading.Thread
    stub: twin_service_pb2_grpc.TwinServiceStub
    channel: grpc.Channel

    def stop(self) -> None:
        self.consumer.stop()
        self.thread.join(timeout=60)
        self.server.stop(grace=1).wait()
        self.builder.stop()
        self.channel.close()


@dataclass
class Stack:
    config: RuntimeConfig
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.brand = f"itest-{self.name}"
        real = TwinTopics()

        def mirror(topic: Topic, suffix: str) -> Topic:
            return Topic(f"itest.{self.name}.{suffix}", partitions=1, config=topic.config, events=topic.events)

        self.topics = TwinTopics(
            products=mirror(real.products, "product"),
            twins=mirror(real.twins, "twin"),
            consent=mirror(real.consent, "consent"),
            render_requests=mirror(real.render_requests, "render"),
        )
        ensure_topics(self.config.kafka_bootstrap, 1, self.topics.all)
        self.producer = EventProducer(self.config.kafka_bootstrap, f"itest-twins-{self.name}")
        self.bodies = AnnyBodies()

    def start(self) -> Running:
        builder = TwinBuilder(
            self.config.kafka_bootstrap, self.producer, self.bodies, load_policy(""), self.brand, self.topics
        )
        tokens = ApiOrAdminTokens(ApiTokens(API_TOKEN), AdminTokens(f"itest-admin:{ADMIN_TOKEN}"))
        port = next(PORTS)
        server = start_twin_api(builder.commands, tokens, port, "127.0.0.1")
        service = f"itest-twins-{self.name}"
        registry = EventRegistry(event for topic in self.topics.consumed for event in topic.events)
        consumer = TransactionalConsumer(
            service,
            self.config.kafka_bootstrap,
            self.topics.consumed,
            RecordProcessor(service, registry, builder.planner.handlers(), 3),
            Health(),
            ConsumerSettings(instance_id="a", batch_size=50, batch_seconds=0.5),
            [builder.state.planned],
        )
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        builder.start(ROSTER_SIZE, consent_check_seconds=3600)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        return Running(builder, server, consumer, thread, twin_service_pb2_grpc.TwinServiceStub(channel), channel)

    def send_product(self, upserted: events_pb2.ProductUpserted) -> None:
        envelope = wrap(
            upserted, producer="itest", key=upserted.look_id, event_id=uuid.uuid4().hex, correlation_id="itest"
        )
        self.producer.publish([(self.topics.products.name, envelope)])

    def records(self, topic: Topic, until: Callable[[list], bool] | None = None, timeout: float = 300.0) -> list:
        """(key, payload or None) of the committed records on ``topic``: once ``until`` holds, or,
        without it, up to the topic's end now."""
        registry = EventRegistry(topic.events)
        consumer = KafkaConsumer(
            bootstrap_servers=self.config.kafka_bootstrap, isolation_level="read_committed", enable_auto_commit=False
        )
        partition = TopicPartition(topic.name, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning()
        end = consumer.end_offsets([partition])[partition]
        done = until or (lambda _: consumer.position(partition) >= end)
        seen: list = []
        deadline = time.monotonic() + timeout
        try:
            while not done(seen) and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=300).values():
                    for r in batch:
                        seen.append((r.key.decode(), None if r.value is None else unwrap(r.value, registry)[1]))
            return seen
        finally:
            consumer.close()

    def plans(self, look_id: str, until: Callable[[list], bool] | None = None) -> list[events_pb2.RenderRequested]:
        """The look's RenderRequested: once ``until`` holds of them, or, without it, all so far."""

        def mine(seen: list) -> list:
            return [p for k, p in seen if k == look_id and isinstance(p, events_pb2.RenderRequested)]

        topic = self.topics.render_requests
        return mine(self.records(topic, None if until is None else lambda seen: until(mine(seen))))

    def handled(self, service: str) -> int:
        """The group's committed offset on the products topic."""
        checker = KafkaConsumer(bootstrap_servers=self.config.kafka_bootstrap, group_id=f"twinwear.{service}")
        try:
            return checker.committed(TopicPartition(self.topics.products.name, 0)) or 0
        finally:
            checker.close()


@pytest.fixture(scope="module")
def stack_under_test(stack) -> Iterator[Stack]:
    under_test = Stack(stack)
    yield under_test
    under_test.producer.close()


@pytest.fixture(scope="module")
def running(stack_under_test) -> Iterator[Running]:
    started = stack_under_test.start()
    yield started
    started.stop()


def wait_for(condition: Callable[[], object], timeout: float = 900.0) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
    return value


def roster(running: Running, brand: str) -> list[twins_pb2.Twin]:
    meta = (*API, ("x-twinwear-brand", brand))
    return list(running.stub.ListTwins(pb.ListTwinsRequest(kind="synthetic"), metadata=meta).twins)


def create_talent(running: Running, name: str, measurements=WOMAN_M) -> twins_pb2.Twin:
    request = pb.CreateTwinRequest(
        kind="talent",
        sex="female",
        age_years=31,
        measurements=measurements,
        appearance=events_pb2.Appearance(monk_skin_tone=8, hairstyle="curly-afro"),
        talent=twins_pb2.Talent(display_name=name, contact=f"{name.lower()}@example.com"),
    )
    return running.stub.CreateTwin(request, metadata=ADMIN, timeout=600).twin


def grant(running: Running, twin_id: str, brand: str, channels=("ecommerce",), markets=("FR",)) -> str:
    licence = twins_pb2.ConsentGrant(
        twin_id=twin_id,
        brand=brand,
        channels=list(channels),
        markets=list(markets),
        end_date="2099-12-31",
        fee_per_image_minor=2500,
        currency="EUR",
    )
    return running.stub.GrantConsent(pb.GrantConsentRequest(grant=licence), metadata=ADMIN).grant.consent_id


def test_calls_need_a_token_and_admin_work_an_admin_token(running):
    with pytest.raises(grpc.RpcError) as raised:
        running.stub.ListTwins(pb.ListTwinsRequest())
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as raised:
        create_request = pb.CreateTwinRequest(kind="talent", talent=twins_pb2.Talent(display_name="X"))
        running.stub.CreateTwin(create_request, metadata=API)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED and "admin token" in raised.value.details()
    with pytest.raises(grpc.RpcError) as raised:
        running.stub.ListTwins(pb.ListTwinsRequest(), metadata=API)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED and "x-twinwear-brand" in raised.value.details()
    with pytest.raises(grpc.RpcError) as raised:
        running.stub.GetTwin(pb.GetTwinRequest(twin_id="no-such-twin"), metadata=ADMIN)
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    [answer] = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    assert SERVICE_NAME in {s.name for s in answer.list_services_response.service}


def test_impossible_measurements_are_refused_naming_the_field_and_its_range(running):
    with pytest.raises(grpc.RpcError) as raised:
        create_talent(running, "Tall", body(500, 92, 75, 100, 78, 38))
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "measurements.stature_cm" in raised.value.details() and "accepted" in raised.value.details()
    with pytest.raises(grpc.RpcError) as raised:
        running.stub.CreateAvatar(
            pb.CreateAvatarRequest(sex="female", age_years=30, measurements=body(170, 92, -5, 100, 78, 38)),
            metadata=API,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "waist_girth_cm" in raised.value.details()


def test_a_product_is_planned_on_licensed_talent_and_the_roster_each_in_its_size(running, stack_under_test):
    brand = stack_under_test.brand
    members = wait_for(lambda: len(roster(running, brand)) == ROSTER_SIZE and roster(running, brand))
    in_scope = create_talent(running, "Ada")
    consent_id = grant(running, in_scope.twin_id, brand, channels=("ecommerce", "print"), markets=("FR", "US"))
    other_channel = create_talent(running, "Bea")
    grant(running, other_channel.twin_id, brand, channels=("ooh",))
    other_market = create_talent(running, "Cleo")
    grant(running, other_market.twin_id, brand, markets=("JP",))
    look = f"LOOK-{uuid.uuid4().hex[:8]}"
    stack_under_test.send_product(product(look, brand=brand, garment=events_pb2.Garment(type="dress")))
    synthetic_ids = {t.twin_id for t in members}

    # A look's plans are committed in one transaction: once hers is there, all are.
    plans = stack_under_test.plans(look, lambda plans: in_scope.twin_id in {p.twin.twin_id for p in plans})
    by_twin = {p.twin.twin_id: p for p in plans}
    assert other_channel.twin_id not in by_twin and other_market.twin_id not in by_twin
    talent_plan = by_twin[in_scope.twin_id]
    assert (list(talent_plan.channels), list(talent_plan.markets)) == (["ecommerce"], ["FR"])
    assert talent_plan.twin.consent_id == consent_id and talent_plan.twin.display_name == ""
    registered = {t.twin_id: t for t in members} | {in_scope.twin_id: in_scope}
    for plan in plans:
        twin = registered[plan.twin.twin_id]
        chart = size_chart(plan_product(look, brand), twin.sex)
        expected = recommend_size(body_of(twin), chart, "dress").size_label
        assert plan.size_label == expected == plan.size.size_label
        assert plan.twin.body_parameters.phenotype and plan.twin.appearance.monk_skin_tone
    assert {p.twin.twin_id for p in plans} - {in_scope.twin_id} <= synthetic_ids
    assert len(plans) > 1  # the roster too

    # Revoked: the next look is planned without her, at once.
    running.stub.RevokeConsent(
        pb.RevokeConsentRequest(twin_id=in_scope.twin_id, consent_id=consent_id, reason="itest"), metadata=ADMIN
    )
    history = running.stub.ListConsentHistory(pb.ListConsentHistoryRequest(twin_id=in_scope.twin_id), metadata=ADMIN)
    assert [(r.action, r.actor) for r in history.records] == [("granted", "itest-admin"), ("revoked", "itest-admin")]
    later = f"LOOK-{uuid.uuid4().hex[:8]}"
    stack_under_test.send_product(product(later, brand=brand))
    later_plans = stack_under_test.plans(later, lambda plans: bool(plans))
    assert later_plans and in_scope.twin_id not in {p.twin.twin_id for p in later_plans}


def plan_product(look: str, brand: str) -> events_pb2.ProductUpserted:
    return product(look, brand=brand, garment=events_pb2.Garment(type="dress"))


def test_the_mesh_comes_as_a_glb_of_the_stature_asked_for(running):
    twin = create_talent(running, "Dora", body(176, 90, 72, 98, 82, 39))
    reply = running.stub.GetTwinMesh(pb.GetTwinMeshRequest(twin_id=twin.twin_id, pose="front"), metadata=ADMIN)
    assert reply.content_type == "model/gltf-binary" and reply.twin_version == 1
    mesh = trimesh.load(io.BytesIO(reply.glb), file_type="glb", force="mesh")
    low, high = mesh.bounds
    assert abs((high[1] - low[1]) * 100 - twin.fitted.stature_cm) < 1.0  # metres, +Y up
    assert abs(twin.fitted.stature_cm - 176) <= 0.5 + abs(twin.residuals_mm["stature_cm"]) / 10
    exported = running.stub.ExportTwin(pb.ExportTwinRequest(twin_id=twin.twin_id), metadata=ADMIN)
    assert exported.twin.talent.display_name == "Dora" and exported.glb[:4] == b"glTF"


def test_an_avatar_gets_size_advice_and_its_deletion_cascades(running, stack_under_test):
    avatar = running.stub.CreateAvatar(
        pb.CreateAvatarRequest(sex="male", age_years=40, measurements=body(182, 112, 100, 110, 84, 46)),
        metadata=API,
        timeout=600,
    ).twin
    assert avatar.kind == "customer" and not avatar.HasField("talent")
    advice = running.stub.RecommendSize(
        pb.RecommendSizeRequest(twin_id=avatar.twin_id, size_chart=chart_proto(), garment_type="shirt"), metadata=API
    )
    assert advice.size_label and set(advice.fit.values()) <= {"tight", "regular", "loose"}
    assert 0.0 <= advice.confidence <= 1.0 and advice.ease_cm
    deleted = running.stub.DeleteAvatar(pb.DeleteAvatarRequest(twin_id=avatar.twin_id), metadata=API)
    mine = stack_under_test.records(
        stack_under_test.topics.twins, lambda seen: any(k == avatar.twin_id and p is None for k, p in seen)
    )
    trail = [p for k, p in mine if k == avatar.twin_id]
    assert isinstance(trail[-2], twins_pb2.TwinDeleted) and trail[-2].kind == "customer" and trail[-1] is None
    assert deleted.event_id
    with pytest.raises(grpc.RpcError) as raised:
        running.stub.GetTwin(pb.GetTwinRequest(twin_id=avatar.twin_id), metadata=API)
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


def test_after_a_restart_the_registry_and_ledger_are_back_and_a_replay_plans_nothing(running, stack_under_test):
    brand = stack_under_test.brand
    wait_for(lambda: len(roster(running, brand)) == ROSTER_SIZE)
    star = create_talent(running, "Eve")
    consent_id = grant(running, star.twin_id, brand)
    look = f"LOOK-{uuid.uuid4().hex[:8]}"
    upserted = product(look, brand=brand)
    stack_under_test.send_product(upserted)
    first = stack_under_test.plans(look, lambda plans: star.twin_id in {p.twin.twin_id for p in plans})
    running.stop()

    again = stack_under_test.start()
    try:
        twin = again.stub.GetTwin(pb.GetTwinRequest(twin_id=star.twin_id), metadata=ADMIN).twin
        assert (twin.twin_version, twin.talent.display_name) == (1, "Eve")
        history = again.stub.ListConsentHistory(pb.ListConsentHistoryRequest(twin_id=star.twin_id), metadata=ADMIN)
        assert [r.consent_id for r in history.records] == [consent_id]
        assert len(roster(again, brand)) == ROSTER_SIZE  # not seeded twice
        stack_under_test.send_product(upserted)  # the same look again: a replay
        service = f"itest-twins-{stack_under_test.name}"
        products = stack_under_test.records(stack_under_test.topics.products)
        wait_for(lambda: stack_under_test.handled(service) >= len(products))
        plans = stack_under_test.plans(look)
        assert sorted(p.render_id for p in plans) == sorted(p.render_id for p in first)
    finally:
        again.stop()
