"""The PIM webhook endpoints on the real Kafka: each vendor's delivery is answered 200 only once its
events are readable on the inbox topic, one record per event keyed ``<source>:<event id>``; what is
refused leaves nothing there; Kafka unreachable is a 503 and the PIM's redelivery is accepted later.

The endpoints run in-process on this helper's ports (18101, 18102), with the wiring of ingestion's
``__main__``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import STDOUT

import httpx
import pytest

from devkit.pim_webhooks import (
    SHOPIFY_PRODUCT_ID,
    SHOPIFY_VARIANT_IDS,
    Delivery,
    SalsifySigner,
    akeneo_delivery,
    akeneo_product_event,
    cloud_event,
    event_platform_delivery,
    salsify_delivery,
    salsify_product,
    shopify_delivery,
    shopify_product,
)
from services.ingestion.__main__ import IngestionConfig, webhooks_api
from services.ingestion.http_api import HttpLimits, start_http_api
from services.ingestion.inbox import InboxWriter
from tests.integration.inbox_reader import Inbox
from twinwear_contracts.topics import PIM_INBOX
from twinwear_runtime.auth import ApiTokens
from twinwear_runtime.config import load_config
from twinwear_runtime.http_server import HttpServer
from twinwear_runtime.topics import ensure_topics

pytestmark = pytest.mark.integration
HTTP_PORT, DOWN_PORT, NO_KAFKA_PORT = 18101, 18102, 18199
AKENEO_SECRET = "itest-akeneo-secret"
EP_OLD, EP_NEW = "itest-ep-old", "itest-ep-new"
SHOPIFY_SECRET = "itest-shopify-secret"
SALSIFY_URL = "https://twinwear.example.com/v1/webhooks/salsify"
SIGNER = SalsifySigner.generate()
ROOT = Path(__file__).resolve().parents[2]


def never(*_: object) -> None:
    raise AssertionError("the products API is not used here")


@dataclasses.dataclass
class Endpoints:
    url: str
    http: HttpServer
    inbox: InboxWriter

    def send(self, delivery: Delivery) -> httpx.Response:
        return httpx.post(self.url + delivery.path, content=delivery.body, headers=delivery.headers, timeout=30)

    def stop(self) -> None:
        self.http.shutdown()
        self.inbox.close()


def serve(port: int, bootstrap: str, cert_path: str, **overrides: str) -> Endpoints:
    environ = {
        "TWINWEAR_KAFKA_BOOTSTRAP": bootstrap,
        "TWINWEAR_AKENEO_SECRET": AKENEO_SECRET,
        "TWINWEAR_AKENEO_EP_SECRETS": f"{EP_OLD},{EP_NEW}",
        "TWINWEAR_SHOPIFY_SECRET": SHOPIFY_SECRET,
        "TWINWEAR_SALSIFY_CERT": cert_path,
        "TWINWEAR_SALSIFY_WEBHOOK_URL": SALSIFY_URL,
        "TWINWEAR_WEBHOOK_MAX_BODY_BYTES": str(256 * 1024),
        "TWINWEAR_WEBHOOK_ACK_TIMEOUT_SECONDS": "5",
    } | overrides
    config = load_config(IngestionConfig, environ)
    inbox = InboxWriter(config.kafka_bootstrap, config.webhook_ack_timeout_seconds)
    api = webhooks_api(config, inbox)
    http = start_http_api(port, never, never, ApiTokens(None), "127.0.0.1", HttpLimits(), api)
    return Endpoints(f"http://127.0.0.1:{port}", http, inbox)


@pytest.fixture(scope="module")
def cert_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("salsify") / "salsify.pem"
    path.write_bytes(SIGNER.certificate_pem)
    return str(path)


@pytest.fixture(scope="module")
def endpoints(stack, cert_path) -> Iterator[Endpoints]:
    ensure_topics(stack.kafka_bootstrap, stack.topic_replication_factor, [PIM_INBOX])
    running = serve(HTTP_PORT, stack.kafka_bootstrap, cert_path)
    yield running
    running.stop()


@pytest.fixture
def inbox(stack) -> Iterator[Inbox]:
    reader = Inbox(stack.kafka_bootstrap)
    yield reader
    reader.close()


def now() -> int:
    return int(time.time())


def test_akeneo_batch_of_ten_events_is_ten_inbox_records(endpoints, inbox):
    events = [akeneo_product_event(identifier=f"tee-{uuid.uuid4().hex[:6]}") for _ in range(10)]
    delivery = akeneo_delivery(events, AKENEO_SECRET, now())
    response = endpoints.send(delivery)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 10
    records = inbox.read()
    for event in events:
        [record] = records[f"akeneo:{event['event_id']}"]
        assert record.event_type == "product.updated"
        assert json.loads(record.body) == event
        assert b"\\/" in record.body  # Akeneo's bytes, not a re-serialisation
        assert record.received_at_us > 0


def test_event_platform_event_signed_with_the_secondary_secret_is_accepted(endpoints, inbox):
    """Akeneo signs with a new primary secret twinwear does not know yet; the secondary matches."""
    event = cloud_event(product_uuid=str(uuid.uuid4()))
    delivery = event_platform_delivery(event, "a-newer-secret", EP_OLD)
    assert endpoints.send(delivery).status_code == 200
    [record] = inbox.read()[f"akeneo-event-platform:{event['id']}"]
    assert record.body == delivery.body and record.event_type == "com.akeneo.pim.v1.product.updated"


def test_salsify_products_are_one_record_each(endpoints, inbox):
    request_id = str(uuid.uuid4())
    products = [salsify_product(f"TEE-{request_id[:6]}-{size}") for size in ("S", "M")]
    delivery = salsify_delivery(products, SIGNER, SALSIFY_URL, now(), request_id=request_id)
    assert endpoints.send(delivery).status_code == 200
    records = inbox.read()
    for product in products:
        [record] = records[f"salsify:{request_id}:{product['salsify:id']}"]
        assert json.loads(record.body)["products"] == [product]
        assert record.headers["x-salsify-organization-id"] == delivery.headers["X-Salsify-Organization-ID"]


def test_shopify_update_keeps_ids_above_2_53_exact(endpoints, inbox):
    event_id = str(uuid.uuid4())
    delivery = shopify_delivery(shopify_product(), SHOPIFY_SECRET, event_id=event_id)
    assert endpoints.send(delivery).status_code == 200
    [record] = inbox.read()[f"shopify:{event_id}"]
    assert record.body == delivery.body
    product = json.loads(record.body)
    assert product["id"] == SHOPIFY_PRODUCT_ID and [v["id"] for v in product["variants"]] == list(SHOPIFY_VARIANT_IDS)
    assert record.headers["x-shopify-topic"] == "products/update"
    assert not any("hmac" in name for name in record.headers)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda d: d.headers.update({"X-Shopify-Hmac-Sha256": "AAAA"}), id="bad-signature"),
        pytest.param(lambda d: d.headers.pop("X-Shopify-Hmac-Sha256"), id="no-signature"),
    ],
)
def test_bad_signature_is_401_and_writes_nothing(endpoints, inbox, spoil):
    event_id = str(uuid.uuid4())
    delivery = shopify_delivery(shopify_product(), SHOPIFY_SECRET, event_id=event_id)
    spoil(delivery)
    response = endpoints.send(delivery)
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    assert f"shopify:{event_id}" not in inbox.read()


def test_stale_akeneo_timestamp_is_401_and_writes_nothing(endpoints, inbox):
    event = akeneo_product_event()
    response = endpoints.send(akeneo_delivery([event], AKENEO_SECRET, now() - 600))
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    assert f"akeneo:{event['event_id']}" not in inbox.read()


def test_oversize_body_is_413(endpoints, inbox):
    event = akeneo_product_event()
    event["data"]["resource"]["values"]["description"][0]["data"] = "x" * 300_000  # type: ignore[index]
    response = endpoints.send(akeneo_delivery([event], AKENEO_SECRET, now()))
    assert response.status_code == 413 and response.json()["field"] == "body"
    assert f"akeneo:{event['event_id']}" not in inbox.read()


def test_wrong_content_type_is_415(endpoints):
    delivery = akeneo_delivery([akeneo_product_event()], AKENEO_SECRET, now())
    delivery.headers["Content-Type"] = "text/plain"
    response = endpoints.send(delivery)
    assert response.status_code == 415 and "application/json" in response.json()["message"]


def test_malformed_envelope_is_400_with_field_errors(endpoints):
    event = akeneo_product_event()
    del event["event_id"]
    response = endpoints.send(akeneo_delivery([event], AKENEO_SECRET, now()))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "events[0].event_id", "message": "is required: a non-empty string"}]


def test_unconfigured_secret_is_503_naming_the_variable(stack, cert_path):
    unconfigured = serve(DOWN_PORT, stack.kafka_bootstrap, cert_path, TWINWEAR_SHOPIFY_SECRET="")
    try:
        response = unconfigured.send(shopify_delivery(shopify_product(), SHOPIFY_SECRET))
    finally:
        unconfigured.stop()
    assert response.status_code == 503 and "TWINWEAR_SHOPIFY_SECRET" in response.json()["message"]


def test_kafka_unreachable_is_503_and_the_redelivery_is_accepted_once(endpoints, inbox, cert_path):
    """The first server cannot reach Kafka: it answers 503 with Retry-After and writes nothing, and
    is stopped, as a crashed replica would be. The PIM's redelivery reaches a healthy one."""
    event = akeneo_product_event()
    delivery = akeneo_delivery([event], AKENEO_SECRET, now())
    cut_off = serve(DOWN_PORT, f"127.0.0.1:{NO_KAFKA_PORT}", cert_path)
    try:
        refused = cut_off.send(delivery)
    finally:
        cut_off.stop()
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"] == "kafka_unavailable"
    assert f"akeneo:{event['event_id']}" not in inbox.read()

    redelivered = endpoints.send(delivery)
    assert redelivered.status_code == 200
    assert len(inbox.read()[f"akeneo:{event['event_id']}"]) == 1


