"""Twins, products and grants for the twin builder's tests: bodies sized on a chart's rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.twin_builder.consent import ConsentLedger, validate_grant
from services.twin_builder.planning import size_row_proto
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_body.appearance import MONK_SKIN_TONES
from twinwear_body.params import BodyParams, Measurements
from twinwear_body.sizing import COMMON_CHART, SizeRow

TODAY = date(2026, 11, 25)
BRAND = "acme"
PARAMS = BodyParams(phenotype={"gender": 1.0, "age": 0.8}).to_proto()


def row(label: str, chart: Sequence[SizeRow] = COMMON_CHART) -> SizeRow:
    [found] = [r for r in chart if r.size_label == label]
    return found


def body_for(label: str, chart: Sequence[SizeRow] = COMMON_CHART) -> Measurements:
    """A body in the middle of a size's ranges."""
    size = row(label, chart)

    def mid(span: tuple[float, float] | None, default: float) -> float:
        return default if span is None else (span[0] + span[1]) / 2

    return Measurements(
        stature_cm=170.0,
        chest_girth_cm=mid(size.chest, 92.0),
        waist_girth_cm=mid(size.waist, 76.0),
        hip_girth_cm=mid(size.hip, 100.0),
        inside_leg_cm=mid(size.inside_leg, 78.0),
        shoulder_width_cm=40.0,
    )


def twin(
    twin_id: str, kind: str = "synthetic", size: str = "M", tone: int = 5, brand: str = BRAND, version: int = 1
) -> twins_pb2.Twin:
    r, g, b = MONK_SKIN_TONES[tone]
    body = body_for(size).to_proto()
    return twins_pb2.Twin(
        twin_id=twin_id,
        twin_version=version,
        kind=kind,
        brand=brand if kind == "synthetic" else "",
        body_parameters=PARAMS,
        measurements=body,
        fitted=body,
        appearance=events_pb2.Appearance(monk_skin_tone=tone, skin_rgb=events_pb2.Rgb(r=r, g=g, b=b), hairstyle="bob"),
        age_years=30,
        sex="female",
        size_label=size,
        talent=twins_pb2.Talent(display_name="Ada Model") if kind == "talent" else None,
    )


def chart_proto(chart: Sequence[SizeRow] = COMMON_CHART) -> list[events_pb2.SizeChartRow]:
    return [size_row_proto(r) for r in chart]


def product(look_id: str = "LOOK-1", **fields: object) -> events_pb2.ProductUpserted:
    values: dict[str, object] = {
        "sku": look_id,
        "look_id": look_id,
        "brand": BRAND,
        "revision": "r1",
        "imagery_digest": "img1",
        "product_version": 1_764_000_000_000_000,
        "flat_lay": events_pb2.ObjectRef(bucket="b", key=f"{look_id}/r1.png"),
        "garment": events_pb2.Garment(type="t-shirt"),
        "size_chart": chart_proto(),
        "channels": ["ecommerce", "social"],
        "markets": ["FR", "DE"],
        "variants": [events_pb2.Variant(sku=f"{look_id}-M", size_label="M")],
    }
    values.update(fields)
    return events_pb2.ProductUpserted(**values)


def grant(
    twin_id: str,
    brand: str = BRAND,
    channels: Sequence[str] = ("ecommerce",),
    markets: Sequence[str] = ("FR",),
    start: str = "2026-01-01",
    end: str = "2027-12-31",
) -> twins_pb2.ConsentGrant:
    return twins_pb2.ConsentGrant(
        twin_id=twin_id,
        brand=brand,
        channels=list(channels),
        markets=list(markets),
        start_date=start,
        end_date=end,
        fee_per_image_minor=2500,
        currency="EUR",
    )


# A roster that covers every size of the common chart, with tones 1..10 spread over it.
def diverse_roster(brand: str = BRAND) -> list[twins_pb2.Twin]:
    labels = [r.size_label for r in COMMON_CHART]
    return [twin(f"syn-{i:02d}", size=labels[i % len(labels)], tone=1 + i % 10, brand=brand) for i in range(20)]


def ledger_with(*grants: twins_pb2.ConsentGrant, revoked: Sequence[str] = ()) -> ConsentLedger:
    """A ledger holding the grants; those whose twin id is in ``revoked`` revoked."""
    ledger = ConsentLedger()
    for requested in grants:
        valid = validate_grant(requested, TODAY).to_proto()
        ledger.apply(f"grant-{valid.consent_id}", twins_pb2.ConsentGranted(grant=valid, actor="ops"), "2026-01-01")
        if valid.twin_id in revoked:
            revocation = twins_pb2.ConsentRevoked(consent_id=valid.consent_id, twin_id=valid.twin_id, actor="ops")
            ledger.apply(f"revoke-{valid.consent_id}", revocation, "2026-02-01")
    return ledger
