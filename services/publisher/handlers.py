"""Publisher's event handler."""

from __future__ import annotations

from twinwear.v1 import events_pb2
from twinwear_runtime.events import Incoming, Outgoing, derive_id
from twinwear_runtime.retry import PermanentError
from twinwear_runtime.storage import PUBLISHED_BUCKET, ObjectStore
from twinwear_runtime.topics import ASSET_FEED


def feed_key(sku: str, twin_id: str) -> str:
    return f"{sku}/{twin_id}"


def handle_render_completed(event: Incoming, store: ObjectStore) -> list[Outgoing]:
    """Copy the render to the published bucket, labelled AI-generated, and announce it on the feed.
    The asset id comes from the render id, so a repeated render result publishes the same asset."""
    render = event.payload
    assert isinstance(render, events_pb2.RenderCompleted)
    if not render.render_id or not render.image.key:
        raise PermanentError("RenderCompleted needs render_id and image.key")
    asset_id = derive_id("asset", render.render_id)
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
    )
    return [Outgoing(ASSET_FEED.name, feed_key(render.sku, render.twin_id), published)]
