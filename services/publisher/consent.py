"""The publisher's own view of twins and consent (from twinwear.twin.v1 and twinwear.consent.v1),
and the publish-time decision: on which channels and in which markets a render may be shown today.

Pure domain: events are applied in topic order; :func:`clearance` decides from the view.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from google.protobuf.message import Message

from twinwear.v1 import twins_pb2

TALENT, SYNTHETIC, CUSTOMER = "talent", "synthetic", "customer"


class NotPublishable(Exception):
    """The render must not be published. ``code`` is a metric label and the withdrawal reason;
    ``forged`` marks renders that no planner could have made (unknown twin, missing consent):
    those go to the dead-letter topic, the others are a domain outcome (consent ended meanwhile)."""

    def __init__(self, code: str, reason: str, *, forged: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.forged = forged


@dataclass
class TwinRecord:
    twin_id: str
    kind: str
    brand: str
    twin_version: int
    deleted: bool = False


@dataclass
class GrantRecord:
    grant: twins_pb2.ConsentGrant
    # "consent_revoked" or "consent_expired" once it ended.
    ended: str = ""

    def active_on(self, day: dt.date) -> bool:
        if self.ended:
            return False
        try:
            start = _date(self.grant.start_date) or dt.date.min
            end = _date(self.grant.end_date) or dt.date.max
        except ValueError:  # a grant whose dates cannot be read clears nothing
            return False
        return start <= day <= end


@dataclass(frozen=True)
class Clearance:
    """Where a render may be shown, and under which grant (empty for a synthetic twin)."""

    channels: tuple[str, ...]
    markets: tuple[str, ...]
    consent_id: str
    fee_per_image_minor: int = 0
    currency: str = ""
    twin_kind: str = TALENT


@dataclass
class TwinRegistry:
    twins: dict[str, TwinRecord] = field(default_factory=dict)
    grants: dict[str, GrantRecord] = field(default_factory=dict)

    def apply(self, event: Message) -> None:
        """Fold one event of the twins or consent topic in (others are ignored)."""
        if isinstance(event, twins_pb2.TwinUpserted):
            twin = event.twin
            known = self.twins.get(twin.twin_id)
            if known is None or twin.twin_version >= known.twin_version:
                self.twins[twin.twin_id] = TwinRecord(twin.twin_id, twin.kind, twin.brand, twin.twin_version)
        elif isinstance(event, twins_pb2.TwinDeleted):
            known = self.twins.setdefault(event.twin_id, TwinRecord(event.twin_id, event.kind, "", event.twin_version))
            known.deleted = True
        elif isinstance(event, twins_pb2.ConsentGranted):
            self.grants[event.grant.consent_id] = GrantRecord(event.grant)
        elif isinstance(event, twins_pb2.ConsentRevoked | twins_pb2.ConsentExpired) and (
            record := self.grants.get(event.consent_id)
        ):
            revoked = isinstance(event, twins_pb2.ConsentRevoked)
            record.ended = "consent_revoked" if revoked else "consent_expired"

    def grants_of(self, twin_id: str) -> list[GrantRecord]:
        return sorted((g for g in self.grants.values() if g.grant.twin_id == twin_id), key=lambda g: g.grant.consent_id)


def clearance(
    registry: TwinRegistry,
    *,
    twin_id: str,
    consent_id: str,
    brand: str,
    channels: tuple[str, ...],
    markets: tuple[str, ...],
    today: dt.date,
) -> Clearance:
    """The channels and markets a render of ``twin_id`` may be published on today, a subset of the
    planned ``channels`` and ``markets`` (empty markets: wherever the grant allows). Raises
    :class:`NotPublishable` when none."""
    twin = registry.twins.get(twin_id)
    if twin is None:
        raise NotPublishable("unknown_twin", f"twin {twin_id!r} is unknown to the twins topic", forged=True)
    if twin.kind == CUSTOMER:
        raise NotPublishable(
            "customer_avatar", f"twin {twin_id!r} is a customer avatar: never in the feed", forged=True
        )
    if twin.deleted:
        raise NotPublishable("twin_deleted", f"twin {twin_id!r} was deleted", forged=False)
    if twin.kind == SYNTHETIC:
        if twin.brand and brand and twin.brand != brand:
            raise NotPublishable("wrong_brand", f"synthetic twin {twin_id!r} belongs to {twin.brand!r}", forged=True)
        return Clearance(tuple(sorted(channels)), tuple(sorted(markets)), "", twin_kind=SYNTHETIC)
    if twin.kind != TALENT:
        raise NotPublishable("unknown_kind", f"twin {twin_id!r} has kind {twin.kind!r}", forged=True)
    if not consent_id:
        raise NotPublishable("no_consent", f"talent twin {twin_id!r} has an empty consent_id", forged=True)
    own = registry.grants.get(consent_id)
    if own is None or own.grant.twin_id != twin_id:
        raise NotPublishable("unknown_consent", f"consent {consent_id!r} is no grant of twin {twin_id!r}", forged=True)
    return cleared_by_grants(registry.grants_of(twin_id), brand or own.grant.brand, channels, markets, today)


def cleared_by_grants(
    grants: list[GrantRecord], brand: str, channels: tuple[str, ...], markets: tuple[str, ...], today: dt.date
) -> Clearance:
    """Channel by channel: a channel is cleared when an active grant of ``brand`` covers it in one
    of the markets. The first such grant (by consent id) is the one the asset is published under."""
    cleared_channels: set[str] = set()
    cleared_markets: set[str] = set()
    used: list[twins_pb2.ConsentGrant] = []
    for record in grants:
        grant = record.grant
        if grant.brand != brand or not record.active_on(today):
            continue
        grant_markets = set(grant.markets) & set(markets) if markets else set(grant.markets)
        grant_channels = set(grant.channels) & set(channels)
        if grant_markets and grant_channels:
            cleared_channels |= grant_channels
            cleared_markets |= grant_markets
            used.append(grant)
    if not used:
        raise NotPublishable("consent_ended", "no active consent grant covers any planned channel", forged=False)
    first = used[0]
    return Clearance(
        tuple(sorted(cleared_channels)),
        tuple(sorted(cleared_markets)),
        first.consent_id,
        first.fee_per_image_minor,
        first.currency,
    )


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
