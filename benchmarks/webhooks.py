"""Benchmark of the PIM webhooks (not a test): events accepted per second, end to end to Kafka,
against the raw kafka-python produce rate measured in the same run.

- raw: one KafkaProducer with twinwear's ``producer_settings`` (acks=all, idempotent, zstd) sends
  the same inbox records a webhook would write, as fast as it can, then flushes;
- single: signed Shopify ``products/update`` deliveries, one event each, POSTed to the webhook
  endpoint by ``--clients`` processes with ``--concurrency`` requests in flight each; an event
  counts once the endpoint answered 200, i.e. once Kafka acknowledged it;
- batch: signed Akeneo Events API deliveries of 10 events each, the same way.

The endpoint runs in its own process (``--serve``), as ingestion does, on port 18120, and writes to
a topic of its own (deleted at the end), so the shared inbox topic sees nothing of it. Prints the
events/s of each and the ratio webhook/raw. Expects Kafka at 127.0.0.1:9092.

    .venv/bin/python benchmarks/webhooks.py --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from devkit.pim_webhooks import (  # noqa: E402 - after the path is set
    akeneo_delivery,
    akeneo_product_event,
    shopify_delivery,
    shopify_product,
)
from services.ingestion.inbox import inbox_record  # noqa: E402
from services.ingestion.webhooks.shopify import ShopifyWebhooks  # noqa: E402
from twinwear_runtime.kafka import producer_settings  # noqa: E402

PORT = 18120
AKENEO_SECRET, SHOPIFY_SECRET = "bench-akeneo", "bench-shopify"


def serve(port: int, topic: str, bootstrap: str) -> None:
    """The webhook endpoints as ingestion wires them, until SIGTERM."""
    from services.ingestion.__main__ import IngestionConfig, webhooks_api
    from services.ingestion.http_api import HttpLimits, start_http_api
    from services.ingestion.inbox import InboxWriter
    from twinwear_runtime.auth import ApiTokens
    from twinwear_runtime.config import load_config
    from twinwear_runtime.logs import configure_logging

    configure_logging("ingestion-bench", "warning", stream=sys.stderr)  # stdout says "ready"
    environ = {"TWINWEAR_AKENEO_SECRET": AKENEO_SECRET, "TWINWEAR_SHOPIFY_SECRET": SHOPIFY_SECRET}
    config = load_config(IngestionConfig, environ | {"TWINWEAR_WEBHOOK_MAX_IN_FLIGHT": "4096"})
    inbox = InboxWriter(bootstrap, config.webhook_ack_timeout_seconds, topic=topic)
    inbox.connect()
    limits = HttpLimits(max_connections=4096)
    http = start_http_api(port, None, None, ApiTokens(None), "127.0.0.1", limits, webhooks_api(config, inbox))  # type: ignore[arg-type]
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("ready", flush=True)
    stopped.wait()
    http.shutdown()
    inbox.close()


def shopify_requests(count: int) -> list[tuple[str, dict[str, str], bytes]]:
    body = shopify_product()
    return [(d.path, d.headers, d.body) for d in (shopify_delivery(body, SHOPIFY_SECRET) for _ in range(count))]


def akeneo_requests(count: int) -> list[tuple[str, dict[str, str], bytes]]:
    deliveries = (
        akeneo_delivery([akeneo_product_event() for _ in range(10)], AKENEO_SECRET, int(time.time()))
        for _ in range(count)
    )
    return [(d.path, d.headers, d.body) for d in deliveries]


def load(kind: str, seconds: float, concurrency: int, start_at: float) -> tuple[int, int]:
    """One client process: ``concurrency`` keep-alive connections, each sending its next request as
    soon as the last was answered, for ``seconds`` from ``start_at``; (answered 200, others)."""
    requests = (shopify_requests if kind == "single" else akeneo_requests)(concurrency * 8)
    counts = [[0, 0] for _ in range(concurrency)]

    def connection(index: int) -> None:
        client = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        time.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds
        sent = index
        while time.monotonic() < deadline:
            path, headers, body = requests[sent % len(requests)]
            client.request("POST", path, body=body, headers=headers)
            response = client.getresponse()
            response.read()
            counts[index][0 if response.status == 200 else 1] += 1
            sent += concurrency
        client.close()

    threads = [threading.Thread(target=connection, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def webhook_rate(kind: str, seconds: float, clients: int, concurrency: int) -> float:
    """Events per second accepted (answered 200) by the endpoint."""
    start_at = time.time() + 3  # time for every client to build its requests
    with ProcessPoolExecutor(clients) as pool:
        results = list(
            pool.map(load, [kind] * clients, [seconds] * clients, [concurrency] * clients, [start_at] * clients)
        )
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    if failed:
        print(f"  {kind}: {failed} requests were not answered 200", file=sys.stderr)
    return ok * (10 if kind == "batch" else 1) / seconds


def raw_rate(bootstrap: str, topic: str, messages: int) -> float:
    """Inbox records per second produced by plain kafka-python with the same settings."""
    headers = {k.lower(): v for k, v in shopify_delivery(shopify_product(), SHOPIFY_SECRET).headers.items()}
    body = shopify_delivery(shopify_product(), SHOPIFY_SECRET).body
    deliveries = ShopifyWebhooks(SHOPIFY_SECRET).split(headers, body, 0)
    records = []
    for _ in range(messages):
        deliveries[0].event_id = str(uuid.uuid4())
        records.append(inbox_record(deliveries[0], topic))
    producer = KafkaProducer(**producer_settings(bootstrap, "twinwear-bench-raw"))
    producer.partitions_for(topic)
    started = time.perf_counter()
    futures = [producer.send(r.topic, key=r.key, value=r.value, headers=r.headers) for r in records]
    producer.flush()
    for future in futures:
        future.get()
    elapsed = time.perf_counter() - started
    producer.close()
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="load time for each webhook figure")
    parser.add_argument("--clients", type=int, default=1, help="client processes (more where cores are spare)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per client process")
    parser.add_argument("--raw-messages", type=int, default=20_000)
    parser.add_argument("--bootstrap", default=os.environ.get("TWINWEAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--serve", metavar="TOPIC", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(PORT, arguments.serve, arguments.bootstrap)
        return
    topic = f"twinwear.bench-webhooks-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=arguments.bootstrap, client_id="twinwear-bench")
    admin.create_topics([NewTopic(topic, 3, 1)])
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", topic, "--bootstrap", arguments.bootstrap],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready", "the endpoint did not start"
        raw = raw_rate(arguments.bootstrap, topic, arguments.raw_messages)
        single = webhook_rate("single", arguments.seconds, arguments.clients, arguments.concurrency)
        batch = webhook_rate("batch", arguments.seconds, arguments.clients, arguments.concurrency)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        admin.delete_topics([topic])
        admin.close()
    print(f"raw kafka-python produce:        {raw:10.0f} events/s")
    print(f"webhook, single events:          {single:10.0f} events/s   ratio to raw {single / raw:.3f}")
    print(f"webhook, 10-event Akeneo batches:{batch:10.0f} events/s   ratio to raw {batch / raw:.3f}")


if __name__ == "__main__":
    main()
