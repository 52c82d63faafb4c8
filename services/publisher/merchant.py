"""The Google Merchant Center supplemental feed: one row per variant SKU (the ``id`` of the
retailer's primary feed) with its on-model images. Merchant Center's image rules: no overlays (so
never a labelled derivative, only files cleared for ecommerce), at most 64 megapixels and 16 MB,
and at least 1500 px where there is such a file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from twinwear.v1 import events_pb2

COLUMNS = ("id", "image_link", "additional_image_link", "lifestyle_image_link")
MAX_PIXELS = 64_000_000
MAX_BYTES = 16 * 1024 * 1024
PREFERRED_SIDE = 1500
MAX_ADDITIONAL = 10
_FEED_TYPES = ("image/jpeg", "image/webp", "image/png")


def merchant_rows(assets: Iterable[events_pb2.AssetPublished]) -> list[dict[str, str]]:
    by_variant: dict[str, list[events_pb2.AssetPublished]] = {}
    for asset in assets:
        if "ecommerce" not in asset.channels:
            continue
        for sku in asset.variant_skus or [asset.sku]:
            by_variant.setdefault(sku, []).append(asset)
    rows = []
    for sku in sorted(by_variant):
        # The front pose leads; the rest in slot order, so the row is the same on every read.
        ordered = sorted(by_variant[sku], key=lambda a: (a.pose != "front", a.slot))
        squares = [link for a in ordered if (link := _link(a, square=True))]
        if not squares:
            continue
        lifestyle = _link(ordered[0], square=False) or ""
        rows.append(
            {
                "id": sku,
                "image_link": squares[0],
                "additional_image_link": ",".join(squares[1 : 1 + MAX_ADDITIONAL]),
                "lifestyle_image_link": lifestyle,
            }
        )
    return rows


def merchant_tsv(assets: Iterable[events_pb2.AssetPublished]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(merchant_rows(assets))
    return out.getvalue()


def _link(asset: events_pb2.AssetPublished, *, square: bool) -> str | None:
    """The asset's best file for the feed: the square (product image) or the full on-model frame
    (lifestyle), the largest within the limits, preferring JPEG."""
    candidates = [
        d
        for d in asset.derivatives
        if not d.visible_label
        and "ecommerce" in d.channels
        and d.object.content_type in _FEED_TYPES
        and d.width * d.height <= MAX_PIXELS
        and d.object.size_bytes <= MAX_BYTES
        and (d.width == d.height) == square
    ]
    if not candidates:
        return None
    best = max(
        candidates,
        key=lambda d: (
            min(d.width, d.height) >= PREFERRED_SIDE,
            d.object.content_type == "image/jpeg",
            d.width * d.height,
        ),
    )
    return best.url
