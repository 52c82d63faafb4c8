"""Publisher's event handlers."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from services.publisher.slots import SlotAsset, SlotState
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import PUBLISHED_BUCKET, RENDERS_BUCKET
from twinwear_contracts.topics import ASSET_FEED, asset_slot
from twinwear_runtime.events import Incoming, Outgoing, derive_id
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.storage import ObjectStore

log = structlog.get_logger()
NOT_PUBLISHED = Counter(
    "twinwear_publisher_not_published_total",
    "Render results not published, by reason (stale: the slot holds a newer version; duplicate: it "
    "holds this asset at this version already; render_failed).",
    ["reason"],
)


def handle_render_completed(event: Incoming, store: ObjectStore, slots: SlotState) -> list[Outgoing]:
    """Copy the render to the published bucket, labelled AI-generated, and announce it on the feed,
    unless its slot already holds a newer product version or this very asset. The asset id comes
    from the render id, so a repeated render result publishes the same asset."""
    render = event.payload
    assert isinstance(render, events_pb2.RenderCompleted)
    if not render.render_id or not render.image.key or not render.pose:
        raise PermanentError("RenderCompleted needs render_id, image.key and pose")
    if render.image.bucket != RENDERS_BUCKET:
        raise PermanentError(f"RenderCompleted.image must be in {RENDERS_BUCKET}, not {render.image.bucket!r}")
    asset_id = derive_id("asset", render.render_id)
    slot = asset_slot(render.sku, render.twin_id, render.pose)
    incoming = SlotAsset(render.product_version, asset_id)
    current = slots.current(slot)
    if current is not None and current.product_version > incoming.product_version:
        NOT_PUBLISHED.labels("stale").inc()
        log.info("stale render result skipped", slot=slot, newest_version=current.product_version)
        return []
    if current == incoming:
        NOT_PUBLISHED.labels("duplicate").inc()
        log.info("render result already published", slot=slot)
        return []
    image = store.copy(
        render.image,
        PUBLISHED_BUCKET,
        f"{render.sku}/{render.twin_id}/{asset_id}.png",
        metadata={
            "ai-generated": "true",
            "asset-id": asset_id,
            "render-id": render.render_id,
            "consent-id": render.consent_id,
            "model": render.model,
        },
    )
    published = events_pb2.AssetPublished(
        asset_id=asset_id,
        sku=render.sku,
        revision=render.revision,
        twin_id=render.twin_id,
        render_id=render.render_id,
        image=image,
        ai_generated=True,
        consent_id=render.consent_id,
        product_version=render.product_version,
        pose=render.pose,
        slot=slot,
    )
    slots.publish(slot, incoming)
    return [Outgoing(ASSET_FEED.name, slot, published, f"{asset_id}@{render.product_version}")]


def handle_render_failed(event: Incoming) -> list[Outgoing]:
    """Nothing to publish; the failure is logged and counted for review."""
    failed = event.payload
    assert isinstance(failed, events_pb2.RenderFailed)
    NOT_PUBLISHED.labels("render_failed").inc()
    log.warning("render failed", sku=failed.sku, twin_id=failed.twin_id, code=failed.code, reason=failed.reason)
    return []
