"""Render planning: which renders a product needs. Pure domain, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from services.twin_builder.roster import CATALOGUE_IMAGERY, DEFAULT_POSE, Twin
from twinwear.v1 import events_pb2
from twinwear_runtime.events import derive_id


def twin_ref(twin: Twin) -> events_pb2.TwinRef:
    r, g, b = twin.skin_rgb
    return events_pb2.TwinRef(
        twin_id=twin.twin_id,
        display_name=twin.display_name,
        size_label=twin.size_label,
        monk_skin_tone=twin.monk_skin_tone,
        skin_rgb=events_pb2.Rgb(r=r, g=g, b=b),
        body=events_pb2.BodyMeasurements(
            stature_cm=twin.body.stature_cm,
            chest_girth_cm=twin.body.chest_girth_cm,
            waist_girth_cm=twin.body.waist_girth_cm,
            hip_girth_cm=twin.body.hip_girth_cm,
        ),
        consent_id=twin.consent.consent_id,
        twin_version=twin.version,
    )


def render_id(sku: str, imagery_digest: str, twin: Twin, pose: str) -> str:
    """One render per product, imagery, twin version and pose: a product version that changes only
    price or title, or a revert to earlier imagery, asks for a render that already exists. Two
    products that happen to share imagery still get assets of their own."""
    return derive_id("render", sku, imagery_digest, twin.twin_id, str(twin.version), pose)


def plan_renders(
    product: events_pb2.ProductUpserted, roster: Iterable[Twin], today: date, pose: str = DEFAULT_POSE
) -> list[events_pb2.RenderRequested]:
    """One render of the product on each twin whose consent covers catalogue imagery today."""
    return [
        events_pb2.RenderRequested(
            render_id=render_id(product.sku, product.imagery_digest, twin, pose),
            sku=product.sku,
            revision=product.revision,
            twin=twin_ref(twin),
            flat_lay=product.flat_lay,
            garment_colour=product.colour,
            product_version=product.product_version,
            pose=pose,
        )
        for twin in roster
        if twin.consent.allows(CATALOGUE_IMAGERY, today)
    ]
