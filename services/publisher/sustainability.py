"""The sustainability report per campaign: renders, compute time, estimated energy and the
photoshoots the imagery stands in for. Pure domain; every figure names its source.

Energy is an estimate: measured compute seconds (RenderCompleted.compute_seconds) times one
configured power figure. Renders reused from the cache cost no new compute and are counted apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from twinwear.v1 import events_pb2
from twinwear_contracts.topics import asset_slot
from twinwear_runtime.config import env

# Cloud Carbon Footprint's methodology (compute; AWS average max watts per vCPU, from SPECpower):
# a render keeps its core fully busy, so a compute second draws the maximum.
DEFAULT_POWER_WATTS = 3.5
POWER_CITATION = (
    "Cloud Carbon Footprint methodology, AWS average max watts per vCPU "
    "(https://www.cloudcarbonfootprint.org/docs/methodology/)"
)
UNTAGGED = "untagged"


@dataclass(frozen=True, kw_only=True)
class SustainabilityConfig:
    # Watts drawn per compute second (a CPU core; set a GPU's board power when render runs on one).
    render_power_watts: float = env("TWINWEAR_RENDER_POWER_WATTS", DEFAULT_POWER_WATTS)
    # Images one photoshoot delivers, from the retailer's studio records; 0 = not configured.
    photoshoot_images: float = env("TWINWEAR_PHOTOSHOOT_IMAGES", 0.0)


@dataclass(frozen=True)
class RenderFact:
    """What the report needs of one RenderCompleted, with its look's campaign tags."""

    render_id: str
    slot: str
    campaign_tags: tuple[str, ...]
    compute_seconds: float
    cached: bool

    @classmethod
    def of_render(cls, render: events_pb2.RenderCompleted, campaign_tags: Iterable[str]) -> RenderFact:
        """``campaign_tags``: the rendered look's, from its ProductUpserted."""
        slot = asset_slot(render.sku, render.twin_id, render.pose)
        return cls(render.render_id, slot, tuple(campaign_tags), render.compute_seconds, render.cached)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None  # None: not configured (the source says what to set)
    unit: str
    source: str


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    figures: tuple[Figure, ...]

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)


def sustainability_report(renders: Iterable[RenderFact], config: SustainabilityConfig) -> list[CampaignReport]:
    """One report per campaign tag (a render of a look with two tags counts in both; a look with
    none is reported as "untagged"), ordered by tag. A render id seen twice counts once."""
    by_campaign: dict[str, dict[str, RenderFact]] = {}
    for render in renders:
        for campaign in render.campaign_tags or (UNTAGGED,):
            by_campaign.setdefault(campaign, {}).setdefault(render.render_id, render)
    return [_campaign(campaign, list(facts.values()), config) for campaign, facts in sorted(by_campaign.items())]


def _campaign(campaign: str, renders: list[RenderFact], config: SustainabilityConfig) -> CampaignReport:
    fresh = [r for r in renders if not r.cached]
    compute_seconds = sum(r.compute_seconds for r in fresh)
    images = len({r.slot for r in renders})
    figures = [
        Figure("renders", len(fresh), "renders", "measured: RenderCompleted events not from cache, per render id"),
        Figure("renders_reused", len(renders) - len(fresh), "renders", "measured: RenderCompleted events with cached"),
        Figure("images", images, "asset slots", "measured: distinct asset slots (look/twin/pose) rendered"),
        Figure("compute_seconds", compute_seconds, "s", "measured: sum of RenderCompleted.compute_seconds"),
        Figure(
            "energy",
            compute_seconds * config.render_power_watts / 3.6e6,
            "kWh",
            f"estimate: compute_seconds x {config.render_power_watts} W ({_power_source(config)})",
        ),
        _photoshoots(images, config),
    ]
    return CampaignReport(campaign, tuple(figures))


def _power_source(config: SustainabilityConfig) -> str:
    if config.render_power_watts == DEFAULT_POWER_WATTS:
        return f"TWINWEAR_RENDER_POWER_WATTS default: {POWER_CITATION}"
    return "config TWINWEAR_RENDER_POWER_WATTS"


def _photoshoots(images: int, config: SustainabilityConfig) -> Figure:
    if config.photoshoot_images <= 0:
        return Figure("photoshoots", None, "photoshoots", "not configured: set TWINWEAR_PHOTOSHOOT_IMAGES")
    return Figure(
        "photoshoots",
        images / config.photoshoot_images,
        "photoshoots",
        f"baseline: images / config TWINWEAR_PHOTOSHOOT_IMAGES ({config.photoshoot_images:g} images per photoshoot)",
    )


def report_as_dict(report: CampaignReport) -> dict[str, object]:
    """JSON-ready: {"campaign": ..., "figures": [{"name", "value", "unit", "source"}, ...]}."""
    return {"campaign": report.campaign, "figures": [dataclasses.asdict(f) for f in report.figures]}
