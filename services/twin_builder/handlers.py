"""Twin builder's event handlers: products are planned onto twins, and a change of a twin or of a
consent re-plans the looks it concerns. Each handler returns only renders not planned before (the
planned ids per look are kept), so a replay, or a price-only change, plans nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from services.twin_builder.planning import CampaignPolicy, brand_of, look_of, plan_look
from services.twin_builder.state import Plan, TwinBuilderState, recorded_at
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.faults import PermanentError


def check_product(product: events_pb2.ProductUpserted) -> None:
    if not look_of(product):
        raise PermanentError("ProductUpserted.look_id is empty (and so is sku)")
    if not product.imagery_digest:
        raise PermanentError("ProductUpserted.imagery_digest is empty")
    if product.product_version <= 0:
        raise PermanentError("ProductUpserted.product_version must be positive")
    if not product.flat_lay.key and not product.images:
        raise PermanentError("ProductUpserted has neither a flat_lay nor images to render from")


@dataclass
class Planner:
    state: TwinBuilderState
    policy: CampaignPolicy
    # The brand of products that name none (ingestion before looks).
    default_brand: str
    render_topic: str
    today: Callable[[], date] = date.today

    def product_upserted(self, event: Incoming) -> list[Outgoing]:
        product = event.payload
        assert isinstance(product, events_pb2.ProductUpserted)
        check_product(product)
        look_id = look_of(product)
        with self.state.lock:
            held = self.state.looks.get(look_id)
            if not self.state.take_product(product):
                return []  # older than the version held: a newer one was planned already
            if held is None or held.imagery_digest != product.imagery_digest:
                self.state.planned.clear(look_id)  # new imagery: plans for the old one are history
            return self._plan([product])

    def product_retired(self, event: Incoming) -> list[Outgoing]:
        retired = event.payload
        assert isinstance(retired, events_pb2.ProductRetired)
        look_id = retired.look_id or retired.sku
        if retired.variant_sku or not look_id:
            return []  # one size left the look: its imagery stays
        with self.state.lock:
            if not self.state.retire(retired):
                return []
            self.state.planned.clear(look_id)
        cancelled = events_pb2.RenderCancelled(
            look_id=look_id, product_version=retired.product_version, reason="product_retired"
        )
        return [Outgoing(self.render_topic, look_id, cancelled, f"cancel:{retired.product_version}")]

    def twin_changed(self, event: Incoming) -> list[Outgoing]:
        """A twin's new version (or deletion) from the twins topic: the looks it appears in are
        planned again; its renders get new ids (the version is part of them). A new twin is planned
        for looks as they arrive or change, not for the whole catalogue at once: a new roster would
        otherwise flood render with every look the brand ever had."""
        with self.state.lock:
            self.state.apply_twin_event(event.payload)
            if not isinstance(event.payload, twins_pb2.TwinUpserted):
                return []  # deleted: the publisher withdraws its assets; nothing new to plan
            twin = event.payload.twin
            if self.state.registry.version_of(twin.twin_id) != twin.twin_version:
                return []  # a newer version exists; its own event plans it
            if twin.kind == "synthetic":
                brands = {twin.brand}
            elif twin.kind == "talent":
                brands = self.state.ledger.licensed_brands(twin.twin_id, self.today())
            else:
                return []  # customer avatars are never planned for campaigns
            worn = [p for p in self._looks_of(brands) if twin.twin_id in self.state.planned.twins(look_of(p))]
            return self._plan(worn)

    def consent_changed(self, event: Incoming) -> list[Outgoing]:
        """A grant plans the brand's looks onto the talent; a revocation or expiry stops planning
        (the ledger says so from now on; the publisher withdraws what was published)."""
        payload = event.payload
        with self.state.lock:
            self.state.ledger.apply(event.event_id, payload, recorded_at(event.envelope))
            if not isinstance(payload, twins_pb2.ConsentGranted):
                return []
            return self._plan(self._looks_of({payload.grant.brand}))

    def _looks_of(self, brands: set[str]) -> list[events_pb2.ProductUpserted]:
        return [p for _, p in sorted(self.state.looks.items()) if brand_of(p, self.default_brand) in brands]

    def _plan(self, products: Iterable[events_pb2.ProductUpserted]) -> list[Outgoing]:
        """Renders the looks need now that were not planned before (call with the lock held)."""
        twins = list(self.state.registry)
        today = self.today()
        planned = self.state.planned
        outgoing = []
        for product in products:
            look_id = look_of(product)
            requests = plan_look(
                product, twins, self.state.ledger, self.policy, today, self.default_brand, planned.twins(look_id)
            )
            for request in requests:
                if not planned.has(look_id, request.render_id):
                    planned.add(look_id, request.render_id, Plan(request.twin.twin_id, request.product_version))
                    outgoing.append(Outgoing(self.render_topic, look_id, request, request.render_id))
        return outgoing

    def handlers(self) -> dict[type, Callable[[Incoming], list[Outgoing]]]:
        return {
            events_pb2.ProductUpserted: self.product_upserted,
            events_pb2.ProductRetired: self.product_retired,
            twins_pb2.TwinUpserted: self.twin_changed,
            twins_pb2.TwinDeleted: self.twin_changed,
            twins_pb2.ConsentGranted: self.consent_changed,
            twins_pb2.ConsentRevoked: self.consent_changed,
            twins_pb2.ConsentExpired: self.consent_changed,
        }
