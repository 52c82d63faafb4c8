"""The consent ledger: what each talent agreed to, per brand, and its history. Pure domain, no I/O.

The ledger is folded from the consent topic (ConsentGranted, ConsentRevoked, ConsentExpired), which
is kept forever: it is the audit trail of who allowed what, when."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from google.protobuf.message import Message

from twinwear.v1 import twins_pb2
from twinwear_runtime.events import derive_id

CHANNELS = ("ecommerce", "social", "print", "ooh")
_MARKET = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# The actor of what the service does by itself (an expiry).
SYSTEM_ACTOR = "twin_builder"


class InvalidRequest(ValueError):
    """A field of a request is wrong; the message names it (gRPC INVALID_ARGUMENT)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Grant:
    """One brand's licence to a talent's twin: where, until when, for what fee."""

    consent_id: str
    twin_id: str
    brand: str
    channels: frozenset[str]
    markets: frozenset[str]
    start: date
    end: date
    fee_per_image_minor: int
    currency: str

    @staticmethod
    def from_proto(msg: twins_pb2.ConsentGrant) -> Grant:
        return Grant(
            consent_id=msg.consent_id,
            twin_id=msg.twin_id,
            brand=msg.brand,
            channels=frozenset(msg.channels),
            markets=frozenset(msg.markets),
            start=date.fromisoformat(msg.start_date),
            end=date.fromisoformat(msg.end_date),
            fee_per_image_minor=msg.fee_per_image_minor,
            currency=msg.currency,
        )

    def to_proto(self) -> twins_pb2.ConsentGrant:
        return twins_pb2.ConsentGrant(
            consent_id=self.consent_id,
            twin_id=self.twin_id,
            brand=self.brand,
            channels=sorted(self.channels),
            markets=sorted(self.markets),
            start_date=self.start.isoformat(),
            end_date=self.end.isoformat(),
            fee_per_image_minor=self.fee_per_image_minor,
            currency=self.currency,
        )

    def in_term(self, on: date) -> bool:
        return self.start <= on <= self.end


