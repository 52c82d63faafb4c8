"""The talent usage ledger: how often each twin was published, per channel and month, and what
it earned under its consent terms. Pure domain; the publisher feeds it its publication records.

The unit is an asset slot published on a channel in a calendar month (UTC): the slot's
derivatives count once, and publishing the same slot again in the same month (a retry, a new
product version, a re-approval) does not count again; it counts again in a later month. The fee
is the one in the terms of the consent the slot's first publication of that month used.
Synthetic twins (no consent id) have no talent to pay and are left out.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from twinwear.v1 import events_pb2, twins_pb2

# ISO 4217 currencies whose minor unit is not a hundredth (the rest have two decimals).
_MINOR_DIGITS = {"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3, "CLP": 0, "ISK": 0}
_MINOR_DIGITS |= dict.fromkeys(("JPY", "KRW", "VND", "XAF", "XOF", "XPF", "PYG", "UGX", "RWF", "BIF", "KMF"), 0)
CSV_COLUMNS = ("twin_id", "month", "channel", "images", "fee_minor", "fee", "currency", "unpriced_images", "consents")


@dataclass(frozen=True)
class Publication:
    """An asset slot published on one channel (an AssetPublished lists several channels)."""

    slot: str
    twin_id: str
    consent_id: str
    channel: str
    published_at: datetime.datetime  # timezone-aware


@dataclass(frozen=True)
class ConsentTerms:
    """From a ConsentGrant: the fee per image, in minor units of the currency."""

    consent_id: str
    fee_per_image_minor: int
    currency: str

    @classmethod
    def of_grant(cls, grant: twins_pb2.ConsentGrant) -> ConsentTerms:
        return cls(grant.consent_id, grant.fee_per_image_minor, grant.currency)


@dataclass(frozen=True)
class LedgerRow:
    twin_id: str
    month: str  # "YYYY-MM", UTC
    channel: str
    currency: str  # "" for images whose consent terms are not known
    images: int
    fee_minor: int
    # Images counted whose consent has no known terms (no fee could be priced).
    unpriced_images: int
    consent_ids: tuple[str, ...]


def publications_of(asset: events_pb2.AssetPublished, published_at: datetime.datetime) -> list[Publication]:
    """One publication per channel the asset was published for."""
    return [
        Publication(asset.slot, asset.twin_id, asset.consent_id, channel, published_at)
        for channel in sorted(set(asset.channels))
    ]


def usage_ledger(publications: Iterable[Publication], terms: Mapping[str, ConsentTerms]) -> list[LedgerRow]:
    """Rows per twin, month, channel and currency, ordered by those, from every publication."""
    first_of_month: dict[tuple[str, str, str], Publication] = {}
    # The earliest publication of a unit sets its fee; the rest of the key only makes the order total.
    for publication in sorted(publications, key=lambda p: (_utc(p.published_at), p.consent_id, p.twin_id)):
        if not publication.consent_id:
            continue
        unit = (publication.slot, publication.channel, _month(publication.published_at))
        first_of_month.setdefault(unit, publication)
    rows: dict[tuple[str, str, str, str], LedgerRow] = {}
    for (_, channel, month), publication in first_of_month.items():
        grant = terms.get(publication.consent_id)
        key = (publication.twin_id, month, channel, grant.currency if grant else "")
        row = rows.get(key) or LedgerRow(*key, images=0, fee_minor=0, unpriced_images=0, consent_ids=())
        rows[key] = dataclasses.replace(
            row,
            images=row.images + 1,
            fee_minor=row.fee_minor + (grant.fee_per_image_minor if grant else 0),
            unpriced_images=row.unpriced_images + (grant is None),
            consent_ids=tuple(sorted({*row.consent_ids, publication.consent_id})),
        )
    return [rows[key] for key in sorted(rows)]


def ledger_csv(rows: Iterable[LedgerRow]) -> str:
    """The ledger as CSV (RFC 4180, header first); ``fee`` in major units, e.g. "12.50"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.twin_id,
                row.month,
                row.channel,
                row.images,
                row.fee_minor,
                format_minor(row.fee_minor, row.currency),
                row.currency,
                row.unpriced_images,
                " ".join(row.consent_ids),
            )
        )
    return buffer.getvalue()


def format_minor(amount_minor: int, currency: str) -> str:
    """Minor units as a decimal in the currency's major unit: 1250 EUR -> "12.50", 500 JPY -> "500"."""
    digits = _MINOR_DIGITS.get(currency.upper(), 2)
    if digits == 0:
        return str(amount_minor)
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{major}.{minor:0{digits}d}"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"published_at must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(datetime.UTC)


def _month(moment: datetime.datetime) -> str:
    return _utc(moment).strftime("%Y-%m")
