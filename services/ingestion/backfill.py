"""Backfill: load a whole Akeneo catalogue through its REST API into the inbox topic, so that a
retailer starts with every look, not only those changed since the webhook was set up.

    python -m services.ingestion.backfill            # product models first, then products

Writes one ``PimDelivery(source="akeneo-rest", event_type="product.backfill")`` per product model
and per product, the body the REST API's JSON (the same shape as the Events API's
``data.resource``), the header ``akeneo-resource`` saying which (``product_model`` or
``product``). The event id is ``<resource>:<uuid or code>:<updated>``, so running it again over an
unchanged catalogue writes the same keys, which the aggregator treats as duplicates. Reads the
Kafka and Akeneo settings from the environment (``TWINWEAR_KAFKA_BOOTSTRAP``,
``TWINWEAR_AKENEO_API_*``); exits non-zero, saying why, when Kafka or Akeneo is unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Iterable, Iterator

from kafka.errors import KafkaError

from services.ingestion.akeneo_rest import AkeneoApiSettings, AkeneoClient
from services.ingestion.inbox import InboxWriter
from services.ingestion.webhooks.raw_json import RawValue
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PIM_INBOX
from twinwear_runtime.config import ConfigError, RuntimeConfig, load_config
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.logs import configure_logging
from twinwear_runtime.topics import ensure_topics

SOURCE = "akeneo-rest"
EVENT_TYPE = "product.backfill"
# Records sent before waiting for their acknowledgements.
_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class Counts:
    product_models: int
    products: int


def backfill_deliveries(
    resource: str, items: Iterable[RawValue], key_field: str, received_at_us: int
) -> Iterator[events_pb2.PimDelivery]:
    """One inbox record per item of the catalogue; items without their key are skipped."""
    for item in items:
        fields = item.value if isinstance(item.value, dict) else {}
        key = fields.get(key_field)
        if not isinstance(key, str) or not key:
            continue
        yield events_pb2.PimDelivery(
            source=SOURCE,
            event_id=f"{resource}:{key}:{fields.get('updated', '')}",
            body=item.raw,
            headers={"akeneo-resource": resource},
            received_at_us=received_at_us,
            event_type=EVENT_TYPE,
        )


def _write(inbox: InboxWriter, deliveries: Iterable[events_pb2.PimDelivery]) -> int:
    written, chunk = 0, []
    for delivery in deliveries:
        chunk.append(delivery)
        if len(chunk) == _CHUNK:
            inbox.write_now(chunk)
            written, chunk = written + len(chunk), []
    inbox.write_now(chunk)
    return written + len(chunk)


def backfill(client: AkeneoClient, inbox: InboxWriter, page_size: int = 100) -> Counts:
    """Product models before products, so that a variant's parent is in the inbox first."""
    now_us = time.time_ns() // 1000
    models = _write(inbox, backfill_deliveries("product_model", client.product_models(page_size), "code", now_us))
    products = _write(inbox, backfill_deliveries("product", client.products(page_size), "uuid", now_us))
    return Counts(models, products)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page-size", type=int, default=100, help="items per REST API page (at most 100)")
    arguments = parser.parse_args(argv)
    try:
        config = load_config(RuntimeConfig)
        settings = AkeneoApiSettings.from_env()
    except ConfigError as error:
        print(f"backfill: {error}", file=sys.stderr)
        return 2
    log = configure_logging("ingestion-backfill", config.log_level, stream=sys.stderr)
    client, inbox = AkeneoClient(settings), InboxWriter(config.kafka_bootstrap)
    try:
        ensure_topics(config.kafka_bootstrap, config.topic_replication_factor, [PIM_INBOX])
        counts = backfill(client, inbox, arguments.page_size)
    except (Unavailable, KafkaError) as error:
        log.error("backfill stopped; run it again once the dependency is back", error=str(error))
        return 1
    finally:
        client.close()
        inbox.close()
    print(
        f"backfill: {counts.product_models} product models and {counts.products} products written to {PIM_INBOX.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
