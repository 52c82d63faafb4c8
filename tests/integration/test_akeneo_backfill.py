"""Akeneo's REST API through the local fake server (port 18110): the client's OAuth (password grant,
refresh before expiry, a revoked token renewed), products by uuid, product models by code, and
the backfill command loading a whole catalogue, page by page, into the inbox topic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.fake_akeneo import FakeAkeneo, product, product_model
from devkit.pim_webhooks import php_json
from services.ingestion.akeneo_rest import AkeneoClient, NotFound
from services.ingestion.backfill import EVENT_TYPE, SOURCE
from tests.integration.inbox_reader import Inbox
from twinwear.v1 import events_pb2
from twinwear_contracts.topics import PIM_INBOX
from twinwear_runtime.faults import Unavailable
from twinwear_runtime.topics import ensure_topics

pytestmark = pytest.mark.integration
AKENEO_PORT = 18110
ROOT = Path(__file__).resolve().parents[2]


def catalogue(looks: int, sizes: tuple[str, ...]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    run = uuid.uuid4().hex[:8]
    models = [product_model(f"tee-{run}-{look}") for look in range(looks)]
    products = [
        product(str(uuid.uuid4()), f"{model['code']}-{size}", str(model["code"]), size)
        for model in models
        for size in sizes
    ]
    return models, products


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def akeneo() -> Iterator[FakeAkeneo]:
    models, products = catalogue(2, ("s", "m"))
    with FakeAkeneo(AKENEO_PORT, products, models) as server:
        yield server


def test_a_product_and_its_model_by_uuid_and_code(akeneo):
    client = AkeneoClient(akeneo.settings)
    [variant, *_] = akeneo.products.values()
    assert client.get_product(str(variant["uuid"])) == variant
    assert client.get_product_model(str(variant["parent"]))["code"] == variant["parent"]
    with pytest.raises(NotFound):
        client.get_product(str(uuid.uuid4()))
    assert akeneo.grants == ["password"]  # one token for all the calls


def test_the_token_is_refreshed_before_it_expires_and_renewed_when_revoked(akeneo):
    clock = Clock()
    client = AkeneoClient(akeneo.settings, clock=clock)
    [variant, *_] = akeneo.products.values()
    client.get_product(str(variant["uuid"]))
    clock.now = 3600 - 30  # within the minute before Akeneo's hour runs out
    client.get_product(str(variant["uuid"]))
    assert akeneo.grants == ["password", "refresh_token"]
    akeneo.revoke_tokens()
    assert client.get_product(str(variant["uuid"])) == variant
    assert akeneo.grants == ["password", "refresh_token", "refresh_token"]


def test_refused_credentials_are_unavailable_not_a_crash(akeneo):
    settings = akeneo.settings
    client = AkeneoClient(type(settings)(settings.url, settings.client_id, "wrong", settings.username, "x"))
    with pytest.raises(Unavailable, match="akeneo"):
        client.get_product(str(uuid.uuid4()))


def test_akeneo_unreachable_is_unavailable():
    with FakeAkeneo(AKENEO_PORT) as stopped:
        settings = stopped.settings
    with pytest.raises(Unavailable, match="akeneo"):
        AkeneoClient(settings, timeout_seconds=2).get_product("any")


def test_backfill_command_writes_every_model_and_product_to_the_inbox(stack):
    """250 products over 3 pages, as a retailer would run it: ``python -m services.ingestion.backfill``."""
    ensure_topics(stack.kafka_bootstrap, stack.topic_replication_factor, [PIM_INBOX])
    models, products = catalogue(50, ("xs", "s", "m", "l", "xl"))
    inbox = Inbox(stack.kafka_bootstrap)
    try:
        with FakeAkeneo(AKENEO_PORT, products, models) as akeneo:
            settings = akeneo.settings
            environ = os.environ | {
                "PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}",
                "TWINWEAR_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
                "TWINWEAR_AKENEO_API_URL": settings.url,
                "TWINWEAR_AKENEO_API_CLIENT_ID": settings.client_id,
                "TWINWEAR_AKENEO_API_SECRET": settings.secret,
                "TWINWEAR_AKENEO_API_USERNAME": settings.username,
                "TWINWEAR_AKENEO_API_PASSWORD": settings.password,
            }
            done = subprocess.run(
                [sys.executable, "-m", "services.ingestion.backfill"],
                cwd=ROOT,
                env=environ,
                capture_output=True,
                text=True,
                timeout=120,
            )
            pages = [r for r in akeneo.requests if "products-uuid?" in r]
        assert done.returncode == 0, done.stderr
        assert "50 product models and 250 products" in done.stdout
        assert len(pages) == 3  # 100 + 100 + 50, following the next links
        records = inbox.read()
    finally:
        inbox.close()
    for model in models:
        [record] = records[f"{SOURCE}:product_model:{model['code']}:{model['updated']}"]
        assert json.loads(record.body) == model and record.headers["akeneo-resource"] == "product_model"
    for variant in products:
        [record] = records[f"{SOURCE}:product:{variant['uuid']}:{variant['updated']}"]
        assert isinstance(record, events_pb2.PimDelivery)
        assert record.event_type == EVENT_TYPE
        assert record.body == php_json(variant)  # the item's bytes as the API served them


def test_backfill_without_akeneo_settings_names_the_variables():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TWINWEAR_AKENEO_API")}
    environ["PYTHONPATH"] = f"{ROOT}:{ROOT / 'gen'}"
    done = subprocess.run(
        [sys.executable, "-m", "services.ingestion.backfill"], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "TWINWEAR_AKENEO_API_URL" in done.stderr and "TWINWEAR_AKENEO_API_PASSWORD" in done.stderr
