"""Chaos: products keep flowing through the four services while, in turn, render is killed twice,
the publisher is killed, Kafka restarts, Triton is killed and restarted, and MinIO stops for 30 s.
Afterwards the feed and the published bucket hold exactly the expected assets: none missing, none
duplicated, nothing dead-lettered.

It restarts the shared local servers, so it runs alone (pytest runs tests one after another) and
leaves every server up and healthy when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devkit.catalogue import load_catalogue
from devkit.ingest_client import post_product
from devkit.local_services import ROOT, RunningServices, services_running, skip_backlog
from devkit.pipeline_watch import PipelineWatch
from devkit.topic_reader import TopicReader
from twinwear_contracts.buckets import PUBLISHED_BUCKET
from twinwear_contracts.topics import asset_slot
from twinwear_runtime.topics import DEAD_LETTER, PARKING

pytestmark = pytest.mark.chaos

# Each product is planned onto about five twins (the campaign policy): 40 renders in all.
PRODUCTS = 8
STACK = [str(ROOT / "infra" / "stack.sh")]
RUN_DIR = Path(os.environ.get("TWINWEAR_STACK_DIR", ROOT / ".stack")) / "run"


def stack_sh(command: str, component: str) -> None:
    subprocess.run([*STACK, command, component], check=True, capture_output=True, timeout=300)


def kill_server(component: str) -> None:
    """kill -9 a stack server (its pid file stays, stale, as after a crash)."""
    pid = int((RUN_DIR / f"{component}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


class Feeder:
    """Posts the products one by one, as a PIM would, retrying each until ingestion accepts it.
    Each carries its own product_version, so a retry is the same version, never a new one."""

    def __init__(self, bodies: list[dict[str, object]], interval: float) -> None:
        self._bodies = bodies
        self._interval = interval
        self.accepted: list[str] = []
        self.refusals: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"only {len(self.accepted)} of {len(self._bodies)} products accepted"

    def _run(self) -> None:
        for body in self._bodies:
            while True:
                try:
                    response = post_product(body)
                except OSError as error:  # connection refused or reset while a server restarts
                    self.refusals[type(error).__name__] += 1
                else:
                    if response.status in (200, 202):
                        self.accepted.append(str(body["sku"]))
                        break
                    assert response.status == 503, f"ingestion answered {response.status}: {response.body}"
                    self.refusals["503"] += 1
                time.sleep(1)
            time.sleep(self._interval)


def faults(services: RunningServices) -> Iterator[tuple[str, Callable[[], None]]]:
    def kill_and_restart(name: str) -> Callable[[], None]:
        def act() -> None:
            services.kill(name)
            time.sleep(2)
            services.restart(name)

        return act

    def restart_kafka() -> None:
        stack_sh("down", "kafka")
        time.sleep(3)
        stack_sh("up", "kafka")

    def kill_and_restart_triton() -> None:
        kill_server("triton")
        time.sleep(3)
        stack_sh("up", "triton")

    def stop_minio() -> None:
        stack_sh("down", "minio")
        time.sleep(30)
        stack_sh("up", "minio")

    yield "kill -9 render", kill_and_restart("render")
    yield "kill -9 render again", kill_and_restart("render")
    yield "kill -9 publisher", kill_and_restart("publisher")
    yield "restart Kafka", restart_kafka
    yield "kill -9 Triton and restart it", kill_and_restart_triton
    yield "stop MinIO for 30 s", stop_minio


@pytest.mark.timeout(1200)
def test_nothing_is_lost_or_duplicated_through_crashes_and_outages(stack, store):
    run = uuid.uuid4().hex[:6]
    catalogue = load_catalogue()
    base_version = time.time_ns() // 1000
    products = [replace(catalogue[i % len(catalogue)], sku=f"CHAOS-{run}-{i:03d}") for i in range(PRODUCTS)]
    bodies = [{**p.request_body(), "product_version": base_version + i} for i, p in enumerate(products)]
    skus = {p.sku for p in products}
    dead_letters, parked = TopicReader(DEAD_LETTER.name), TopicReader(PARKING.name)
    try:
        skip_backlog()
        with services_running() as services:
            watch = PipelineWatch(skus)
            feeder = Feeder(bodies, interval=1.5)
            feeder.start()
            for name, act in faults(services):
                time.sleep(4)  # let some work flow between faults
                print(f"chaos: {name}")
                act()
            feeder.join(timeout=300)
            # Every planned render published (or failed), and anything still in flight shows up.
            outcome = watch.wait(timeout=600, quiet=20)
            watch.close()
        failed = [r for reader in (dead_letters, parked) for r in reader.records(timeout=5) if _from(r, skus)]
    finally:
        for reader in (dead_letters, parked):
            reader.close()
        for component in ("kafka", "minio", "triton"):
            stack_sh("up", component)

    expected_slots = {asset_slot(r.look_id, r.twin.twin_id, r.pose) for r in outcome.planned.values()}
    published = outcome.published
    assert {r.look_id for r in outcome.planned.values()} == skus, "a product was never planned"
    assert not outcome.failed, f"renders failed: {[f.reason for f in outcome.failed.values()][:3]}"
    missing = expected_slots - set(published)
    doubled = {slot: n for slot, n in published.items() if n > 1}
    assert not missing, f"{len(missing)} assets never published, e.g. {sorted(missing)[:3]}"
    assert not doubled, f"assets published more than once: {doubled}"
    assert not failed, f"{len(failed)} messages dead-lettered or parked: {[dict(r.headers) for r in failed[:3]]}"
    unstored = [
        a.asset_id for a in outcome.assets.values() if not store.list_keys(PUBLISHED_BUCKET, f"assets/{a.asset_id}/")
    ]
    assert not unstored, f"published assets without files in {PUBLISHED_BUCKET}: {unstored[:3]}"
    print(f"chaos: {len(published)} assets, ingestion refusals while servers were down: {dict(feeder.refusals)}")


def _from(record: object, skus: set[str]) -> bool:
    key = getattr(record, "key", None) or b""
    return key.decode(errors="replace") in skus
