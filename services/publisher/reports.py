"""The talent usage ledger and the sustainability report, added up from the publisher's records.
Pure: documents in, rows out. Every figure of the report names its source."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from services.publisher.records import Document

LEDGER_COLUMNS = ("month", "twin_id", "consent_id", "channel", "images", "fee_per_image_minor", "fee_minor", "currency")


def ledger_rows(facts: Iterable[Document]) -> list[dict[str, object]]:
    """Images per twin, consent, channel and month (one fact per slot, channel and month), and
    their fee from the grant's terms."""
    rows: dict[tuple[str, str, str, str], dict[str, object]] = {}
    for fact in facts:
        key = (fact["month"], fact["twin_id"], fact["consent_id"], fact["channel"])
        row = rows.setdefault(
            key,
            dict(zip(LEDGER_COLUMNS[:4], key, strict=True))
            | {
                "images": 0,
                "fee_per_image_minor": fact["fee_per_image_minor"],
                "fee_minor": 0,
                "currency": fact["currency"],
            },
        )
        row["images"] = int(row["images"]) + 1  # type: ignore[call-overload]
        row["fee_minor"] = int(row["fee_minor"]) + int(fact["fee_per_image_minor"])  # type: ignore[call-overload]
    return [rows[key] for key in sorted(rows)]


def ledger_csv(rows: Iterable[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, LEDGER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@dataclass(frozen=True)
class Baselines:
    """Configured figures the report estimates from (each is named as the source of what it gives)."""

    # Average power draw of a render worker while rendering, watts (TWINWEAR_RENDER_POWER_WATTS).
    render_power_watts: float = 300.0
    # Looks a studio photoshoot day produces (TWINWEAR_LOOKS_PER_PHOTOSHOOT).
    looks_per_photoshoot: float = 40.0
    # Emissions of one photoshoot day, kg CO2e (TWINWEAR_PHOTOSHOOT_KG_CO2E).
    photoshoot_kg_co2e: float = 1000.0
    # Grid carbon intensity, kg CO2e per kWh (TWINWEAR_GRID_KG_CO2E_PER_KWH).
    grid_kg_co2e_per_kwh: float = 0.25


def sustainability_report(
    campaign: str, looks: set[str], renders: Iterable[Document], baselines: Baselines
) -> dict[str, object]:
    made = [r for r in renders if r["look_id"] in looks]
    fresh = [r for r in made if not r["cached"]]
    compute_seconds = sum(float(r["compute_seconds"]) for r in made)
    energy_kwh = compute_seconds * baselines.render_power_watts / 3.6e6
    photoshoots = len(looks) / baselines.looks_per_photoshoot

    def figure(value: float, unit: str, source: str) -> dict[str, object]:
        return {"value": round(value, 6), "unit": unit, "source": source}

    return {
        "campaign": campaign,
        "looks": figure(len(looks), "looks", "ProductUpserted.campaign_tags seen by the publisher"),
        "renders": figure(len(made), "renders", "RenderCompleted events of the campaign's looks"),
        "renders_computed": figure(len(fresh), "renders", "RenderCompleted with cached=false"),
        "compute_seconds": figure(compute_seconds, "s", "RenderCompleted.compute_seconds, measured by render"),
        "energy_kwh": figure(
            energy_kwh, "kWh", f"compute_seconds x TWINWEAR_RENDER_POWER_WATTS ({baselines.render_power_watts:g} W)"
        ),
        "render_kg_co2e": figure(
            energy_kwh * baselines.grid_kg_co2e_per_kwh,
            "kg CO2e",
            f"energy_kwh x TWINWEAR_GRID_KG_CO2E_PER_KWH ({baselines.grid_kg_co2e_per_kwh:g})",
        ),
        "photoshoots_replaced": figure(
            photoshoots,
            "photoshoot days",
            f"looks / TWINWEAR_LOOKS_PER_PHOTOSHOOT ({baselines.looks_per_photoshoot:g})",
        ),
        "photoshoot_kg_co2e_avoided": figure(
            photoshoots * baselines.photoshoot_kg_co2e,
            "kg CO2e",
            f"photoshoots_replaced x TWINWEAR_PHOTOSHOOT_KG_CO2E ({baselines.photoshoot_kg_co2e:g})",
        ),
    }
