"""Run the PIM aggregator: ``python -m services.ingestion.pim``. It consumes the inbox topic
exactly once (events and offsets in one transaction) beside the ingestion API process, which
serves the rejections it records at ``GET /v1/rejections``."""

from __future__ import annotations

import dataclasses
import sys

import structlog

from services.ingestion.akeneo_rest import AkeneoApiSettings, AkeneoClient
from services.ingestion.pim.aggregator import Aggregator, Ports
from services.ingestion.pim.delivery import ProductFetcher
from services.ingestion.pim.images import FetchLimits, ImageFetcher, ImageLibrary
from services.ingestion.pim.mapping import MappingError, load_mapping
from services.ingestion.pim.stores import IndexStore, LookStore, RejectionStore
from twinwear.v1 import events_pb2
from twinwear_contracts.buckets import FLAT_LAYS_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import PIM_INBOX, PRODUCTS
from twinwear_runtime.config import ConfigError, RuntimeConfig, env
from twinwear_runtime.service import Service
from twinwear_runtime.storage import MinioObjectStore

SERVICE = "ingestion-aggregator"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AggregatorConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9105)
    # The retailer's mapping file (TOML); see services/ingestion/pim/mapping.example.toml.
    mapping_path: str = env("TWINWEAR_PIM_MAPPING")
    # Tests serve images on 127.0.0.1; in production private and loopback addresses are refused.
    image_fetch_allow_private: bool = env("TWINWEAR_IMAGE_FETCH_ALLOW_PRIVATE", False)
    image_fetch_attempts: int = env("TWINWEAR_IMAGE_FETCH_ATTEMPTS", 3)
    image_fetch_timeout_seconds: float = env("TWINWEAR_IMAGE_FETCH_TIMEOUT_SECONDS", 10.0)
    # All the images of one delivery; past it the rest are rejections rather than a stalled inbox.
    image_fetch_delivery_seconds: float = env("TWINWEAR_IMAGE_FETCH_DELIVERY_SECONDS", 60.0)


def image_limits(config: AggregatorConfig) -> FetchLimits:
    return FetchLimits(
        attempts=config.image_fetch_attempts,
        read_seconds=config.image_fetch_timeout_seconds,
        total_seconds=config.image_fetch_timeout_seconds,
        allow_private=config.image_fetch_allow_private,
    )


def ports(
    store: MinioObjectStore, fetcher: ImageFetcher, products: ProductFetcher | None, image_seconds: float
) -> Ports:
    images = ImageLibrary(fetcher, store)
    return Ports(LookStore(store), IndexStore(store), RejectionStore(store), images, products, image_seconds)


def akeneo_client(log: structlog.stdlib.BoundLogger) -> AkeneoClient | None:
    """Akeneo's REST client when TWINWEAR_AKENEO_API_* are set: it resolves the Event Platform's
    thin events and authorises Akeneo's media-file links."""
    try:
        settings = AkeneoApiSettings.from_env()
    except ConfigError as error:
        log.warning("Akeneo Event Platform events will be rejections", reason=str(error))
        return None
    return AkeneoClient(settings)


def main() -> None:
    service, config = Service.start(SERVICE, AggregatorConfig, [PIM_INBOX, PRODUCTS], [FLAT_LAYS_BUCKET, STATE_BUCKET])
    try:
        mapping = load_mapping(config.mapping_path)
    except MappingError as error:
        service.log.error("the mapping file is wrong", error=str(error))
        service.close()
        sys.exit(2)
    akeneo = akeneo_client(service.log)
    fetcher = ImageFetcher(image_limits(config), headers_for=akeneo.authorization_for if akeneo else lambda url: {})
    aggregator = Aggregator(mapping, ports(service.store, fetcher, akeneo, config.image_fetch_delivery_seconds))
    service.log.info("aggregating PIM deliveries", mapping=config.mapping_path, sources=sorted(mapping.sources))
    try:
        service.consume([PIM_INBOX], {events_pb2.PimDelivery: aggregator.handle})
    finally:
        fetcher.close()
        if akeneo is not None:
            akeneo.close()


if __name__ == "__main__":
    main()
