"""The PIM webhooks without servers: each vendor's verification and splitting with payloads written
from its documentation, and how the endpoints answer each kind of failure (a fake inbox)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from devkit.pim_webhooks import (
    SHOPIFY_PRODUCT_ID,
    SHOPIFY_VARIANT_IDS,
    Delivery,
    SalsifySigner,
    akeneo_delivery,
    akeneo_product_event,
    cloud_event,
    event_platform_delivery,
    php_json,
    salsify_delivery,
    salsify_product,
    shopify_delivery,
    shopify_product,
)
from services.ingestion.http_api import HttpLimits, products_app
from services.ingestion.webhook_api import WebhookLimits, WebhooksApi
from services.ingestion.webhooks import InvalidDelivery, Unauthorized
from services.ingestion.webhooks.akeneo import AkeneoEventsApi
from services.ingestion.webhooks.akeneo_event_platform import AkeneoEventPlatform
from services.ingestion.webhooks.raw_json import array_elements, object_members
from services.ingestion.webhooks.salsify import SalsifyWebhooks, load_public_key
from services.ingestion.webhooks.shopify import ShopifyWebhooks
from twinwear.v1 import events_pb2
from twinwear_runtime.auth import ApiTokens
from twinwear_runtime.faults import Unavailable

NOW = 1_795_000_000
SECRET = "3ha6eonoa9icsckw8kccos084w0c0000g08g40oo4kww0gc8w4"
SIGNER = SalsifySigner.generate()
SALSIFY_URL = "https://twinwear.example.com/v1/webhooks/salsify"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verified_split(source, delivery: Delivery, now: float = NOW) -> list[events_pb2.PimDelivery]:
    headers = lower(delivery.headers)
    source.verify(headers, delivery.body, now)
    return source.split(headers, delivery.body, 7)


# -- Akeneo Events API -------------------------------------------------------------------------


def test_akeneo_documented_signature_example_verifies():
    """The PHP example of Akeneo's security page, recomputed: the same algorithm over timestamp.body."""
    body = b'{"events":[{"action": "product.created"}]}'
    signature = hmac.new(SECRET.encode(), b"1602565368." + body, hashlib.sha256).hexdigest()
    headers = {"x-akeneo-request-timestamp": "1602565368", "x-akeneo-request-signature": signature}
    AkeneoEventsApi(SECRET).verify(headers, body, 1602565368 + 10)


def test_akeneo_batch_of_ten_is_ten_records_with_each_events_bytes_unchanged():
    events = [akeneo_product_event(identifier=f"tee-{i}") for i in range(10)]
    delivery = akeneo_delivery(events, SECRET, NOW)
    assert b"\\/" in delivery.body and b"\\u00f4" in delivery.body  # PHP json_encode style
    records = verified_split(AkeneoEventsApi(SECRET), delivery)
    assert [r.event_id for r in records] == [e["event_id"] for e in events]
    assert all(r.source == "akeneo" and r.event_type == "product.updated" for r in records)
    for record, event in zip(records, events, strict=True):
        assert record.body == php_json(event)  # the event's own bytes, escapes as Akeneo wrote them
        assert json.loads(record.body) == event
        assert record.headers == {"x-akeneo-request-timestamp": str(NOW)}
        assert record.received_at_us == 7


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.headers.update({"X-Akeneo-Request-Signature": "00" * 32}), "bad_signature"),
        (lambda d: d.headers.pop("X-Akeneo-Request-Signature"), "missing_signature"),
        (lambda d: d.headers.update({"X-Akeneo-Request-Signature": "not hex"}), "malformed_signature"),
        (lambda d: d.headers.pop("X-Akeneo-Request-Timestamp"), "missing_timestamp"),
    ],
)
def test_akeneo_refuses_an_unsigned_delivery(change, reason):
    delivery = akeneo_delivery([akeneo_product_event()], SECRET, NOW)
    change(delivery)
    with pytest.raises(Unauthorized) as refused:
        verified_split(AkeneoEventsApi(SECRET), delivery)
    assert refused.value.reason == reason