SERVICE_HTTP_PORT, SERVICE_GRPC_PORT, SERVICE_OPS_PORT = 18103, 18104, 18105


def start_ingestion(stack, cert_path: str, log_path) -> subprocess.Popen[bytes]:
    """``python -m services.ingestion`` on this helper's ports; returns once it is ready."""
    environ = os.environ | {
        "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
        "TWINWEAR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "TWINWEAR_HTTP_PORT": str(SERVICE_HTTP_PORT),
        "TWINWEAR_GRPC_PORT": str(SERVICE_GRPC_PORT),
        "TWINWEAR_OPS_PORT": str(SERVICE_OPS_PORT),
        "TWINWEAR_BIND_ADDRESS": "127.0.0.1",
        "TWINWEAR_INSTANCE_ID": f"ingest-hooks-itest-{uuid.uuid4().hex[:6]}",
        "TWINWEAR_API_TOKEN": "itest-token",
        "TWINWEAR_AKENEO_SECRET": AKENEO_SECRET,
        "TWINWEAR_SALSIFY_CERT": cert_path,
        "TWINWEAR_SALSIFY_WEBHOOK_URL": SALSIFY_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.ingestion"], cwd=ROOT, env=environ, stdout=log_path.open("ab"), stderr=STDOUT
    )
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "ingestion did not become ready"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{SERVICE_OPS_PORT}/readyz", timeout=1).status_code == 200:
                return process
        time.sleep(0.2)


