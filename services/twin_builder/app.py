"""The twin builder assembled: state rebuilt from Kafka, commands, planning handlers and the
background work (roster fitting, consent expiry). ``__main__`` runs it as a service; integration
tests run it in-process on topics of their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import structlog

from services.twin_builder.bodies import Bodies
from services.twin_builder.commands import RecordSink, Topics, TwinCommands
from services.twin_builder.handlers import Planner
from services.twin_builder.planning import CampaignPolicy
from services.twin_builder.prefitted import load_prefitted
from services.twin_builder.state import TwinBuilderState
from twinwear_contracts.topics import CONSENT, PRODUCTS, RENDER_REQUESTS, TWINS
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.replay import read_to_end
from twinwear_runtime.topics import Topic

log = structlog.get_logger()
DEFAULT_POLICY = Path(__file__).with_name("campaign_policy.toml")


def load_policy(path: str) -> CampaignPolicy:
    """The campaign policy file (TWINWEAR_CAMPAIGN_POLICY), else the one in the repository."""
    return CampaignPolicy.from_toml(Path(path or DEFAULT_POLICY).read_text())


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class TwinTopics:
    products: Topic = PRODUCTS
    twins: Topic = TWINS
    consent: Topic = CONSENT
    render_requests: Topic = RENDER_REQUESTS

    @property
    def all(self) -> tuple[Topic, ...]:
        return (self.products, self.twins, self.consent, self.render_requests)

    @property
    def consumed(self) -> tuple[Topic, ...]:
        return (self.products, self.twins, self.consent)


class TwinBuilder:
    def __init__(
        self,
        bootstrap: str,
        sink: RecordSink,
        bodies: Bodies,
        policy: CampaignPolicy,
        default_brand: str,
        topics: TwinTopics = TwinTopics(),
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.state = TwinBuilderState()
        self.state.replay(read_to_end(bootstrap, topics.all))
        log.info(
            "state rebuilt",
            twins=len(self.state.registry),
            looks=len(self.state.looks),
        )
        self.topics = topics
        self.default_brand = default_brand
        self.commands = TwinCommands(
            self.state, sink, bodies, Topics(topics.twins.name, topics.consent.name), today, load_prefitted()
        )
        self.planner = Planner(self.state, policy, default_brand, topics.render_requests.name, today)
        self._stop = threading.Event()
        self._expiry: threading.Thread | None = None

    def start(self, roster_size: int, consent_check_seconds: float) -> None:
        """Seed the default roster into an empty registry; check consent terms periodically."""
        self.commands.seed_default_roster(self.default_brand, roster_size)
        self._expiry = threading.Thread(
            target=self._check_consent_terms, args=(consent_check_seconds,), name="consent-expiry", daemon=True
        )
        self._expiry.start()

    def _check_consent_terms(self, every_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                if expired := self.commands.expire_due():
                    log.info("consent grants expired", count=expired)
            except Unavailable as error:
                log.warning("consent expiry check postponed", error=str(error))
            self._stop.wait(every_seconds)

    def stop(self) -> None:
        self._stop.set()
        self.commands.stop()
        if self._expiry is not None:
            self._expiry.join(timeout=10)
