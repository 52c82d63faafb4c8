"""Run the twin builder: ``python -m services.twin_builder``."""

from __future__ import annotations

import dataclasses

from services.twin_builder.app import TwinBuilder, TwinTopics, load_policy
from services.twin_builder.bodies import AnnyBodies
from services.twin_builder.commands import SERVICE
from services.twin_builder.grpc_api import start_twin_api
from twinwear_runtime.auth import NOT_CONFIGURED_MESSAGE, AdminTokens, ApiOrAdminTokens, ApiTokens
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service


@dataclasses.dataclass(frozen=True, kw_only=True)
class TwinBuilderConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9102)
    grpc_port: int = env("TWINWEAR_TWIN_GRPC_PORT", 50053)
    grpc_max_in_flight: int = env("TWINWEAR_TWIN_GRPC_MAX_IN_FLIGHT", 16)
    # Bearer tokens: API tokens (comma-separated) and admin tokens ("name:token,..."; the name is
    # recorded as who made a change). Talent and consent operations need an admin token.
    api_token: str = env("TWINWEAR_API_TOKEN", "")
    admin_tokens: str = env("TWINWEAR_ADMIN_TOKENS", "")
    # A TOML file; empty: services/twin_builder/campaign_policy.toml.
    campaign_policy: str = env("TWINWEAR_CAMPAIGN_POLICY", "")
    # The brand of products that name none, and of the roster seeded into an empty registry.
    default_brand: str = env("TWINWEAR_DEFAULT_BRAND", "twinwear-demo")
    default_roster_size: int = env("TWINWEAR_DEFAULT_ROSTER_SIZE", 8)
    consent_check_seconds: float = env("TWINWEAR_CONSENT_CHECK_SECONDS", 60.0)
    body_device: str = env("TWINWEAR_BODY_DEVICE", "cpu")


def main() -> None:
    topics = TwinTopics()
    service, config = Service.start(SERVICE, TwinBuilderConfig, topics.all, buckets=[])
    policy = load_policy(config.campaign_policy)
    builder = service.until_available(
        lambda: TwinBuilder(
            config.kafka_bootstrap, service.producer, AnnyBodies(config.body_device), policy, config.default_brand
        ),
        "kafka",
    )
    tokens = ApiOrAdminTokens(ApiTokens(config.api_token), AdminTokens(config.admin_tokens))
    if not tokens.api.configured and not tokens.admin.configured:
        service.log.warning(NOT_CONFIGURED_MESSAGE)
    api = start_twin_api(builder.commands, tokens, config.grpc_port, config.bind_address, config.grpc_max_in_flight)
    builder.start(config.default_roster_size, config.consent_check_seconds)
    service.log.info("serving TwinService", grpc_port=config.grpc_port)
    try:
        service.consume(topics.consumed, builder.planner.handlers(), listeners=[builder.state.planned])
    finally:
        api.stop(grace=5).wait()
        builder.stop()


if __name__ == "__main__":
    main()