def test_akeneo_refuses_a_body_changed_after_signing():
    delivery = akeneo_delivery([akeneo_product_event()], SECRET, NOW)
    tampered = Delivery(delivery.path, delivery.headers, delivery.body.replace(b"\\/", b"/"))
    with pytest.raises(Unauthorized):
        verified_split(AkeneoEventsApi(SECRET), tampered)


@pytest.mark.parametrize(("age", "accepted"), [(299, True), (-299, True), (301, False), (-301, False)])
def test_akeneo_timestamps_older_than_five_minutes_are_refused(age, accepted):
    delivery = akeneo_delivery([akeneo_product_event()], SECRET, NOW - age)
    if accepted:
        assert verified_split(AkeneoEventsApi(SECRET), delivery)
    else:
        with pytest.raises(Unauthorized, match="stale_timestamp"):
            verified_split(AkeneoEventsApi(SECRET), delivery)


def test_akeneo_malformed_events_name_each_field():
    bad = akeneo_product_event()
    del bad["event_id"]
    bad["action"] = "product.exploded"
    body = php_json({"events": [akeneo_product_event(), bad, "text"]})
    with pytest.raises(InvalidDelivery) as error:
        AkeneoEventsApi(SECRET).split({}, body, 0)
    assert {e.path for e in error.value.errors} == {"events[1].action", "events[1].event_id", "events[2]"}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"events": [', "events[0]"),
        (b"[]", "body"),
        (b'{"other": 1}', "events"),
        (b'{"events": []}', "events"),
        (b'{"events": {}}', "events"),
        (b"\xff\xfe", "body"),
        (b'{"events": [] } trailing', "body"),
    ],
)
def test_akeneo_malformed_json_or_envelope_is_a_field_error(body, path):
    with pytest.raises(InvalidDelivery) as error:
        AkeneoEventsApi(SECRET).split({}, body, 0)
    assert error.value.errors[0].path == path


def test_akeneo_more_than_ten_events_is_refused():
    body = php_json({"events": [akeneo_product_event() for _ in range(11)]})
    with pytest.raises(InvalidDelivery, match="at most 10"):
        AkeneoEventsApi(SECRET).split({}, body, 0)


def test_akeneo_product_model_and_removal_events_are_kept():
    events = [akeneo_product_event("product_model.updated"), akeneo_product_event("product.removed")]
    records = verified_split(AkeneoEventsApi(SECRET), akeneo_delivery(events, SECRET, NOW))
    assert [r.event_type for r in records] == ["product_model.updated", "product.removed"]


# -- raw JSON spans ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(st.lists(json_values, max_size=5), st.sampled_from([None, 2]), st.booleans())
def test_raw_spans_are_the_exact_bytes_of_each_element(elements, indent, php):
    body = php_json({"events": elements}) if php else json.dumps({"events": elements}, indent=indent).encode()
    spans = array_elements(object_members(body)["events"].raw, "events")
    assert [s.value for s in spans] == elements
    for span in spans:
        assert span.raw in body and json.loads(span.raw) == span.value


# -- Akeneo Event Platform ---------------------------------------------------------------------


def test_event_platform_event_goes_to_the_inbox_as_it_came():
    event = cloud_event()
    delivery = event_platform_delivery(event, "primary-secret", "secondary-secret")
    [record] = verified_split(AkeneoEventPlatform("primary-secret"), delivery)
    assert record.body == delivery.body
    assert (record.source, record.event_id, record.event_type) == (
        "akeneo-event-platform",
        event["id"],
        "com.akeneo.pim.v1.product.updated",
    )


