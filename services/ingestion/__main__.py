"""Run the ingestion service: ``python -m services.ingestion``."""

from __future__ import annotations

import dataclasses
import functools
import threading

from services.ingestion.accept import SERVICE, StoredProductVersions, accept_product, retire_product
from services.ingestion.grpc_api import start_grpc_api
from services.ingestion.http_api import HttpLimits, start_http_api
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import PRODUCTS
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


def main() -> None:
    service, config = Service.start(SERVICE, IngestionConfig, [PRODUCTS], [FLAT_LAYS_BUCKET, STATE_BUCKET])
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
    http = start_http_api(config.http_port, accept, retire, tokens, config.bind_address, limits)
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
    service.close()


if __name__ == "__main__":
    main()