def test_a_process_killed_holding_a_delivery_answers_nothing_and_the_redelivery_is_kept_once(
    stack, inbox, cert_path, tmp_path
):
    """ingestion is frozen, takes a delivery (the kernel accepts the connection and the body) and
    is killed before answering: the PIM sees no 2xx, the inbox has nothing; the restarted service
    takes the PIM's redelivery, which is on the inbox once."""
    event = akeneo_product_event()
    delivery = akeneo_delivery([event], AKENEO_SECRET, now())
    url = f"http://127.0.0.1:{SERVICE_HTTP_PORT}{delivery.path}"
    process = start_ingestion(stack, cert_path, tmp_path / "ingestion.log")
    try:
        process.send_signal(signal.SIGSTOP)
        outcome: list[object] = []

        def deliver() -> None:
            try:
                outcome.append(httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=30))
            except httpx.HTTPError as error:
                outcome.append(error)

        sender = threading.Thread(target=deliver)
        sender.start()
        time.sleep(1)  # the request is sent and waits in the frozen process's socket
        process.kill()
        process.wait()
        sender.join()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert isinstance(outcome[0], httpx.HTTPError), outcome  # no answer at all, certainly no 2xx
    assert f"akeneo:{event['event_id']}" not in inbox.read()

    restarted = start_ingestion(stack, cert_path, tmp_path / "ingestion.log")
    try:
        redelivered = httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=30)
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(60) == 0
    assert redelivered.status_code == 200
    assert len(inbox.read()[f"akeneo:{event['event_id']}"]) == 1