@pytest.mark.parametrize(
    ("configured", "signed_with"),
    [
        ("old-secret,new-secret", ("new-secret", None)),  # the new primary, configured second
        ("new-secret", ("old-secret", "new-secret")),  # only the secondary matches
        (" old-secret , new-secret ", ("old-secret", "other")),
    ],
)
def test_event_platform_accepts_either_secret_during_rotation(configured, signed_with):
    delivery = event_platform_delivery(cloud_event(), *signed_with)
    assert verified_split(AkeneoEventPlatform(configured), delivery)


def test_event_platform_refuses_other_secrets_and_algorithms():
    delivery = event_platform_delivery(cloud_event(), "a", "b")
    with pytest.raises(Unauthorized, match="bad_signature"):
        verified_split(AkeneoEventPlatform("c,d"), delivery)
    delivery.headers["X-AKENEO-SIGNATURE-ALGORITHM"] = "HmacSHA1"
    with pytest.raises(Unauthorized, match="unsupported_algorithm"):
        verified_split(AkeneoEventPlatform("a"), delivery)


def test_event_platform_envelope_errors_name_the_attributes():
    event = cloud_event()
    del event["id"]
    event["specversion"] = "0.3"
    with pytest.raises(InvalidDelivery) as error:
        AkeneoEventPlatform("s").split({}, json.dumps(event).encode(), 0)
    assert {e.path for e in error.value.errors} == {"id", "specversion"}


# -- Salsify -----------------------------------------------------------------------------------


def salsify() -> SalsifyWebhooks:
    return SalsifyWebhooks(load_public_key(SIGNER.certificate_pem), SALSIFY_URL)


def test_salsify_one_record_per_product_with_its_parent():
    products = [salsify_product("TEE-RIB-RED-S"), salsify_product("TEE-RIB-RED-M"), salsify_product("X-1", "OTHER")]
    delivery = salsify_delivery(products, SIGNER, SALSIFY_URL, NOW, request_id="req-1")
    records = verified_split(salsify(), delivery)
    assert [r.event_id for r in records] == ["req-1:TEE-RIB-RED-S", "req-1:TEE-RIB-RED-M", "req-1:X-1"]
    envelope = json.loads(records[2].body)
    assert envelope["products"] == [products[2]]
    assert [p["salsify:id"] for p in envelope["parent_products"]] == ["OTHER"]
    assert envelope["alert"]["trigger_type"] == "change" and records[0].event_type == "change"
    assert records[0].headers == {
        "x-salsify-organization-id": "s-00000000-0000-0000-0000-000000000001",
        "x-salsify-request-id": "req-1",
        "x-salsify-timestamp": str(NOW),
    }


def test_salsify_single_product_keeps_the_raw_body_and_destroyed_at():
    product = salsify_product("TEE-RIB-RED-S", destroyed_at="2026-11-25T09:00:00.000Z")
    delivery = salsify_delivery([product], SIGNER, SALSIFY_URL, NOW, trigger_type="remove")
    [record] = verified_split(salsify(), delivery)
    assert record.body == delivery.body and record.event_type == "remove"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.headers.update({"X-Salsify-Organization-ID": "s-someone-else"}),
        lambda d: d.headers.update({"X-Salsify-Request-ID": "another"}),
        lambda d: d.headers.update({"X-Salsify-Signature-V1": SalsifySigner.generate().sign(b"x")}),
    ],
)
def test_salsify_signature_covers_the_headers(change):
    delivery = salsify_delivery([salsify_product("A-1")], SIGNER, SALSIFY_URL, NOW)
    change(delivery)
    with pytest.raises(Unauthorized):
        verified_split(salsify(), delivery)


def test_salsify_signature_covers_the_configured_url():
    delivery = salsify_delivery([salsify_product("A-1")], SIGNER, "https://elsewhere.example.com/hook", NOW)
    with pytest.raises(Unauthorized, match="bad_signature"):
        verified_split(salsify(), delivery)


