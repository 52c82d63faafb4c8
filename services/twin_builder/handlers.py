"""Twin builder's event handlers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from services.twin_builder.planning import plan_renders
from services.twin_builder.roster import Twin
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import RENDER_REQUESTS
from twinwear_runtime.events import Incoming, Outgoing
from twinwear_runtime.faults import PermanentError


def handle_product_upserted(
    event: Incoming, roster: Sequence[Twin], today: Callable[[], date] = date.today
) -> list[Outgoing]:
    product = event.payload
    assert isinstance(product, events_pb2.ProductUpserted)
    for field in ("sku", "imagery_digest"):
        if not getattr(product, field):
            raise PermanentError(f"ProductUpserted.{field} is empty")
    if product.product_version <= 0:
        raise PermanentError("ProductUpserted.product_version must be positive")
    if not product.flat_lay.key:
        raise PermanentError("ProductUpserted.flat_lay has no object key")
    return [Outgoing(RENDER_REQUESTS.name, r.sku, r, r.render_id) for r in plan_renders(product, roster, today())]
