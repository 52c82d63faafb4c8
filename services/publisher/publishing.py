"""Publishing one asset: its derivatives (made and signed by the provenance package, behind the
``AssetFiles`` port), stored in the published bucket under keys derived from the asset id and the
derivative's name, and the AssetPublished event that lists them. Withdrawing deletes them."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from services.publisher.consent import Clearance
from services.publisher.provenance import (
    AssetFacts,
    C2paSigner,
    DerivativeImage,
    add_provenance,
    make_derivatives,
)
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import PUBLISHED_BUCKET
from twinwear_contracts.topics import asset_slot
from twinwear_runtime.events import derive_id
from twinwear_runtime.faults import PermanentError
from twinwear_runtime.storage import ObjectStore

# Signing and storing the derivatives of one asset go on at once (c2pa and the network release the GIL).
_POOL = ThreadPoolExecutor(8, thread_name_prefix="derivatives")
# Everything public lives under this prefix (provenance's derivative keys), the only one the
# anonymous read policy opens.
PUBLIC_PREFIX = "assets/"


class AssetFiles(Protocol):
    """Makes the derivatives of a master image for the channels it is cleared on (sized, encoded,
    labelled for the channels that ask for a visible label), each with its IPTC and C2PA
    provenance. Adapter: ``ProvenanceFiles``."""

    def __call__(
        self, render: events_pb2.RenderCompleted, master: bytes, facts: AssetFacts, channels: tuple[str, ...]
    ) -> Sequence[DerivativeImage]: ...


class ProvenanceFiles:
    """The provenance package's derivatives, signed with the configured certificate."""

    def __init__(self, signer: C2paSigner, labelled_channels: Collection[str], store: ObjectStore) -> None:
        self._signer = signer
        self._labelled = labelled_channels
        self._store = store

    def __call__(
        self, render: events_pb2.RenderCompleted, master: bytes, facts: AssetFacts, channels: tuple[str, ...]
    ) -> Sequence[DerivativeImage]:
        turntable = {
            name: self._store.get(ref) if ref.key else None
            for name, ref in (("webp", render.turntable_webp), ("mp4", render.turntable_mp4))
        }
        try:
            made = make_derivatives(
                master,
                channels=channels,
                labelled_channels=self._labelled,
                turntable_webp=turntable["webp"],
                turntable_mp4=turntable["mp4"],
            )
        except ValueError as error:  # InvalidMaster, or a channel the provenance package does not know
            raise PermanentError(f"RenderCompleted: {error}") from error
        return list(_POOL.map(lambda d: add_provenance(d, facts, self._signer), made))


@dataclass(frozen=True)
class PublishSettings:
    # Where the published bucket is served from, e.g. https://cdn.example.com/twinwear-published.
    public_base_url: str
    # At most the withdrawal goal: a withdrawn image leaves every cache within it.
    cache_control: str = "public, max-age=60"


def asset_id_of(render_id: str) -> str:
    return derive_id("asset", render_id)


def slot_of(render: events_pb2.RenderCompleted) -> str:
    return asset_slot(render.look_id or render.sku, render.twin_id, render.pose)


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
    # The grant the asset is published under may differ from the render's (another grant still clears it).
    facts = dataclasses.replace(AssetFacts.of_render(render, asset_id), consent_id=cleared.consent_id)
    # A labelled derivative for a channel this asset is not cleared for is left out.
    wanted = [d for d in files(render, master, facts, cleared.channels) if set(d.channels) & set(cleared.channels)]

    def stored(made: DerivativeImage) -> events_pb2.Derivative:
        key = made.key(asset_id)
        ref = store.put(
            PUBLISHED_BUCKET,
            key,
            made.data,
            made.content_type,
            metadata={"Cache-Control": settings.cache_control, "asset-id": asset_id, "ai-generated": "true"},
        )
        return events_pb2.Derivative(
            name=made.name,
            object=ref,
            url=f"{settings.public_base_url.rstrip('/')}/{key}",
            width=made.width,
            height=made.height,
            channels=sorted(set(made.channels) & set(cleared.channels)),
            visible_label=made.visible_label,
        )

    derivatives = list(_POOL.map(stored, wanted))
    # The asset's image: its largest full-frame JPEG (not the padded square, never a labelled file).
    frames = [d for d in derivatives if d.name.startswith("jpeg-")]
    primary = max(frames, key=lambda d: d.width * d.height, default=None)
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
        twin_kind=cleared.twin_kind,
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