def test_salsify_unconfigured_names_the_variable(tmp_path):
    assert "TWINWEAR_SALSIFY_CERT" in SalsifyWebhooks.from_settings("", SALSIFY_URL).not_configured
    cert = tmp_path / "salsify.pem"
    cert.write_bytes(SIGNER.certificate_pem)
    assert "TWINWEAR_SALSIFY_WEBHOOK_URL" in SalsifyWebhooks.from_settings(str(cert), "").not_configured
    assert SalsifyWebhooks.from_settings(str(cert), SALSIFY_URL).not_configured is None
    cert.write_text("not a certificate")
    assert "cannot use" in SalsifyWebhooks.from_settings(str(cert), SALSIFY_URL).not_configured


# -- Shopify -----------------------------------------------------------------------------------


def test_shopify_update_with_five_variants_keeps_big_ids_exact():
    delivery = shopify_delivery(shopify_product(), "shpss_secret", event_id="evt-1")
    [record] = verified_split(ShopifyWebhooks("shpss_secret"), delivery)
    assert record.body == delivery.body and record.event_id == "evt-1" and record.event_type == "products/update"
    product = json.loads(record.body)
    assert product["id"] == SHOPIFY_PRODUCT_ID > 2**53
    assert [v["id"] for v in product["variants"]] == list(SHOPIFY_VARIANT_IDS)
    assert str(SHOPIFY_PRODUCT_ID).encode() in record.body
    assert "x-shopify-hmac-sha256" not in record.headers
    assert record.headers["x-shopify-shop-domain"] == "wildflower.myshopify.com"


def test_shopify_falls_back_to_the_webhook_id():
    delivery = shopify_delivery(json.dumps({"id": SHOPIFY_PRODUCT_ID}), "s", topic="products/delete")
    del delivery.headers["X-Shopify-Event-Id"]
    [record] = verified_split(ShopifyWebhooks("s"), delivery)
    assert record.event_id == delivery.headers["X-Shopify-Webhook-Id"]


def test_shopify_signature_is_base64_not_hex():
    delivery = shopify_delivery(shopify_product(), "s")
    delivery.headers["X-Shopify-Hmac-Sha256"] = base64.b64decode(delivery.headers["X-Shopify-Hmac-Sha256"]).hex()
    with pytest.raises(Unauthorized):
        verified_split(ShopifyWebhooks("s"), delivery)


@pytest.mark.parametrize(
    ("body", "topic", "paths"),
    [
        ('{"id": 7.88e17}', "products/update", {"id"}),
        ('{"title": "no id"}', "orders/create", {"id", "headers.X-Shopify-Topic"}),
    ],
)
def test_shopify_field_errors(body, topic, paths):
    delivery = shopify_delivery(body, "s", topic=topic)
    with pytest.raises(InvalidDelivery) as error:
        verified_split(ShopifyWebhooks("s"), delivery)
    assert {e.path for e in error.value.errors} == paths


# -- the endpoints -----------------------------------------------------------------------------


class FakeInbox:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.written: list[events_pb2.PimDelivery] = []

    async def write(self, deliveries: Sequence[events_pb2.PimDelivery]) -> None:
        if self.error:
            raise self.error
        self.written.extend(deliveries)


def send(delivery: Delivery, inbox: FakeInbox | None = None, limits: WebhookLimits | None = None, **configured):
    settings = {"akeneo": SECRET, "ep": "primary", "shopify": "s"} | configured
    sources = [
        AkeneoEventsApi(settings["akeneo"]),
        AkeneoEventPlatform(settings["ep"]),
        salsify(),
        ShopifyWebhooks(settings["shopify"]),
    ]
    api = WebhooksApi(sources, inbox or FakeInbox(), limits, clock=lambda: NOW)

    async def post() -> httpx.Response:
        app = products_app(lambda _: None, lambda *_: None, ApiTokens("t"), HttpLimits(), api)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(delivery.path, content=delivery.body, headers=delivery.headers)

    return asyncio.run(post())


