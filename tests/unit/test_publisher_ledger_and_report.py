"""The talent usage ledger (counting rules, month boundaries, fees, CSV) and the sustainability
report's figures and sources."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.publisher.sustainability import RenderFact, SustainabilityConfig, sustainability_report
from services.publisher.talent_ledger import (
    ConsentTerms,
    LedgerRow,
    Publication,
    format_minor,
    ledger_csv,
    publications_of,
    usage_ledger,
)
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_runtime.config import load_config

UTC = datetime.UTC
TERMS = {
    "consent-ada": ConsentTerms("consent-ada", 2500, "EUR"),
    "consent-ada-2027": ConsentTerms("consent-ada-2027", 3000, "EUR"),
    "consent-ben": ConsentTerms("consent-ben", 800, "JPY"),
}


def at(day: str, time: str = "12:00:00", zone: datetime.tzinfo = UTC) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=zone)


def published(slot: str, channel: str, when: datetime.datetime, twin: str = "ada", consent: str = "consent-ada"):
    return Publication(slot, twin, consent, channel, when)


def test_a_slot_on_a_channel_counts_once_a_month_however_often_it_is_republished() -> None:
    rows = usage_ledger(
        [
            published("look-1/ada/front", "ecommerce", at("2026-11-02")),
            published("look-1/ada/front", "ecommerce", at("2026-11-02", "12:00:05")),  # a retry
            published("look-1/ada/front", "ecommerce", at("2026-11-20")),  # a new product version
            published("look-1/ada/back", "ecommerce", at("2026-11-03")),
            published("look-1/ada/front", "social", at("2026-11-02")),
        ],
        TERMS,
    )

    assert rows == [
        LedgerRow("ada", "2026-11", "ecommerce", "EUR", 2, 5000, 0, ("consent-ada",)),
        LedgerRow("ada", "2026-11", "social", "EUR", 1, 2500, 0, ("consent-ada",)),
    ]


def test_an_assets_derivatives_count_once_per_channel() -> None:
    asset = events_pb2.AssetPublished(
        slot="look-1/ada/front",
        twin_id="ada",
        consent_id="consent-ada",
        channels=["ecommerce", "social"],
        derivatives=[events_pb2.Derivative(name=n) for n in ("jpeg-1024", "webp-1024", "square-1500", "social-1024")],
    )

    rows = usage_ledger(publications_of(asset, at("2026-11-02")), TERMS)

    assert [(r.channel, r.images) for r in rows] == [("ecommerce", 1), ("social", 1)]


def test_months_are_utc_calendar_months() -> None:
    amsterdam = datetime.timezone(datetime.timedelta(hours=1))
    rows = usage_ledger(
        [
            published("s", "ecommerce", at("2026-11-30", "23:59:59")),
            published("s", "ecommerce", at("2026-12-01", "00:00:00")),  # next month: counts again
            published("s", "ecommerce", at("2027-01-01", "00:30:00", amsterdam)),  # 23:30 UTC on 31 Dec
        ],
        TERMS,
    )

    assert [(r.month, r.images) for r in rows] == [("2026-11", 1), ("2026-12", 1)]


def test_the_fee_is_the_first_publications_consent_terms_and_currencies_stay_apart() -> None:
    rows = usage_ledger(
        [
            published("s1", "print", at("2027-01-05"), consent="consent-ada"),
            published("s1", "print", at("2027-01-20"), consent="consent-ada-2027"),  # same unit: not again
            published("s2", "print", at("2027-01-21"), consent="consent-ada-2027"),
            published("s3", "print", at("2027-01-21"), twin="ben", consent="consent-ben"),
        ],
        TERMS,
    )

    assert rows == [
        LedgerRow("ada", "2027-01", "print", "EUR", 2, 5500, 0, ("consent-ada", "consent-ada-2027")),
        LedgerRow("ben", "2027-01", "print", "JPY", 1, 800, 0, ("consent-ben",)),
    ]


def test_synthetic_twins_are_left_out_and_unknown_terms_are_flagged() -> None:
    rows = usage_ledger(
        [
            published("s1", "ecommerce", at("2026-11-02"), twin="synthetic-7", consent=""),
            published("s2", "ecommerce", at("2026-11-02"), twin="cleo", consent="consent-unknown"),
        ],
        TERMS,
    )

    assert rows == [LedgerRow("cleo", "2026-11", "ecommerce", "", 1, 0, 1, ("consent-unknown",))]


publications = st.lists(
    st.builds(
        Publication,
        slot=st.sampled_from(["l1/ada/front", "l1/ada/back", "l2/ben/front"]),
        twin_id=st.sampled_from(["ada", "ben"]),
        consent_id=st.sampled_from(["consent-ada", "consent-ada-2027", "consent-ben", ""]),
        channel=st.sampled_from(["ecommerce", "social"]),
        published_at=st.datetimes(
            min_value=datetime.datetime(2026, 10, 1), max_value=datetime.datetime(2027, 2, 28), timezones=st.just(UTC)
        ),
    ),
    max_size=30,
)


@given(publications, st.randoms(use_true_random=False))
def test_the_ledger_counts_each_slot_channel_month_once_in_any_order(publications: list, random) -> None:
    rows = usage_ledger(publications, TERMS)
    shuffled = list(publications)
    random.shuffle(shuffled)

    assert usage_ledger(shuffled, TERMS) == rows
    units = {(p.slot, p.channel, p.published_at.strftime("%Y-%m")) for p in publications if p.consent_id}
    assert sum(row.images for row in rows) == len(units)
    assert all(row.fee_minor >= row.images * 800 for row in rows)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        usage_ledger([published("s", "ecommerce", datetime.datetime(2026, 11, 2))], TERMS)


def test_terms_and_render_facts_come_from_the_events() -> None:
    grant = twins_pb2.ConsentGrant(consent_id="consent-ada", fee_per_image_minor=2500, currency="EUR")
    render = events_pb2.RenderCompleted(
        render_id="r1", sku="look-1", twin_id="ada", pose="front", compute_seconds=4.5, cached=True
    )

    assert ConsentTerms.of_grant(grant) == TERMS["consent-ada"]
    assert RenderFact.of_render(render, ["summer-27"]) == RenderFact(
        "r1", "look-1/ada/front", ("summer-27",), 4.5, True
    )


def test_the_csv_has_a_header_and_fees_in_major_units() -> None:
    rows = usage_ledger(
        [
            published("s1", "ecommerce", at("2026-11-02")),
            published("s2", "ecommerce", at("2026-11-02"), twin="ben, jr", consent="consent-ben"),
        ],
        TERMS,
    )

    parsed = list(csv.DictReader(io.StringIO(ledger_csv(rows))))

    assert parsed == [
        {
            "twin_id": "ada",
            "month": "2026-11",
            "channel": "ecommerce",
            "images": "1",
            "fee_minor": "2500",
            "fee": "25.00",
            "currency": "EUR",
            "unpriced_images": "0",
            "consents": "consent-ada",
        },
        {
            "twin_id": "ben, jr",
            "month": "2026-11",
            "channel": "ecommerce",
            "images": "1",
            "fee_minor": "800",
            "fee": "800",
            "currency": "JPY",
            "unpriced_images": "0",
            "consents": "consent-ben",
        },
    ]
    assert format_minor(5, "EUR") == "0.05" and format_minor(1234, "KWD") == "1.234"


def render(render_id: str, slot: str, tags: tuple[str, ...], seconds: float, cached: bool = False) -> RenderFact:
    return RenderFact(render_id, slot, tags, seconds, cached)


def test_the_report_counts_renders_compute_and_energy_per_campaign_with_sources() -> None:
    config = SustainabilityConfig(render_power_watts=3.5, photoshoot_images=40)
    reports = sustainability_report(
        [
            render("r1", "look-1/ada/front", ("summer-27",), 12.0),
            render("r1", "look-1/ada/front", ("summer-27",), 12.0),  # a replayed event
            render("r2", "look-1/ada/back", ("summer-27", "denim"), 8.0),
            render("r3", "look-1/ada/back", ("summer-27", "denim"), 0.5, cached=True),
            render("r4", "look-2/ben/front", (), 30.0),
        ],
        config,
    )

    assert [r.campaign for r in reports] == ["denim", "summer-27", "untagged"]
    summer = reports[1]
    assert summer.figure("renders").value == 2
    assert summer.figure("renders_reused").value == 1
    assert summer.figure("images").value == 2
    assert summer.figure("compute_seconds").value == 20.0
    assert summer.figure("energy").value == pytest.approx(20.0 * 3.5 / 3_600_000)
    assert summer.figure("energy").unit == "kWh"
    assert summer.figure("photoshoots").value == pytest.approx(2 / 40)
    assert reports[0].figure("compute_seconds").value == 8.0
    for figure in summer.figures:
        assert figure.source.split(":")[0] in {"measured", "estimate", "baseline"}, figure
    assert "cloudcarbonfootprint.org" in summer.figure("energy").source
    assert "TWINWEAR_PHOTOSHOOT_IMAGES" in summer.figure("photoshoots").source


def test_configured_figures_name_their_config_key() -> None:
    config = load_config(SustainabilityConfig, {"TWINWEAR_RENDER_POWER_WATTS": "250"})
    report = sustainability_report([render("r1", "s", ("c",), 36.0)], config)[0]

    assert report.figure("energy").value == pytest.approx(0.0025)
    assert "config TWINWEAR_RENDER_POWER_WATTS" in report.figure("energy").source
    assert report.figure("photoshoots").value is None
    assert report.figure("photoshoots").source == "not configured: set TWINWEAR_PHOTOSHOOT_IMAGES"
