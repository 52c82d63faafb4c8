"""Run the publisher: ``python -m services.publisher``."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from services.publisher.feed_api import FeedHttpApi, start_grpc_feed
from services.publisher.feed_index import FeedView, follow_feed, read_feed
from services.publisher.handlers import Publisher
from services.publisher.provenance import C2paSigner, parse_labelled_channels
from services.publisher.publishing import PUBLIC_PREFIX, ProvenanceFiles, PublishSettings
from services.publisher.qa import QaThresholds
from services.publisher.records import StoredRecords
from services.publisher.slots import SlotIndex
from services.publisher.sustainability import SustainabilityConfig
from services.publisher.twin_view import TwinConsentView
from twinwear.v1 import events_pb2, twins_pb2
from twinwear_contracts.buckets import PUBLISHED_BUCKET, STATE_BUCKET
from twinwear_contracts.topics import ASSET_FEED, CONSENT, PRODUCTS, RENDER_RESULTS, TWINS
from twinwear_runtime.auth import AdminTokens, ApiTokens
from twinwear_runtime.config import ConfigError, RuntimeConfig, env, load_config
from twinwear_runtime.http_server import start_http_server
from twinwear_runtime.service import Service

# The goal: a withdrawn image is out of every cache within a minute.
WITHDRAWAL_GOAL_SECONDS = 60


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublisherConfig(RuntimeConfig):
    ops_port: int = env("TWINWEAR_OPS_PORT", 9104)
    # Names the consumer group, the transactional id and the records' root in the state bucket.
    service_name: str = env("TWINWEAR_SERVICE_NAME", "publisher")
    http_port: int = env("TWINWEAR_HTTP_PORT", 8090)
    grpc_port: int = env("TWINWEAR_GRPC_PORT", 50052)
    api_token: str = env("TWINWEAR_API_TOKEN", "")
    admin_tokens: str = env("TWINWEAR_ADMIN_TOKENS", "")
    # Feed links are this + the object's key; default: MinIO's own anonymous URL of the bucket.
    public_base_url: str = env("TWINWEAR_PUBLIC_BASE_URL", "")
    cache_max_age_seconds: int = env("TWINWEAR_PUBLISHED_MAX_AGE_SECONDS", WITHDRAWAL_GOAL_SECONDS)
    labelled_channels: str = env("TWINWEAR_LABELLED_CHANNELS", "social")
    # The C2PA signing certificate chain and key (PEM); for development:
    # python -m services.publisher.provenance.dev_ca
    c2pa_cert: str = env("TWINWEAR_C2PA_CERT")
    c2pa_key: str = env("TWINWEAR_C2PA_KEY")
    # An RFC 3161 time-stamping authority, so that signatures outlive the certificate (optional).
    c2pa_tsa_url: str = env("TWINWEAR_C2PA_TSA_URL", "")
    qa_min_width: int = env("TWINWEAR_QA_MIN_WIDTH", QaThresholds.min_width)
    qa_min_height: int = env("TWINWEAR_QA_MIN_HEIGHT", QaThresholds.min_height)
    qa_min_grey_std: float = env("TWINWEAR_QA_MIN_GREY_STD", QaThresholds.min_grey_std)
    qa_max_garment_delta_e: float = env("TWINWEAR_QA_MAX_GARMENT_DELTA_E", QaThresholds.max_garment_delta_e)
    qa_min_garment_coverage: float = env("TWINWEAR_QA_MIN_GARMENT_COVERAGE", QaThresholds.min_garment_coverage)
    qa_max_skin_delta_e: float = env("TWINWEAR_QA_MAX_SKIN_DELTA_E", QaThresholds.max_skin_delta_e)
    qa_max_body_through: float = env("TWINWEAR_QA_MAX_BODY_THROUGH_GARMENT", QaThresholds.max_body_through_garment)

    def publish_settings(self) -> PublishSettings:
        if not 0 < self.cache_max_age_seconds <= WITHDRAWAL_GOAL_SECONDS:
            raise ConfigError(f"TWINWEAR_PUBLISHED_MAX_AGE_SECONDS must be 1..{WITHDRAWAL_GOAL_SECONDS}")
        scheme = "https" if self.minio_secure else "http"
        base = self.public_base_url or f"{scheme}://{self.minio_endpoint}/{PUBLISHED_BUCKET}"
        return PublishSettings(base, f"public, max-age={self.cache_max_age_seconds}")

    def thresholds(self) -> QaThresholds:
        return QaThresholds(
            min_width=self.qa_min_width,
            min_height=self.qa_min_height,
            min_grey_std=self.qa_min_grey_std,
            max_garment_delta_e=self.qa_max_garment_delta_e,
            min_garment_coverage=self.qa_min_garment_coverage,
            max_skin_delta_e=self.qa_max_skin_delta_e,
            max_body_through_garment=self.qa_max_body_through,
        )


def main() -> None:
    config = load_config(PublisherConfig)
    settings, thresholds = config.publish_settings(), config.thresholds()
    tokens, admins = ApiTokens(config.api_token), AdminTokens(config.admin_tokens)
    files_signer = C2paSigner.from_files(Path(config.c2pa_cert), Path(config.c2pa_key), config.c2pa_tsa_url)
    labelled = parse_labelled_channels(config.labelled_channels)
    topics = [RENDER_RESULTS, PRODUCTS, TWINS, CONSENT]
    service = Service(config.service_name, config, [*topics, ASSET_FEED], [PUBLISHED_BUCKET, STATE_BUCKET])
    for unset in (t for t in (tokens, admins) if not t.configured):
        service.log.warning(unset.not_configured_message)
    store = service.store
    service.until_available(lambda: store.allow_anonymous_read(PUBLISHED_BUCKET, PUBLIC_PREFIX), "minio")
    slots = SlotIndex(lambda: read_feed(config.kafka_bootstrap))
    publisher = Publisher(
        store=store,
        slots=slots,
        twins=TwinConsentView(config.kafka_bootstrap),
        files=ProvenanceFiles(files_signer, labelled, store),
        records=StoredRecords(store, STATE_BUCKET, config.service_name),
        settings=settings,
        thresholds=thresholds,
        sink=service.producer,
        service=config.service_name,
    )
    # The feed APIs serve a view that follows the feed topic; they answer once it is read to the end.
    view, stopped = FeedView(), threading.Event()
    follower = threading.Thread(
        target=follow_feed,
        args=(config.kafka_bootstrap, view, stopped, lambda error: service.log.warning("feed", error=error)),
        name="feed-follower",
        daemon=True,
    )
    follower.start()
    while not view.caught_up.wait(1.0):
        service.health.beat()
    http = start_http_server(
        FeedHttpApi(view, publisher, tokens, admins, load_config(SustainabilityConfig)).app(),
        config.http_port,
        config.bind_address,
    )
    grpc_server = start_grpc_feed(config.grpc_port, view, tokens, config.bind_address)
    service.log.info("serving the feed", http_port=config.http_port, grpc_port=config.grpc_port)
    handlers = {
        events_pb2.RenderCompleted: publisher.render_completed,
        events_pb2.RenderFailed: publisher.render_failed,
        events_pb2.ProductUpserted: publisher.product_upserted,
        events_pb2.ProductRetired: publisher.product_retired,
        twins_pb2.ConsentRevoked: publisher.consent_ended,
        twins_pb2.ConsentExpired: publisher.consent_ended,
        twins_pb2.TwinDeleted: publisher.twin_deleted,
    }
    try:
        # One record at a time, in order: each decision reads the slot state the previous one left.
        service.consume(topics, handlers, listeners=[slots])
    finally:
        stopped.set()
        grpc_server.stop(grace=5).wait()
        http.shutdown()


if __name__ == "__main__":
    main()
