"""What the TwinService does: commands on the registry and the ledger, each made durable as an event
(TwinUpserted, TwinDeleted, Consent*) before it is applied to the state, and queries that see only
what the caller may see. The gRPC layer translates requests and errors; nothing here knows gRPC."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import structlog
from google.protobuf.message import Message

from services.twin_builder.bodies import Bodies
from services.twin_builder.consent import SYSTEM_ACTOR, ConsentEntry, InvalidRequest, validate_grant
from services.twin_builder.planning import DEFAULT_GARMENT_TYPE, body_of
from services.twin_builder.registry import KINDS
from services.twin_builder.state import TwinBuilderState, recorded_at
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_body.appearance import HAIRSTYLES, MONK_SKIN_TONES
from twinwear_body.fitting import FitResult, MeasurementError, validate
from twinwear_body.params import BodyParams, Measurements
from twinwear_body.poses import load_pose
from twinwear_body.roster import RosterMember, coverage_table, generate_roster
from twinwear_body.sizing import COMMON_CHART, COMMON_CHARTS, GARMENT_TYPES, SizeAdvice, SizeRow, recommend_size
from twinwear_runtime.events import derive_id, wrap
from twinwear_runtime.kafka import ProducerRecord, event_record

log = structlog.get_logger()

SERVICE = "twin_builder"
SEXES = ("female", "male")
MAX_ROSTER = 200
# The actor of calls made with an API token rather than an admin token.
API_ACTOR = "api"


class NotFound(LookupError):
    pass


class PermissionDenied(PermissionError):
    pass


class RecordSink(Protocol):
    """Where commands write their records (the service's EventProducer: durable on return)."""

    def send(self, records: Sequence[ProducerRecord]) -> None: ...


@dataclass(frozen=True)
class Caller:
    """Who calls: an admin (by the admin token's name) or an API client, maybe for one brand."""

    admin: str | None
    brand: str | None

    @property
    def actor(self) -> str:
        return self.admin or API_ACTOR


@dataclass(frozen=True)
class Topics:
    twins: str
    consent: str


def _measurements(msg: events_pb2.BodyMeasurements, field_name: str = "measurements") -> Measurements:
    targets = Measurements.from_proto(msg)
    try:
        validate(targets)
    except MeasurementError as error:
        detail = str(error).removeprefix(f"{error.field}: ")
        if error.accepted not in detail:
            detail += f" (accepted {error.accepted})"
        raise InvalidRequest(f"{field_name}.{error.field}", detail) from None
    return targets


def _person(sex: str, age_years: int) -> None:
    if sex not in SEXES:
        raise InvalidRequest("sex", f"must be one of {', '.join(SEXES)}, got {sex!r}")
    if not 18 <= age_years <= 70:
        raise InvalidRequest("age_years", f"must be 18..70, got {age_years}")


def _appearance(given: events_pb2.Appearance) -> events_pb2.Appearance:
    if given.monk_skin_tone not in MONK_SKIN_TONES:
        raise InvalidRequest("appearance.monk_skin_tone", f"must be 1..10 (Monk scale), got {given.monk_skin_tone}")
    if given.hairstyle not in HAIRSTYLES:
        raise InvalidRequest("appearance.hairstyle", f"must be one of {', '.join(HAIRSTYLES)}")
    appearance = events_pb2.Appearance()
    appearance.CopyFrom(given)
    r, g, b = MONK_SKIN_TONES[given.monk_skin_tone]
    appearance.skin_rgb.CopyFrom(events_pb2.Rgb(r=r, g=g, b=b))
    return appearance


def _rgb(colour: tuple[int, int, int]) -> events_pb2.Rgb:
    return events_pb2.Rgb(r=colour[0], g=colour[1], b=colour[2])


def roster_appearance(member: RosterMember) -> events_pb2.Appearance:
    return _appearance(
        events_pb2.Appearance(
            monk_skin_tone=member.monk_skin_tone,
            hairstyle=member.hairstyle,
            hair_colour=_rgb(member.hair_colour),
            eye_colour=_rgb(member.eye_colour),
        )
    )


def size_on_common_chart(body: Measurements, sex: str) -> str:
    """The size a twin wears on the common chart of its sex (what ListTwins shows)."""
    return recommend_size(body, COMMON_CHARTS.get(sex, COMMON_CHART), DEFAULT_GARMENT_TYPE).size_label


@dataclass(frozen=True)
class TwinDraft:
    """A twin about to be fitted: everything but its body parameters."""

    twin_id: str
    kind: str
    brand: str
    sex: str
    age_years: int
    targets: Measurements
    appearance: events_pb2.Appearance
    talent: twins_pb2.Talent | None = None

    def proto(self, version: int = 0) -> twins_pb2.Twin:
        return twins_pb2.Twin(
            twin_id=self.twin_id,
            twin_version=version,
            kind=self.kind,
            brand=self.brand,
            measurements=self.targets.to_proto(),
            appearance=self.appearance,
            age_years=self.age_years,
            sex=self.sex,
            size_label=size_on_common_chart(self.targets, self.sex),
            talent=self.talent,
        )


def redacted(twin: twins_pb2.Twin) -> twins_pb2.Twin:
    """The twin without the person behind it (for callers that are not admins)."""
    copy = twins_pb2.Twin()
    copy.CopyFrom(twin)
    copy.ClearField("talent")
    return copy


class TwinCommands:
    def __init__(
        self,
        state: TwinBuilderState,
        sink: RecordSink,
        bodies: Bodies,
        topics: Topics,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        prefitted: Mapping[str, FitResult] | None = None,
    ) -> None:
        self._state = state
        # Fits shipped for roster members (services/twin_builder/prefitted.py), by member id.
        self._prefitted = prefitted or {}
        self._sink = sink
        self._bodies = bodies
        self._topics = topics
        self._today = today
        self._roster_queue: queue.Queue[tuple[TwinDraft, str] | None] = queue.Queue()
        self._queued: set[str] = set()
        self._worker: threading.Thread | None = None

    # -- events -----------------------------------------------------------------------------------

    def _publish(self, topic: str, key: str, payload: Message, event_id: str, tombstone: bool = False) -> str:
        """Make the event durable, then apply it to the state (under its lock: callers hold it)."""
        envelope = wrap(payload, producer=SERVICE, key=key, event_id=event_id, correlation_id=event_id)
        records = [event_record(topic, envelope)]
        if tombstone:
            records.append(ProducerRecord(topic, key.encode(), None, []))
        self._sink.send(records)
        if isinstance(payload, twins_pb2.TwinUpserted | twins_pb2.TwinDeleted):
            self._state.apply_twin_event(payload)
        else:
            self._state.ledger.apply(event_id, payload, recorded_at(envelope))
        return event_id

    def _register(
        self, draft: TwinDraft, actor: str, background: bool = False, fitted: FitResult | None = None
    ) -> twins_pb2.Twin:
        """Fit the draft (seconds, outside the lock) unless its fit is given, and publish it as the
        twin's next version."""
        fitted = fitted or self._bodies.fit(draft.targets, draft.sex, draft.age_years, background)
        with self._state.lock:
            version = self._state.registry.version_of(draft.twin_id) + 1
            twin = draft.proto(version)
            twin.body_parameters.CopyFrom(fitted.params.to_proto())
            twin.fitted.CopyFrom(fitted.fitted.to_proto())
            twin.residuals_mm.update(fitted.residuals_mm)
            twin.warnings.extend(fitted.warnings)
            twin.size_label = size_on_common_chart(fitted.fitted, draft.sex)
            event = twins_pb2.TwinUpserted(twin=twin, actor=actor)
            self._publish(
                self._topics.twins, twin.twin_id, event, derive_id("twin-upserted", twin.twin_id, str(version))
            )
        log.info(
            "twin registered", twin_id=twin.twin_id, kind=twin.kind, version=version, warnings=len(fitted.warnings)
        )
        return twin

    # -- access -----------------------------------------------------------------------------------

    def _require_admin(self, caller: Caller, what: str) -> None:
        if caller.admin is None:
            raise PermissionDenied(f"{what} needs an admin token (TWINWEAR_ADMIN_TOKENS)")

    def _require_brand_or_admin(self, caller: Caller, brand: str, what: str) -> None:
        if caller.admin is None and caller.brand != brand:
            raise PermissionDenied(f"{what} needs an admin token or the scope x-twinwear-brand: {brand}")

    def _may_see(self, caller: Caller, twin: twins_pb2.Twin) -> str | None:
        """None when the caller may see the twin, else the scope it lacks."""
        if twin.kind == "customer":
            return None  # an avatar's id is its shopper's handle (random, never listed)
        if caller.brand is None:
            return None if caller.admin else "an admin token or the metadata x-twinwear-brand"
        if twin.kind == "synthetic":
            return None if twin.brand == caller.brand else f"x-twinwear-brand: {twin.brand}"
        licensed = self._state.ledger.licensed_brands(twin.twin_id, self._today())
        return None if caller.brand in licensed else f"a consent grant of twin {twin.twin_id} to {caller.brand}"

    def _twin(self, caller: Caller, twin_id: str) -> twins_pb2.Twin:
        if not twin_id:
            raise InvalidRequest("twin_id", "is required")
        with self._state.lock:
            twin = self._state.registry.get(twin_id)
        if twin is None:
            raise NotFound(f"twin {twin_id} does not exist")
        if (missing := self._may_see(caller, twin)) is not None:
            raise PermissionDenied(f"twin {twin_id} needs {missing}")
        return twin if caller.admin else redacted(twin)

    # -- twins ------------------------------------------------------------------------------------

    def create_twin(
        self,
        caller: Caller,
        *,
        kind: str,
        brand: str,
        sex: str,
        age_years: int,
        measurements: events_pb2.BodyMeasurements,
        appearance: events_pb2.Appearance,
        talent: twins_pb2.Talent,
        twin_id: str,
    ) -> twins_pb2.Twin:
        if kind == "talent":
            self._require_admin(caller, "creating a talent twin")
            if not talent.display_name:
                raise InvalidRequest("talent.display_name", "is required for a talent twin")
            brand = ""
        elif kind == "synthetic":
            if not brand:
                raise InvalidRequest("brand", "is required for a synthetic twin")
            self._require_brand_or_admin(caller, brand, "creating a synthetic twin")
        else:
            raise InvalidRequest("kind", "must be talent or synthetic (avatars: CreateAvatar)")
        _person(sex, age_years)
        draft = TwinDraft(
            twin_id=twin_id or str(uuid.uuid4()),
            kind=kind,
            brand=brand,
            sex=sex,
            age_years=age_years,
            targets=_measurements(measurements),
            appearance=_appearance(appearance),
            talent=talent if kind == "talent" else None,
        )
        with self._state.lock:
            if self._state.registry.get(draft.twin_id) is not None:
                raise InvalidRequest("twin_id", f"twin {draft.twin_id} exists already (FitTwin changes it)")
        return self._register(draft, caller.actor)

    def fit_twin(self, caller: Caller, twin_id: str, measurements: events_pb2.BodyMeasurements) -> twins_pb2.Twin:
        current = self._twin(caller, twin_id)
        if current.kind == "talent":
            self._require_admin(caller, "refitting a talent twin")
        elif current.kind == "synthetic":
            self._require_brand_or_admin(caller, current.brand, "refitting a synthetic twin")
        with self._state.lock:
            current = self._state.registry.get(twin_id) or current  # with the person, for the new version
        draft = TwinDraft(
            twin_id=twin_id,
            kind=current.kind,
            brand=current.brand,
            sex=current.sex,
            age_years=current.age_years,
            targets=_measurements(measurements),
            appearance=current.appearance,
            talent=current.talent if current.HasField("talent") else None,
        )
        return self._register(draft, caller.actor)

    def get_twin(self, caller: Caller, twin_id: str) -> twins_pb2.Twin:
        return self._twin(caller, twin_id)

    def list_twins(self, caller: Caller, kind: str = "") -> list[twins_pb2.Twin]:
        if kind and kind not in KINDS:
            raise InvalidRequest("kind", f"must be one of {', '.join(KINDS)} or empty")
        if caller.admin is None and caller.brand is None:
            raise PermissionDenied("listing twins needs an admin token or the metadata x-twinwear-brand")
        with self._state.lock:
            twins = list(self._state.registry)
        visible = [
            t
            for t in twins
            if (not kind or t.kind == kind)
            and (t.kind != "customer" or (caller.admin and caller.brand is None))
            and self._may_see(caller, t) is None
        ]
        return visible if caller.admin else [redacted(t) for t in visible]

    def _delete(self, caller: Caller, twin: twins_pb2.Twin) -> str:
        with self._state.lock:
            deleted = twins_pb2.TwinDeleted(
                twin_id=twin.twin_id, twin_version=twin.twin_version, kind=twin.kind, actor=caller.actor
            )
            event_id = derive_id("twin-deleted", twin.twin_id, str(twin.twin_version))
            return self._publish(self._topics.twins, twin.twin_id, deleted, event_id, tombstone=True)

    def delete_twin(self, caller: Caller, twin_id: str) -> str:
        """Erasure: TwinDeleted (the publisher withdraws the twin's assets), then a tombstone, so
        compaction drops the person's data; the consent history stays on its own topic."""
        twin = self._twin(caller, twin_id)
        if twin.kind == "customer":
            raise InvalidRequest("twin_id", f"twin {twin_id} is a shopper's avatar: use DeleteAvatar")
        if twin.kind == "talent":
            self._require_admin(caller, "erasing a talent twin")
        else:
            self._require_brand_or_admin(caller, twin.brand, "deleting a synthetic twin")
        return self._delete(caller, twin)

    def mesh(self, caller: Caller, twin_id: str, pose: str) -> tuple[bytes, twins_pb2.Twin, str]:
        twin = self._twin(caller, twin_id)
        pose = pose or "front"
        try:
            load_pose(pose)
        except ValueError as error:
            raise InvalidRequest("pose", str(error)) from None
        return self._bodies.glb(BodyParams.from_proto(twin.body_parameters), pose), twin, pose

    def export_twin(self, caller: Caller, twin_id: str, pose: str) -> tuple[twins_pb2.Twin, bytes, list[ConsentEntry]]:
        self._require_admin(caller, "exporting a twin")
        glb, twin, _ = self.mesh(caller, twin_id, pose)
        return twin, glb, self.history(caller, twin_id)

    # -- rosters ----------------------------------------------------------------------------------

    def generate_roster(
        self, caller: Caller, brand: str, count: int, seed: str
    ) -> tuple[list[twins_pb2.Twin], int, str]:
        """The roster's members at once; those not registered yet are fitted in the background
        (seconds each) and registered one by one, each as it is ready."""
        if not brand:
            raise InvalidRequest("brand", "is required")
        if not 1 <= count <= MAX_ROSTER:
            raise InvalidRequest("count", f"must be 1..{MAX_ROSTER}, got {count}")
        self._require_brand_or_admin(caller, brand, "generating a roster")
        members = generate_roster(count, seed or "default")
        drafts = [
            TwinDraft(
                twin_id=derive_id("synthetic", brand, member.twin_id),
                kind="synthetic",
                brand=brand,
                sex=member.sex,
                age_years=member.age_years,
                targets=member.measurements,
                appearance=roster_appearance(member),
            )
            for member in members
        ]
        found: dict[str, twins_pb2.Twin] = {}
        queued, ready = 0, []
        with self._state.lock:
            for member, draft in zip(members, drafts, strict=True):
                registered = self._state.registry.get(draft.twin_id)
                if registered is not None:
                    found[draft.twin_id] = registered
                elif draft.twin_id in self._queued:
                    found[draft.twin_id] = draft.proto()  # being registered by an earlier call
                    queued += 1
                elif (prefitted := self._prefitted.get(member.twin_id)) is not None:
                    self._queued.add(draft.twin_id)
                    ready.append((draft, prefitted))
                else:
                    found[draft.twin_id] = draft.proto()
                    self._queued.add(draft.twin_id)
                    self._roster_queue.put((draft, caller.actor))
                    queued += 1
        try:
            for draft, prefitted in ready:
                found[draft.twin_id] = self._register(draft, caller.actor, fitted=prefitted)
        finally:
            with self._state.lock:
                self._queued.difference_update(draft.twin_id for draft, _ in ready)
        twins = [found[draft.twin_id] for draft in drafts]
        self._start_worker()
        return twins, queued, coverage_table(members)

    def _start_worker(self) -> None:
        with self._state.lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._fit_roster, name="roster-fitter", daemon=True)
                self._worker.start()

    def _fit_roster(self) -> None:
        while (job := self._roster_queue.get()) is not None:
            draft, actor = job
            try:
                self._register(draft, actor, background=True)
            except Exception as error:  # noqa: BLE001 - one member failing must not stop the others
                log.error(
                    "roster member not registered", twin_id=draft.twin_id, error=f"{type(error).__name__}: {error}"
                )
            finally:
                with self._state.lock:
                    self._queued.discard(draft.twin_id)

    def roster_pending(self) -> int:
        with self._state.lock:
            return len(self._queued)

    def stop(self) -> None:
        """Stop fitting after the member in hand; members still queued are fitted on the next start
        (GenerateRoster again, or the seed of an empty registry)."""
        if self._worker is not None:
            with self._state.lock:
                while not self._roster_queue.empty():
                    job = self._roster_queue.get_nowait()
                    if job is not None:
                        self._queued.discard(job[0].twin_id)
            self._roster_queue.put(None)
            self._worker.join(timeout=120)

    def seed_default_roster(self, brand: str, count: int) -> int:
        """While the default brand has no synthetic twins (a first start), a deterministic roster
        for it. Other brands' twins don't count: a registry that holds only those still needs it."""
        with self._state.lock:
            if any(t.kind == "synthetic" and t.brand == brand for t in self._state.registry):
                return 0
        _, queued, coverage = self.generate_roster(Caller(admin=SYSTEM_ACTOR, brand=None), brand, count, "default")
        log.info("seeding the default roster", brand=brand, twins=queued, coverage=coverage)
        return queued

    # -- consent ----------------------------------------------------------------------------------

    def _talent(self, caller: Caller, twin_id: str, what: str) -> twins_pb2.Twin:
        self._require_admin(caller, what)
        twin = self._twin(caller, twin_id)
        if twin.kind != "talent":
            raise InvalidRequest("twin_id", f"twin {twin_id} is {twin.kind}: only talent twins have consent grants")
        return twin

    def grant(self, caller: Caller, requested: twins_pb2.ConsentGrant) -> tuple[twins_pb2.ConsentGrant, str, str]:
        self._require_admin(caller, "granting consent")
        if not requested.twin_id:
            raise InvalidRequest("grant.twin_id", "is required")
        self._talent(caller, requested.twin_id, "granting consent")
        today = self._today()
        grant = validate_grant(requested, today)
        event_id = derive_id("consent-granted", grant.consent_id)
        with self._state.lock:
            if self._state.ledger.get(grant.consent_id) is None:
                event = twins_pb2.ConsentGranted(grant=grant.to_proto(), actor=caller.actor)
                self._publish(self._topics.consent, grant.twin_id, event, event_id)
            state = self._state.ledger.get(grant.consent_id)
            assert state is not None
            return state.grant.to_proto(), state.status(today), event_id

    def revoke(
        self, caller: Caller, twin_id: str, consent_id: str, reason: str
    ) -> tuple[twins_pb2.ConsentGrant, str, str]:
        self._talent(caller, twin_id, "revoking consent")
        if not consent_id:
            raise InvalidRequest("consent_id", "is required")
        event_id = derive_id("consent-revoked", consent_id)
        with self._state.lock:
            state = self._state.ledger.get(consent_id)
            if state is None or state.grant.twin_id != twin_id:
                raise NotFound(f"consent {consent_id} of twin {twin_id} does not exist")
            if not state.revoked:
                event = twins_pb2.ConsentRevoked(
                    consent_id=consent_id, twin_id=twin_id, brand=state.grant.brand, actor=caller.actor, reason=reason
                )
                self._publish(self._topics.consent, twin_id, event, event_id)
            return state.grant.to_proto(), state.status(self._today()), event_id

    def history(self, caller: Caller, twin_id: str) -> list[ConsentEntry]:
        self._require_admin(caller, "the consent history")
        if not twin_id:
            raise InvalidRequest("twin_id", "is required")
        with self._state.lock:
            entries = self._state.ledger.history(twin_id)
            if not entries and self._state.registry.get(twin_id) is None:
                raise NotFound(f"twin {twin_id} has no consent history")
            return entries

    def expire_due(self) -> int:
        """ConsentExpired for each grant whose term has ended; ids derive from the consent, so a
        check repeated (or run by two replicas) records each expiry once."""
        with self._state.lock:
            due = self._state.ledger.due_to_expire(self._today())
            for expired in due:
                self._publish(
                    self._topics.consent, expired.twin_id, expired, derive_id("consent-expired", expired.consent_id)
                )
        return len(due)

    # -- shoppers ---------------------------------------------------------------------------------

    def create_avatar(
        self, caller: Caller, sex: str, age_years: int, measurements: events_pb2.BodyMeasurements, request_id: str
    ) -> twins_pb2.Twin:
        _person(sex, age_years)
        draft = TwinDraft(
            twin_id=derive_id("avatar", request_id) if request_id else str(uuid.uuid4()),
            kind="customer",
            brand="",
            sex=sex,
            age_years=age_years,
            targets=_measurements(measurements),
            appearance=events_pb2.Appearance(),
        )
        with self._state.lock:
            if (existing := self._state.registry.get(draft.twin_id)) is not None:
                return existing  # the same request again
        return self._register(draft, caller.actor)

    def delete_avatar(self, caller: Caller, twin_id: str) -> str:
        twin = self._twin(caller, twin_id)
        if twin.kind != "customer":
            raise InvalidRequest("twin_id", f"twin {twin_id} is not an avatar")
        return self._delete(caller, twin)

    def recommend_size(
        self, caller: Caller, twin_id: str, look_id: str, chart: Sequence[events_pb2.SizeChartRow], garment: str
    ) -> tuple[SizeAdvice, str]:
        twin = self._twin(caller, twin_id)
        rows = tuple(SizeRow.from_proto(row) for row in chart)
        if not rows:
            if not look_id:
                raise InvalidRequest("look_id", "is required when no size_chart is given")
            with self._state.lock:
                product = self._state.looks.get(look_id)
            if product is None:
                raise NotFound(f"look {look_id} is not known (or retired)")
            if not product.size_chart:
                raise InvalidRequest("look_id", f"look {look_id} has no size chart: give size_chart")
            rows = tuple(SizeRow.from_proto(row) for row in product.size_chart)
            garment = garment or product.garment.type
        garment = garment or DEFAULT_GARMENT_TYPE
        if garment not in GARMENT_TYPES:
            raise InvalidRequest("garment_type", f"must be one of {', '.join(GARMENT_TYPES)}, got {garment!r}")
        return recommend_size(body_of(twin), rows, garment), garment
