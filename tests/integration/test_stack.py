"""Checks the real local dev stack servers; needs `infra/stack.sh up kafka minio prometheus` first.

Run with: .venv/bin/python -m pytest tests/integration/test_stack.py
"""

import io
import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from minio import Minio

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KAFKA_BOOTSTRAP = "127.0.0.1:9092"
MINIO_ENDPOINT = "127.0.0.1:9000"
# Dev-only credentials of the local MinIO (see infra/minio/component.sh).
MINIO_ACCESS_KEY = "twinwear"
MINIO_SECRET_KEY = "twinwear-secret"
PROMETHEUS_URL = "http://127.0.0.1:9090"
PROMETHEUS_CONFIG = ROOT / "infra" / "prometheus" / "prometheus.yml"


def unique(prefix: str) -> str:
    """A fresh name per run, so reruns never see leftovers of an earlier one."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def get_json(path: str) -> dict:
    with urllib.request.urlopen(f"{PROMETHEUS_URL}{path}", timeout=10) as resp:
        assert resp.status == 200
        return json.load(resp)


@pytest.fixture
def kafka_topic():
    admin = KafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP, client_id="twinwear-it")
    name = unique("it-stack")
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)], wait_for_metadata=True)
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def test_kafka_produce_and_consume(kafka_topic):
    key, value = b"probe", unique("hello").encode()
    producer = KafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all")
    try:
        producer.send(kafka_topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()

    # A consumer group, like the services use: this also exercises the group coordinator and the
    # single-replica __consumer_offsets topic.
    consumer = KafkaConsumer(
        kafka_topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=unique("it-group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        received = []
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                received.extend((r.key, r.value) for r in records)
        assert received == [(key, value)]
        consumer.commit()
    finally:
        consumer.close()


def test_minio_put_and_get_object():
    client = Minio(MINIO_ENDPOINT, access_key=MINIO_ACCESS_KEY, secret_key=MINIO_SECRET_KEY, secure=False)
    bucket, name = unique("it-stack"), "probe/object.bin"
    payload = uuid.uuid4().bytes * 4096
    client.make_bucket(bucket)
    try:
        client.put_object(bucket, name, io.BytesIO(payload), len(payload), content_type="application/octet-stream")
        resp = client.get_object(bucket, name)
        try:
            assert resp.read() == payload
        finally:
            resp.close()
            resp.release_conn()
        assert client.stat_object(bucket, name).size == len(payload)
    finally:
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name)
        client.remove_bucket(bucket)


def test_prometheus_buildinfo():
    body = get_json("/api/v1/status/buildinfo")
    assert body["status"] == "success"
    assert body["data"]["version"]


def test_prometheus_loaded_our_scrape_config():
    # Targets show up a few seconds after /-/ready (the first service discovery sync), so poll.
    wanted_jobs = {"twinwear", "triton", "prometheus"}
    deadline = time.monotonic() + 30
    while True:
        targets = get_json("/api/v1/targets?state=active")["data"]["activeTargets"]
        if {t["labels"]["job"] for t in targets} >= wanted_jobs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {t["labels"]["job"] for t in targets} >= wanted_jobs
    services = {t["labels"].get("service") for t in targets if t["labels"]["job"] == "twinwear"}
    assert services == {"ingestion", "twin_builder", "render", "publisher"}


def test_promtool_check_config():
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
