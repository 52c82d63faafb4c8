"""What the twin builder keeps in memory, and how it comes back after a restart: every part is
folded from Kafka topics read to their end (read_committed) at start-up.

- the twin registry, from the compacted twins topic;
- the consent ledger, from the consent topic (kept forever);
- the newest ProductUpserted per look, from the products topic (7 days: a look untouched for longer
  is re-planned when the PIM sends it again);
- the render ids planned per look for its current imagery, from the render-request topic, so a
  replay or a price-only change plans nothing, and a revert to earlier imagery plans its renders
  again (render answers them from its cache; the publisher republishes at the newest version).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from services.twin_builder.consent import ConsentLedger
from services.twin_builder.planning import look_of
from services.twin_builder.registry import TwinRegistry
from twinwear.v1 import envelope_pb2, events_pb2, twins_pb2
from twinwear_runtime.replay import Replayed


def recorded_at(envelope: envelope_pb2.EventEnvelope) -> str:
    return envelope.occurred_at.ToDatetime().isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class Plan:
    twin_id: str
    product_version: int


@dataclass
class PlannedRenders:
    """Render ids planned per look for its current imagery (with the twin and product version each
    was planned for). Ids planned in the transaction in hand stay pending until it commits: if it
    aborts, its records come again and are planned again. A TransactionListener of the consumer."""

    _committed: dict[str, dict[str, Plan]] = field(default_factory=dict)
    _pending: dict[str, dict[str, Plan]] = field(default_factory=dict)

    def has(self, look_id: str, render_id: str) -> bool:
        return render_id in self._committed.get(look_id, {}) or render_id in self._pending.get(look_id, {})

    def add(self, look_id: str, render_id: str, plan: Plan, pending: bool = True) -> None:
        (self._pending if pending else self._committed).setdefault(look_id, {})[render_id] = plan

    def twins(self, look_id: str) -> frozenset[str]:
        plans = [*self._committed.get(look_id, {}).values(), *self._pending.get(look_id, {}).values()]
        return frozenset(p.twin_id for p in plans)

    def clear(self, look_id: str) -> None:
        self._committed.pop(look_id, None)
        self._pending.pop(look_id, None)

    def keep_since(self, look_id: str, product_version: int) -> None:
        """Forget plans made for imagery the look had before ``product_version``."""
        plans = self._committed.get(look_id, {})
        self._committed[look_id] = {r: p for r, p in plans.items() if p.product_version >= product_version}

    def committed(self) -> None:
        for look_id, renders in self._pending.items():
            self._committed.setdefault(look_id, {}).update(renders)
        self._pending.clear()

    def discard(self) -> None:
        self._pending.clear()


@dataclass
class TwinBuilderState:
    """Shared by the consumer thread and the gRPC threads: take ``lock`` to read or change it."""

    registry: TwinRegistry = field(default_factory=TwinRegistry)
    ledger: ConsentLedger = field(default_factory=ConsentLedger)
    looks: dict[str, events_pb2.ProductUpserted] = field(default_factory=dict)
    # Newest version of a retired look, so an older upsert handled late does not bring it back.
    retired: dict[str, int] = field(default_factory=dict)
    # The product version since which each look has its current imagery (digest).
    imagery_since: dict[str, int] = field(default_factory=dict)
    planned: PlannedRenders = field(default_factory=PlannedRenders)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def apply_twin_event(self, payload: Message) -> bool:
        if isinstance(payload, twins_pb2.TwinUpserted):
            return self.registry.apply_upserted(payload)
        assert isinstance(payload, twins_pb2.TwinDeleted)
        return self.registry.apply_deleted(payload)

    def take_product(self, product: events_pb2.ProductUpserted) -> bool:
        """Keep the newest version of the look; False when ``product`` is older than what is held."""
        look_id = look_of(product)
        held = self.looks.get(look_id)
        newest = max(held.product_version if held else 0, self.retired.get(look_id, 0))
        if product.product_version < newest:
            return False
        if held is None or held.imagery_digest != product.imagery_digest:
            self.imagery_since[look_id] = product.product_version
        self.looks[look_id] = product
        self.retired.pop(look_id, None)
        return True

    def retire(self, retired: events_pb2.ProductRetired) -> bool:
        """A whole look retired: forget it; False when a newer upsert is held. (Its plans are
        forgotten by the RenderCancelled that follows, on the render-request topic.)"""
        look_id = retired.look_id or retired.sku
        held = self.looks.get(look_id)
        if held is not None and held.product_version > retired.product_version:
            return False
        self.looks.pop(look_id, None)
        self.imagery_since.pop(look_id, None)
        self.retired[look_id] = max(retired.product_version, self.retired.get(look_id, 0))
        return True

    def replay(self, records: Iterable[Replayed]) -> None:
        """Fold the topics' records in, as read at start-up."""
        for record in records:
            payload = record.payload
            if payload is None:
                self.registry.forget(record.key)  # a tombstone: only the twins topic has them
            elif isinstance(payload, twins_pb2.TwinUpserted | twins_pb2.TwinDeleted):
                self.apply_twin_event(payload)
            elif isinstance(payload, twins_pb2.ConsentGranted | twins_pb2.ConsentRevoked | twins_pb2.ConsentExpired):
                assert record.envelope is not None
                self.ledger.apply(record.envelope.event_id, payload, recorded_at(record.envelope))
            elif isinstance(payload, events_pb2.ProductUpserted):
                self.take_product(payload)
            elif isinstance(payload, events_pb2.ProductRetired):
                if not payload.variant_sku:
                    self.retire(payload)
            elif isinstance(payload, events_pb2.RenderRequested):
                plan = Plan(payload.twin.twin_id, payload.product_version)
                self.planned.add(payload.look_id or payload.sku, payload.render_id, plan, pending=False)
            elif isinstance(payload, events_pb2.RenderCancelled):
                self.planned.clear(payload.look_id)
        for look_id, since in self.imagery_since.items():
            self.planned.keep_since(look_id, since)
