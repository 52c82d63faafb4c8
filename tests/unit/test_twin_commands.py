"""TwinService's commands over fakes of the body model and Kafka: who may do what, what each
command writes, the consent ledger's history and expiry, avatars and size advice."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date

import pytest

from services.twin_builder.bodies import AnnyBodies
from services.twin_builder.commands import Caller, NotFound, PermissionDenied, Topics, TwinCommands
from services.twin_builder.consent import InvalidRequest
from services.twin_builder.state import TwinBuilderState
from tests.twin_fixtures import BRAND, PARAMS, TODAY, body_for, chart_proto, grant, product
from twinwear.v1 import envelope_pb2, events_pb2, twins_pb2
from twinwear_body.fitting import FitResult
from twinwear_body.params import BodyParams, Measurements
from twinwear_body.roster import generate_roster
from twinwear_runtime.kafka import ProducerRecord

ADMIN = Caller(admin="ops", brand=None)
API = Caller(admin=None, brand=None)
ACME = Caller(admin=None, brand=BRAND)
OTHER = Caller(admin=None, brand="other-brand")
TONE = events_pb2.Appearance(monk_skin_tone=6, hairstyle="bun")


class FakeBodies:
    def fit(self, targets: Measurements, sex: str, age_years: float, background: bool = False) -> FitResult:
        return FitResult(BodyParams.from_proto(PARAMS), targets, {"stature": 0.5}, [], 0.01)

    def glb(self, params: BodyParams, pose: str) -> bytes:
        return b"glTF" + pose.encode()


class Sink:
    def __init__(self) -> None:
        self.records: list[ProducerRecord] = []

    def send(self, records) -> None:
        self.records.extend(records)

    def events(self) -> list[tuple[str, str, object]]:
        out = []
        for record in self.records:
            if record.value is None:
                out.append((record.topic, record.key.decode(), None))
                continue
            envelope = envelope_pb2.EventEnvelope.FromString(record.value)
            name = envelope.event_type.rsplit(".", 1)[1]
            out.append((record.topic, record.key.decode(), name))
        return out


class Clock:
    def __init__(self) -> None:
        self.today = TODAY

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def commands(sink, clock) -> TwinCommands:
    return TwinCommands(TwinBuilderState(), sink, FakeBodies(), Topics("twins", "consent"), clock)


def create_talent(commands: TwinCommands, caller: Caller = ADMIN) -> twins_pb2.Twin:
    return commands.create_twin(
        caller,
        kind="talent",
        brand="",
        sex="female",
        age_years=31,
        measurements=body_for("M").to_proto(),
        appearance=TONE,
        talent=twins_pb2.Talent(display_name="Ada Model", contact="ada@example.com"),
        twin_id="",
    )


def test_a_talent_twin_needs_an_admin_and_is_written_to_the_twins_topic(commands, sink):
    with pytest.raises(PermissionDenied, match="admin token"):
        create_talent(commands, API)
    twin = create_talent(commands)
    assert (twin.twin_version, twin.kind, twin.talent.display_name) == (1, "talent", "Ada Model")
    assert twin.residuals_mm["stature"] == 0.5 and twin.size_label == "M"
    assert sink.events() == [("twins", twin.twin_id, "TwinUpserted")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sex": "other"}, "sex"),
        ({"age_years": 12}, "age_years"),
        ({"appearance": events_pb2.Appearance(monk_skin_tone=11, hairstyle="bun")}, "appearance.monk_skin_tone"),
        ({"appearance": events_pb2.Appearance(monk_skin_tone=3, hairstyle="mohawk")}, "appearance.hairstyle"),
        ({"measurements": replace(body_for("M"), stature_cm=500).to_proto()}, "measurements.stature_cm"),
    ],
)
def test_bad_fields_are_named(commands, change, field):
    request = {
        "kind": "synthetic",
        "brand": BRAND,
        "sex": "female",
        "age_years": 30,
        "measurements": body_for("M").to_proto(),
        "appearance": TONE,
        "talent": twins_pb2.Talent(),
        "twin_id": "",
    } | change
    with pytest.raises(InvalidRequest) as raised:
        commands.create_twin(ADMIN, **request)
    assert raised.value.field == field


def test_a_brand_sees_only_what_is_licensed_to_it_and_never_the_person(commands):
    star = create_talent(commands)
    with pytest.raises(PermissionDenied, match="consent grant"):
        commands.get_twin(ACME, star.twin_id)
    commands.grant(ADMIN, grant(star.twin_id))
    seen = commands.get_twin(ACME, star.twin_id)
    assert seen.twin_id == star.twin_id and not seen.HasField("talent")
    assert [t.twin_id for t in commands.list_twins(ACME)] == [star.twin_id]
    assert commands.list_twins(OTHER) == []
    with pytest.raises(PermissionDenied, match="x-twinwear-brand"):
        commands.list_twins(API)
    assert commands.list_twins(ADMIN)[0].talent.display_name == "Ada Model"


def test_consent_is_recorded_with_who_and_when_and_revocation_stops_the_licence(commands, sink):
    star = create_talent(commands)
    with pytest.raises(PermissionDenied):
        commands.grant(API, grant(star.twin_id))
    granted, status, _ = commands.grant(ADMIN, grant(star.twin_id))
    assert status == "active" and granted.consent_id
    assert commands.grant(ADMIN, grant(star.twin_id))[0].consent_id == granted.consent_id  # a retry: same grant
    _, status, _ = commands.revoke(Caller(admin="legal", brand=None), star.twin_id, granted.consent_id, "asked")
    assert status == "revoked"
    history = commands.history(ADMIN, star.twin_id)
    assert [(e.action, e.actor) for e in history] == [("granted", "ops"), ("revoked", "legal")]
    assert history[1].reason == "asked" and history[0].recorded_at
    assert [e for e in sink.events() if e[0] == "consent"] == [
        ("consent", star.twin_id, "ConsentGranted"),
        ("consent", star.twin_id, "ConsentRevoked"),
    ]
    with pytest.raises(NotFound):
        commands.revoke(ADMIN, star.twin_id, "no-such-consent", "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": ["tv"]}, "grant.channels"),
        ({"markets": ["France"]}, "grant.markets"),
        ({"end_date": "2026-01-01", "start_date": "2026-06-01"}, "grant.end_date"),
        ({"end_date": "soon"}, "grant.end_date"),
        ({"currency": "euro"}, "grant.currency"),
        ({"brand": ""}, "grant.brand"),
    ],
)
def test_bad_grants_are_named(commands, change, field):
    star = create_talent(commands)
    requested = grant(star.twin_id)
    for name, value in change.items():
        if isinstance(value, list):
            del getattr(requested, name)[:]
            getattr(requested, name).extend(value)
        else:
            setattr(requested, name, value)
    with pytest.raises(InvalidRequest) as raised:
        commands.grant(ADMIN, requested)
    assert raised.value.field == field


def test_a_grant_expires_once_and_its_history_says_so(commands, sink, clock):
    star = create_talent(commands)
    commands.grant(ADMIN, grant(star.twin_id, end="2026-12-31"))
    assert commands.expire_due() == 0
    clock.today = date(2027, 1, 1)
    assert commands.expire_due() == 1
    assert commands.expire_due() == 0
    assert [e.action for e in commands.history(ADMIN, star.twin_id)] == ["granted", "expired"]
    assert sum(1 for e in sink.events() if e[2] == "ConsentExpired") == 1


def test_erasure_writes_twin_deleted_and_a_tombstone_and_keeps_the_consent_history(commands, sink):
    star = create_talent(commands)
    commands.grant(ADMIN, grant(star.twin_id))
    with pytest.raises(PermissionDenied):
        commands.delete_twin(ACME, star.twin_id)
    commands.delete_twin(ADMIN, star.twin_id)
    assert sink.events()[-2:] == [("twins", star.twin_id, "TwinDeleted"), ("twins", star.twin_id, None)]
    with pytest.raises(NotFound):
        commands.get_twin(ADMIN, star.twin_id)
    assert [e.action for e in commands.history(ADMIN, star.twin_id)] == ["granted"]


def test_an_avatar_holds_no_person_gets_size_advice_and_is_deleted_with_a_cascade(commands, sink):
    avatar = commands.create_avatar(API, "male", 40, body_for("XL").to_proto(), "req-1")
    assert avatar.kind == "customer" and not avatar.HasField("talent") and not avatar.brand
    assert commands.create_avatar(API, "male", 40, body_for("XL").to_proto(), "req-1").twin_id == avatar.twin_id
    commands._state.looks["LOOK-1"] = product()
    advice, garment = commands.recommend_size(API, avatar.twin_id, "LOOK-1", [], "")
    assert (advice.size_label, garment) == ("XL", "t-shirt") and 0 <= advice.confidence <= 1
    given, _ = commands.recommend_size(API, avatar.twin_id, "", chart_proto(), "dress")
    assert given.size_label and set(given.fit.values()) <= {"tight", "regular", "loose"}
    with pytest.raises(NotFound):
        commands.recommend_size(API, avatar.twin_id, "NO-SUCH-LOOK", [], "")
    with pytest.raises(InvalidRequest) as raised:
        commands.recommend_size(API, avatar.twin_id, "LOOK-1", [], "cape")
    assert raised.value.field == "garment_type"
    assert avatar.twin_id not in {t.twin_id for t in commands.list_twins(ACME)}
    commands.delete_avatar(API, avatar.twin_id)
    assert sink.events()[-2:] == [("twins", avatar.twin_id, "TwinDeleted"), ("twins", avatar.twin_id, None)]


def test_refitting_makes_a_new_version_keeping_the_person(commands):
    star = create_talent(commands)
    refit = commands.fit_twin(ADMIN, star.twin_id, body_for("L").to_proto())
    assert (refit.twin_version, refit.talent.display_name, refit.size_label) == (2, "Ada Model", "L")


def test_the_mesh_is_asked_for_in_a_named_pose(commands):
    star = create_talent(commands)
    glb, twin, pose = commands.mesh(ADMIN, star.twin_id, "")
    assert (glb, pose, twin.twin_version) == (b"glTFfront", "front", 1)
    with pytest.raises(InvalidRequest) as raised:
        commands.mesh(ADMIN, star.twin_id, "cartwheel")
    assert raised.value.field == "pose"


def wait_for_roster(commands: TwinCommands) -> None:
    deadline = time.monotonic() + 30
    while commands.roster_pending() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_roster_is_listed_at_once_and_registered_as_it_is_fitted(commands):
    with pytest.raises(PermissionDenied):
        commands.generate_roster(OTHER, BRAND, 6, "s")
    twins, queued, coverage = commands.generate_roster(ACME, BRAND, 6, "s")
    assert queued == 6 and {t.twin_version for t in twins} == {0} and coverage
    wait_for_roster(commands)
    registered = commands.list_twins(ACME)
    assert sorted(t.twin_id for t in registered) == sorted(t.twin_id for t in twins)
    assert {t.kind for t in registered} == {"synthetic"} and {t.twin_version for t in registered} == {1}
    again, queued, _ = commands.generate_roster(ACME, BRAND, 6, "s")
    assert queued == 0 and [t.twin_id for t in again] == [t.twin_id for t in twins]
    commands.stop()


def test_the_default_roster_is_seeded_while_its_brand_has_no_synthetic_twins(commands):
    assert commands.seed_default_roster("demo", 6) == 6
    wait_for_roster(commands)
    twins = commands.list_twins(ADMIN)
    assert len(twins) == 6
    assert len({t.appearance.monk_skin_tone for t in twins}) >= 5
    assert len({t.size_label for t in twins}) >= 4 and len({t.appearance.hairstyle for t in twins}) >= 4
    assert commands.seed_default_roster("demo", 6) == 0
    commands.stop()


def test_a_call_waiting_for_the_body_model_goes_before_queued_background_fits():
    bodies = AnnyBodies()
    bodies._model = object()  # no anny needed: only the turn-taking is tested
    order: list[str] = []
    first_in = threading.Event()
    release_first = threading.Event()

    def use(name: str, background: bool, hold: threading.Event | None = None) -> None:
        with bodies._model_for(background):
            if hold is not None:
                first_in.set()
                hold.wait(10)
            order.append(name)

    first = threading.Thread(target=use, args=("roster-1", True, release_first))
    first.start()
    first_in.wait(10)
    queued = threading.Thread(target=use, args=("roster-2", True))
    queued.start()
    call = threading.Thread(target=use, args=("call", False))
    call.start()
    deadline = time.monotonic() + 10
    while bodies._calls_waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    release_first.set()
    for thread in (first, queued, call):
        thread.join(10)
    assert order == ["roster-1", "call", "roster-2"]


class NoFitting(FakeBodies):
    def fit(self, targets: Measurements, sex: str, age_years: float, background: bool = False) -> FitResult:
        raise AssertionError("a shipped fit was fitted again")


def test_shipped_fits_register_the_default_roster_at_once(sink):
    members = generate_roster(6, "default")
    shipped = {m.twin_id: FitResult(BodyParams.from_proto(PARAMS), m.measurements, {}, [], 0.0) for m in members}
    commands = TwinCommands(TwinBuilderState(), sink, NoFitting(), Topics("twins", "consent"), lambda: TODAY, shipped)
    assert commands.seed_default_roster("demo", 6) == 0  # nothing left to fit
    assert {t.twin_version for t in commands.list_twins(ADMIN)} == {1} and len(commands.list_twins(ADMIN)) == 6
    commands.stop()
