"""Publishing one asset: its derivatives (made and signed by the provenance package, behind the
``AssetFiles`` port), stored in the published bucket under keys derived from the asset id and the
derivative's name, and the AssetPublished event that lists them. Withdrawing deletes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.publisher.consent import Clearance
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import PUBLISHED_BUCKET
from twinwear_contracts.topics import asset_slot
from twinwear_runtime.events import derive_id
from twinwear_runtime.storage import ObjectStore

# Everything public lives under this prefix, the only one the anonymous read policy opens.
PUBLIC_PREFIX = "assets/"


@dataclass(frozen=True)
class AssetFile:
    """One derivative as the provenance package makes it."""

    name: str
    data: bytes
    content_type: str
    width: int
    height: int
    channels: tuple[str, ...]
    visible_label: bool


@dataclass(frozen=True)
class AssetFacts:
    """What the provenance manifest records (no personal data)."""

    asset_id: str
    sku: str
    look_id: str
    product_version: int
    twin_id: str
    consent_id: str
    channels: tuple[str, ...]
    models: tuple[tuple[str, str], ...]


class AssetFiles(Protocol):
    """Makes the derivatives of a master image: sized, encoded, labelled for the channels that
    ask for a visible label, with IPTC and C2PA provenance."""

    def __call__(self, master: bytes, facts: AssetFacts) -> Sequence[AssetFile]: ...


@dataclass(frozen=True)
class PublishSettings:
    # Where the published bucket is served from, e.g. https://cdn.example.com/twinwear-published.
    public_base_url: str
    # At most the withdrawal goal: a withdrawn image leaves every cache within it.
    cache_control: str = "public, max-age=60"


_EXTENSIONS = {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png", "video/mp4": "mp4"}


def asset_id_of(render_id: str) -> str:
    return derive_id("asset", render_id)


def slot_of(render: events_pb2.RenderCompleted) -> str:
    return asset_slot(render.look_id or render.sku, render.twin_id, render.pose)


def derivative_key(asset_id: str, name: str, content_type: str) -> str:
    return f"{PUBLIC_PREFIX}{asset_id}/{name}.{_EXTENSIONS.get(content_type, 'bin')}"


def publish_files(
    render: events_pb2.RenderCompleted,
    master: bytes,
    cleared: Clearance,
    store: ObjectStore,
    files: AssetFiles,
    settings: PublishSettings,
) -> events_pb2.AssetPublished:
    """Store the derivatives of ``master`` and describe them in an AssetPublished."""
    asset_id = asset_id_of(render.render_id)
    facts = AssetFacts(
        asset_id=asset_id,
        sku=render.sku,
        look_id=render.look_id or render.sku,
        product_version=render.product_version,
        twin_id=render.twin_id,
        consent_id=cleared.consent_id,
        channels=cleared.channels,
        models=tuple((m.name, m.version) for m in render.models) or ((render.model, ""),),
    )
    derivatives = []
    for made in files(master, facts):
        if not set(made.channels) & set(cleared.channels):
            continue  # a labelled derivative for a channel this asset is not cleared for
        key = derivative_key(asset_id, made.name, made.content_type)
        stored = store.put(
            PUBLISHED_BUCKET,
            key,
            made.data,
            made.content_type,
            metadata={"Cache-Control": settings.cache_control, "asset-id": asset_id},
        )
        derivatives.append(
            events_pb2.Derivative(
                name=made.name,
                object=stored,
                url=f"{settings.public_base_url.rstrip('/')}/{key}",
                width=made.width,
                height=made.height,
                channels=sorted(set(made.channels) & set(cleared.channels)),
                visible_label=made.visible_label,
            )
        )
    primary = max(
        (d for d in derivatives if not d.visible_label), key=lambda d: d.width * d.height, default=None
    )
    return events_pb2.AssetPublished(
        asset_id=asset_id,
        sku=render.sku,
        revision=render.revision,
        twin_id=render.twin_id,
        render_id=render.render_id,
        image=primary.object if primary is not None else None,
        ai_generated=True,
        consent_id=cleared.consent_id,
        product_version=render.product_version,
        pose=render.pose,
        slot=slot_of(render),
        look_id=render.look_id or render.sku,
        variant_skus=render.variant_skus or [render.sku],
        derivatives=derivatives,
        colour=render.garment_colour,
        colour_name=render.colour_name,
        size_label=render.size_label,
        monk_skin_tone=render.monk_skin_tone,
        body_type=render.body_type,
        twin_kind=render.twin_kind,
        channels=cleared.channels,
        markets=cleared.markets,
        provenance="signed",
        brand=render.brand,
        width=render.width,
        height=render.height,
        garment_type=render.garment_type,
    )


def narrowed(asset: events_pb2.AssetPublished, cleared: Clearance) -> events_pb2.AssetPublished:
    """The asset as republished on fewer channels: derivatives for no remaining channel dropped."""
    kept = events_pb2.AssetPublished()
    kept.CopyFrom(asset)
    kept.consent_id = cleared.consent_id
    del kept.channels[:]
    kept.channels.extend(cleared.channels)
    del kept.markets[:]
    kept.markets.extend(cleared.markets)
    del kept.derivatives[:]
    for derivative in asset.derivatives:
        channels = sorted(set(derivative.channels) & set(cleared.channels))
        if channels:
            copy = kept.derivatives.add()
            copy.CopyFrom(derivative)
            del copy.channels[:]
            copy.channels.extend(channels)
    return kept


def delete_files(store: ObjectStore, derivatives: Sequence[events_pb2.Derivative]) -> int:
    """Take derivatives out of public reach; returns how many were deleted."""
    for derivative in derivatives:
        store.delete(derivative.object.bucket, derivative.object.key)
    return len(derivatives)