def _parse_date(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(field_name, f"must be an ISO 8601 date (YYYY-MM-DD), got {value!r}") from None


def validate_grant(requested: twins_pb2.ConsentGrant, today: date) -> Grant:
    """The grant a request asks for, checked field by field; its consent id derives from its content,
    so a retried request is the same grant."""
    if not requested.twin_id:
        raise InvalidRequest("grant.twin_id", "is required")
    if not requested.brand.strip():
        raise InvalidRequest("grant.brand", "is required")
    unknown = sorted(set(requested.channels) - set(CHANNELS))
    if not requested.channels or unknown:
        raise InvalidRequest("grant.channels", f"must be some of {', '.join(CHANNELS)}, got {unknown or 'none'}")
    bad_markets = sorted(m for m in requested.markets if not _MARKET.match(m))
    if not requested.markets or bad_markets:
        got = bad_markets or "none"
        raise InvalidRequest("grant.markets", f"must be ISO 3166-1 alpha-2 codes such as FR, got {got}")
    start = _parse_date(requested.start_date, "grant.start_date") if requested.start_date else today
    if not requested.end_date:
        raise InvalidRequest("grant.end_date", "is required: a consent has a term")
    end = _parse_date(requested.end_date, "grant.end_date")
    if end < start:
        raise InvalidRequest("grant.end_date", f"{end} is before the start date {start}")
    if requested.fee_per_image_minor < 0:
        raise InvalidRequest("grant.fee_per_image_minor", "must be 0 or more (minor units)")
    if not _CURRENCY.match(requested.currency):
        raise InvalidRequest("grant.currency", f"must be an ISO 4217 code such as EUR, got {requested.currency!r}")
    content = (
        requested.twin_id,
        requested.brand.strip(),
        ",".join(sorted(requested.channels)),
        ",".join(sorted(requested.markets)),
        start.isoformat(),
        end.isoformat(),
        str(requested.fee_per_image_minor),
        requested.currency,
    )
    return Grant(
        consent_id=derive_id("consent", *content),
        twin_id=requested.twin_id,
        brand=requested.brand.strip(),
        channels=frozenset(requested.channels),
        markets=frozenset(requested.markets),
        start=start,
        end=end,
        fee_per_image_minor=requested.fee_per_image_minor,
        currency=requested.currency,
    )


@dataclass(frozen=True)
class ConsentEntry:
    """One line of a twin's consent history: who did what, when."""

    event_id: str
    action: str  # granted, revoked, expired
    consent_id: str
    brand: str
    actor: str
    recorded_at: str
    grant: Grant | None = None
    reason: str = ""


@dataclass
class GrantState:
    grant: Grant
    revoked: bool = False
    expired: bool = False

    def status(self, today: date) -> str:
        if self.revoked:
            return "revoked"
        if self.expired or today > self.grant.end:
            return "expired"
        return "pending" if today < self.grant.start else "active"


@dataclass
class ConsentLedger:
    """Grants and their history per twin, as folded from the consent topic."""

    _grants: dict[str, GrantState] = field(default_factory=dict)
    _history: dict[str, list[ConsentEntry]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def apply(self, event_id: str, payload: Message, recorded_at: str) -> bool:
        """Fold one consent event in; False when it was already applied (a redelivery)."""
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        if isinstance(payload, twins_pb2.ConsentGranted):
            grant = Grant.from_proto(payload.grant)
            self._grants.setdefault(grant.consent_id, GrantState(grant))
            entry = ConsentEntry(event_id, "granted", grant.consent_id, grant.brand, payload.actor, recorded_at, grant)
            twin_id = grant.twin_id
        elif isinstance(payload, twins_pb2.ConsentRevoked):
            if state := self._grants.get(payload.consent_id):
                state.revoked = True
            entry = ConsentEntry(
                event_id,
                "revoked",
                payload.consent_id,
                payload.brand,
                payload.actor,
                recorded_at,
                reason=payload.reason,
            )
            twin_id = payload.twin_id
        elif isinstance(payload, twins_pb2.ConsentExpired):
            if state := self._grants.get(payload.consent_id):
                state.expired = True
            entry = ConsentEntry(event_id, "expired", payload.consent_id, payload.brand, SYSTEM_ACTOR, recorded_at)
            twin_id = payload.twin_id
        else:
            raise TypeError(f"not a consent event: {type(payload).__name__}")
        self._history.setdefault(twin_id, []).append(entry)
        return True

    def get(self, consent_id: str) -> GrantState | None:
        return self._grants.get(consent_id)

    def grants_of(self, twin_id: str) -> list[GrantState]:
        return sorted(
            (s for s in self._grants.values() if s.grant.twin_id == twin_id), key=lambda s: s.grant.consent_id
        )

    def active(self, twin_id: str, brand: str, today: date) -> list[Grant]:
        """The twin's grants for ``brand`` in force today, by consent id."""
        return [s.grant for s in self.grants_of(twin_id) if s.grant.brand == brand and s.status(today) == "active"]

    def licensed_brands(self, twin_id: str, today: date) -> set[str]:
        return {s.grant.brand for s in self.grants_of(twin_id) if s.status(today) == "active"}

    def history(self, twin_id: str) -> list[ConsentEntry]:
        return list(self._history.get(twin_id, ()))

    def due_to_expire(self, today: date) -> list[twins_pb2.ConsentExpired]:
        """ConsentExpired for every grant whose term ended before today and that is not yet marked."""
        return [
            twins_pb2.ConsentExpired(
                consent_id=s.grant.consent_id,
                twin_id=s.grant.twin_id,
                brand=s.grant.brand,
                end_date=s.grant.end.isoformat(),
            )
            for s in sorted(self._grants.values(), key=lambda s: s.grant.consent_id)
            if not s.revoked and not s.expired and s.grant.end < today
        ]