def test_endpoint_answers_200_once_written():
    inbox = FakeInbox()
    events = [akeneo_product_event() for _ in range(3)]
    response = send(akeneo_delivery(events, SECRET, NOW), inbox)
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "event_ids": [e["event_id"] for e in events]}
    assert [d.event_id for d in inbox.written] == [e["event_id"] for e in events]


@pytest.mark.parametrize(
    ("configured", "variable"),
    [({"akeneo": ""}, "TWINWEAR_AKENEO_SECRET"), ({"shopify": None}, "TWINWEAR_SHOPIFY_SECRET")],
)
def test_unconfigured_secret_is_503_naming_the_variable(configured, variable):
    delivery = (
        akeneo_delivery([akeneo_product_event()], SECRET, NOW)
        if "akeneo" in configured
        else shopify_delivery(shopify_product(), "s")
    )
    response = send(delivery, **configured)
    assert response.status_code == 503
    assert variable in response.json()["message"]


def test_bad_signature_is_a_bare_401():
    delivery = shopify_delivery(shopify_product(), "wrong")
    inbox = FakeInbox()
    response = send(delivery, inbox)
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    assert not inbox.written


def test_stale_timestamp_is_the_same_bare_401():
    response = send(akeneo_delivery([akeneo_product_event()], SECRET, NOW - 3600))
    assert response.status_code == 401 and response.json() == {"error": "unauthorized"}


def test_wrong_content_type_is_415():
    delivery = akeneo_delivery([akeneo_product_event()], SECRET, NOW)
    delivery.headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = send(delivery)
    assert response.status_code == 415 and "application/json" in response.json()["message"]


def test_event_platform_accepts_the_cloudevents_media_type():
    delivery = event_platform_delivery(cloud_event(), "primary")
    delivery.headers["Content-Type"] = "application/cloudevents+json; charset=utf-8"
    assert send(delivery).status_code == 200


def test_oversize_body_is_413():
    delivery = akeneo_delivery([akeneo_product_event() for _ in range(10)], SECRET, NOW)
    response = send(delivery, limits=WebhookLimits(max_body_bytes=1000))
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_oversize_event_is_413_naming_it():
    event = akeneo_product_event()
    response = send(akeneo_delivery([event], SECRET, NOW), limits=WebhookLimits(max_event_bytes=100))
    assert response.status_code == 413 and event["event_id"] in response.json()["message"]


def test_malformed_envelope_is_400_with_field_errors():
    delivery = shopify_delivery('{"title": "no id"}', "s")
    response = send(delivery)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "id", "message": "is required: the product id, an integer"}]


def test_kafka_down_is_503_with_retry_after():
    response = send(shopify_delivery(shopify_product(), "s"), FakeInbox(Unavailable("kafka", "down")))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert response.json()["error"] == "kafka_unavailable"


def test_a_bug_is_500():
    response = send(shopify_delivery(shopify_product(), "s"), FakeInbox(RuntimeError("bug")))
    assert response.status_code == 500


def test_past_the_in_flight_bound_is_429_with_retry_after():
    response = send(shopify_delivery(shopify_product(), "s"), limits=WebhookLimits(max_in_flight=0))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def rejections(source: str, reason: str) -> float:
    return REGISTRY.get_sample_value("twinwear_webhook_rejections_total", {"source": source, "reason": reason}) or 0.0


@pytest.mark.parametrize(
    ("delivery", "source", "reason"),
    [
        (lambda: shopify_delivery(shopify_product(), "wrong"), "shopify", "bad_signature"),
        (lambda: akeneo_delivery([akeneo_product_event()], SECRET, NOW - 3600), "akeneo", "stale_timestamp"),
        (lambda: shopify_delivery('{"title": "no id"}', "s"), "shopify", "invalid_delivery"),
    ],
)
def test_each_refusal_is_counted_by_source_and_reason(delivery, source, reason):
    before = rejections(source, reason)
    send(delivery())
    assert rejections(source, reason) == before + 1
