"""Run the ingestion service: ``python -m services.ingestion``."""

from __future__ import annotations

import dataclasses
import functools
import threading

from services.ingestion.accept import SERVICE, StoredProductVersions, accept_product, retire_product
from services.ingestion.grpc_api import start_grpc_api
from services.ingestion.http_api import HttpLimits, start_http_api
from services.ingestion.inbox import InboxWriter
from services.ingestion.pim.stores import RejectionStore
from services.ingestion.rejections_api import rejection_routes
from services.ingestion.webhook_api import Inbox, WebhookLimits, WebhooksApi
from services.ingestion.webhooks.akeneo import AkeneoEventsApi
from services.ingestion.webhooks.akeneo_event_platform import AkeneoEventPlatform
from services.ingestion.webhooks.salsify import SalsifyWebhooks
from services.ingestion.webhooks.shopify import ShopifyWebhooks
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import PIM_INBOX, PRODUCTS
from twinwear_runtime.auth import NOT_CONFIGURED_MESSAGE, ApiTokens
from twinwear_runtime.config import RuntimeConfig, env
from twinwear_runtime.service import Service


@dataclasses.dataclass(frozen=True, kw_only=True)
class IngestionConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9101)
    http_port: int = env("TWINWEAR_HTTP_PORT", 8080)
    grpc_port: int = env("TWINWEAR_GRPC_PORT", 50051)
    # Requests handled at once; past them HTTP answers 503 with Retry-After, gRPC RESOURCE_EXHAUSTED.
    http_max_in_flight: int = env("TWINWEAR_HTTP_MAX_IN_FLIGHT", 32)
    grpc_max_in_flight: int = env("TWINWEAR_GRPC_MAX_IN_FLIGHT", 16)
    http_max_connections: int = env("TWINWEAR_HTTP_MAX_CONNECTIONS", 1024)
    http_body_timeout_seconds: float = env("TWINWEAR_HTTP_BODY_TIMEOUT_SECONDS", 30.0)
    # Bearer tokens the APIs accept, comma-separated. Unset: the APIs answer 503 / UNAVAILABLE, but
    # the service still starts, so that an operator sees why.
    api_token: str = env("TWINWEAR_API_TOKEN", "")
    # PIM webhooks: each endpoint answers 503 naming its variable until it is set.
    akeneo_secret: str = env("TWINWEAR_AKENEO_SECRET", "")
    # The Event Platform's primary and secondary secrets, comma-separated: either is accepted.
    akeneo_ep_secrets: str = env("TWINWEAR_AKENEO_EP_SECRETS", "")
    shopify_secret: str = env("TWINWEAR_SHOPIFY_SECRET", "")
    # Salsify's certificate (PEM) and this endpoint's URL exactly as configured in Salsify (it is signed).
    salsify_cert: str = env("TWINWEAR_SALSIFY_CERT", "")
    salsify_webhook_url: str = env("TWINWEAR_SALSIFY_WEBHOOK_URL", "")
    webhook_max_body_bytes: int = env("TWINWEAR_WEBHOOK_MAX_BODY_BYTES", 4 * 1024 * 1024)
    webhook_max_event_bytes: int = env("TWINWEAR_WEBHOOK_MAX_EVENT_BYTES", 900_000)
    webhook_max_in_flight: int = env("TWINWEAR_WEBHOOK_MAX_IN_FLIGHT", 256)
    # How long a webhook waits for Kafka to acknowledge its events before answering 503.
    webhook_ack_timeout_seconds: float = env("TWINWEAR_WEBHOOK_ACK_TIMEOUT_SECONDS", 10.0)


def webhooks_api(config: IngestionConfig, inbox: Inbox) -> WebhooksApi:
    sources = (
        AkeneoEventsApi(config.akeneo_secret),
        AkeneoEventPlatform(config.akeneo_ep_secrets),
        SalsifyWebhooks.from_settings(config.salsify_cert, config.salsify_webhook_url),
        ShopifyWebhooks(config.shopify_secret),
    )
    limits = WebhookLimits(
        max_body_bytes=config.webhook_max_body_bytes,
        max_event_bytes=config.webhook_max_event_bytes,
        max_in_flight=config.webhook_max_in_flight,
        body_timeout_seconds=config.http_body_timeout_seconds,
    )
    return WebhooksApi(sources, inbox, limits)


def main() -> None:
    service, config = Service.start(SERVICE, IngestionConfig, [PRODUCTS, PIM_INBOX], [FLAT_LAYS_BUCKET, STATE_BUCKET])
    versions = StoredProductVersions(service.store)
    accept = functools.partial(accept_product, store=service.store, sink=service.producer, versions=versions)
    retire = functools.partial(retire_product, sink=service.producer, versions=versions)
    tokens = ApiTokens(config.api_token)
    if not tokens.configured:
        service.log.warning(NOT_CONFIGURED_MESSAGE)
    limits = HttpLimits(
        max_in_flight=config.http_max_in_flight,
        body_timeout_seconds=config.http_body_timeout_seconds,
        max_connections=config.http_max_connections,
    )
    inbox = InboxWriter(config.kafka_bootstrap, config.webhook_ack_timeout_seconds)
    service.until_available(inbox.connect, "kafka")
    webhooks = webhooks_api(config, inbox)
    rejections = functools.partial(rejection_routes, RejectionStore(service.store))
    http = start_http_api(config.http_port, accept, retire, tokens, config.bind_address, limits, webhooks, rejections)
    grpc_server = start_grpc_api(
        config.grpc_port, accept, retire, tokens, config.bind_address, config.grpc_max_in_flight
    )
    stopped = threading.Event()
    service.on_stop_signal(stopped.set)
    service.health.set_ready()
    service.log.info("accepting products", http_port=config.http_port, grpc_port=config.grpc_port)
    while not stopped.wait(5.0):
        service.health.beat()
    service.health.set_ready(False)
    http.shutdown()  # waits for in-flight requests, whose events are then already durable
    grpc_server.stop(grace=10).wait()
    inbox.close()
    service.close()


if __name__ == "__main__":
    main()
